"""``coops run`` with a pause stage, decided by ``coops runs approve|reject`` from another process."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.cli.test_cli import COOPS, coops, write

PAUSED_FLOW = """\
uri: test/cli/pause
stages:
  - name: build
    actions:
      - name: a
        jobs:
          - {name: x, outputs: [V], command: ["sh", "-c", "echo '[COUT] V = 7'"]}
  - {type: pause, name: approve, timeout: 2m}
  - name: ship
    actions:
      - name: b
        jobs:
          - name: y
            command: ["sh", "-c", "echo shipping $V"]
            subscriptions:
              - "build.a.x[V]": V
"""


def start_run(tmp_path: Path) -> subprocess.Popen[str]:
    flow = write(tmp_path, PAUSED_FLOW)
    env = {**os.environ, "COOPS_HOME": str(tmp_path), "COLUMNS": "200"}
    return subprocess.Popen(
        [*COOPS, "run", str(flow), "--executor", "local"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until_paused(tmp_path: Path, process: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        listed = json.loads(coops("runs", "list", "--json", home=tmp_path, check=0).stdout)
        if listed and listed[0]["status"] == "paused":
            return int(listed[0]["id"])
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"the run never paused: {process.communicate()[0]}")


def test_a_local_run_waits_at_a_pause_until_another_process_approves(tmp_path: Path) -> None:
    process = start_run(tmp_path)
    run_id = wait_until_paused(tmp_path, process)
    decided = coops(
        "runs", "approve", str(run_id), "--comment", "go", "--by", "alice", "--json", home=tmp_path
    )
    assert decided.returncode == 0, decided.stderr
    assert json.loads(decided.stdout)["pause"]["decided_by"] == "alice"
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert f"coops runs approve {run_id}" in output  # it said how to decide while it waited
    shown = json.loads(coops("runs", "show", str(run_id), "--json", home=tmp_path, check=0).stdout)
    assert shown["status"] == "success"
    assert ("running", "stage approve approved by alice: go") in [
        (h["status"], h["reason"]) for h in shown["history"] if h["job"] is None
    ]
    logs = coops("logs", str(run_id), "--job", "ship.b.y", home=tmp_path, check=0).stdout
    assert logs.strip() == "shipping 7"
    again = coops("runs", "reject", str(run_id), home=tmp_path, check=2)
    assert f"cannot reject run {run_id}: it is success, not paused" in again.stderr


def test_a_rejection_from_another_process_fails_the_local_run(tmp_path: Path) -> None:
    process = start_run(tmp_path)
    run_id = wait_until_paused(tmp_path, process)
    coops("runs", "reject", str(run_id), "-m", "not today", "--by", "bob", home=tmp_path, check=0)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 1, output
    shown = json.loads(coops("runs", "show", str(run_id), "--json", home=tmp_path, check=0).stdout)
    assert shown["reason"] == "stage approve rejected by bob: not today"
    assert [j["status"] for j in shown["jobs"]] == ["success", "skipped"]


def test_deciding_an_unknown_run_is_refused(tmp_path: Path) -> None:
    result = coops("runs", "approve", "77", home=tmp_path, check=2)
    assert "no run 77" in result.stderr
