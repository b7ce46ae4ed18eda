"""``coops run|runs|logs --server URL``: the same commands through a real ``coops server``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from tests.server.conftest import ServerProcess

from containerops.store import Store
from containerops.store.accounts import create_token, create_user

COOPS = [sys.executable, "-m", "containerops.cli.main"]


def waiting_flow(tmp_path: Path, go_on: Path, *, exit_code: int = 0) -> Path:
    """A local job that prints 'first', waits for the file ``go_on``, prints 'second'."""
    script = (
        "import os, sys, time\n"
        "print('first', flush=True)\n"
        "deadline = time.monotonic() + 60\n"
        f"while not os.path.exists({str(go_on)!r}) and time.monotonic() < deadline:\n"
        "    time.sleep(0.02)\n"
        "print('second', flush=True)\n"
        f"sys.exit({exit_code})\n"
    )
    doc = {
        "uri": "demo/remote/ci",
        "stages": [
            {"type": "start", "name": "start"},
            {
                "type": "normal",
                "name": "build",
                "actions": [
                    {"name": "unit", "jobs": [{"name": "wait", "command": [sys.executable, "-c", script]}]}
                ],
            },
            {"type": "end", "name": "end"},
        ],
    }
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


Remote = tuple[ServerProcess, dict[str, str]]


@pytest.fixture
def remote(store: Store, server_process: Callable[..., ServerProcess]) -> Remote:
    create_user(store, "root", admin=True)
    token = create_token(store, "root", "admin")
    process = server_process("local")
    # The client has no store of its own: another COOPS_HOME proves nothing is read locally.
    env = {**os.environ, "COOPS_TOKEN": token, "COOPS_HOME": str(process.home.parent / "client-home")}
    return process, env


def coops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COOPS, *args], env=env, capture_output=True, text=True, timeout=120)


def test_coops_run_server_follows_the_logs_live(remote: Remote, tmp_path: Path) -> None:
    process, env = remote
    go_on = tmp_path / "go-on"
    flow = waiting_flow(tmp_path, go_on)
    run = subprocess.Popen(
        [*COOPS, "run", str(flow), "--server", process.url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert run.stdout is not None
    first = run.stdout.readline()  # comes while the job still waits: followed live
    assert first == "[build.unit.wait] first\n"
    assert run.poll() is None
    go_on.touch()
    rest, stderr = run.communicate(timeout=60)
    assert run.returncode == 0, stderr
    assert rest.startswith("[build.unit.wait] second\n")
    assert "demo/remote/ci #1" in rest and "success" in rest
    assert f"demo/remote/ci #1 (run 1 on {process.url})" in stderr


def test_coops_run_server_exit_codes_and_json(remote: Remote, tmp_path: Path) -> None:
    process, env = remote
    go_on = tmp_path / "go-on"
    go_on.touch()
    failing = coops(
        env, "run", str(waiting_flow(tmp_path, go_on, exit_code=3)), "--server", process.url, "--json"
    )
    assert failing.returncode == 1, failing.stderr
    document = json.loads(failing.stdout)
    assert document["status"] == "failure" and document["jobs"][0]["exit_code"] == 3
    assert "[build.unit.wait] first" in failing.stderr  # with --json the lines go to stderr

    invalid = tmp_path / "bad.yaml"
    invalid.write_text(
        "uri: demo/bad/ci\nstages:\n"
        "  - {type: normal, name: x, actions: [{name: a, jobs: [{name: j, timeout: soon}]}]}\n"
    )
    answer = coops(env, "run", str(invalid), "--server", process.url)
    assert answer.returncode == 2
    assert f"{invalid}:3:" in answer.stderr and "nothing was started" in answer.stderr

    refused = coops({**env, "COOPS_TOKEN": "coops_nope_nope"}, "run", str(invalid), "--server", process.url)
    assert refused.returncode == 2 and "token refused" in refused.stderr
    unreachable = coops(env, "runs", "list", "--server", "http://127.0.0.1:1")
    assert unreachable.returncode == 2 and "cannot reach the server" in unreachable.stderr
    assert "give the server's URL" in coops(env, "runs", "list", "--server", "localhost:1").stderr


def test_coops_runs_and_logs_server(remote: Remote, tmp_path: Path) -> None:
    process, env = remote
    go_on = tmp_path / "go-on"
    go_on.touch()
    assert coops(env, "run", str(waiting_flow(tmp_path, go_on)), "--server", process.url).returncode == 0

    listed = coops(env, "runs", "list", "--server", process.url, "--json")
    assert [(r["id"], r["status"]) for r in json.loads(listed.stdout)] == [(1, "success")]
    table = coops(env, "runs", "list", "--server", process.url)
    assert "demo/remote/ci" in table.stdout and "success" in table.stdout

    shown = json.loads(
        coops(env, "runs", "show", "demo/remote/ci#1", "--server", process.url, "--json").stdout
    )
    assert shown["id"] == 1 and shown["jobs"][0]["path"] == "build.unit.wait"
    detail = coops(env, "runs", "show", "1", "--server", process.url).stdout
    assert "build.unit.wait" in detail
    source = coops(env, "runs", "show", "1", "--server", process.url, "--flow").stdout
    assert yaml.safe_load(source)["uri"] == "demo/remote/ci"

    logs = coops(env, "logs", "1", "--server", process.url)
    assert logs.stdout == "[build.unit.wait] first\n[build.unit.wait] second\n"
    followed = coops(
        env, "logs", "demo/remote/ci#1", "--server", process.url, "-f", "--job", "build.unit.wait"
    )
    assert followed.stdout == "first\nsecond\n"
    grepped = coops(env, "logs", "1", "--server", process.url, "--grep", "^sec", "-C", "1")
    assert grepped.stdout == "[build.unit.wait] first\n[build.unit.wait] second\n"
    assert coops(env, "logs", "1", "--server", process.url, "-g", "^f").stdout == "[build.unit.wait] first\n"
    refused = coops(env, "logs", "1", "--server", process.url, "-g", "(")
    assert refused.returncode == 2 and "missing )" in refused.stderr
    saved = tmp_path / "saved.log"
    assert coops(env, "logs", "1", "--server", process.url, "--download", str(saved)).returncode == 0
    assert saved.read_text() == logs.stdout
    missing = coops(env, "logs", "7", "--server", process.url)
    assert missing.returncode == 2 and "no run with id 7" in missing.stderr
    unknown = coops(env, "runs", "show", "demo/remote/ci#9", "--server", process.url)
    assert unknown.returncode == 2 and "no run demo/remote/ci#9" in unknown.stderr


def test_coops_runs_approve_and_reject_server(remote: Remote, tmp_path: Path) -> None:
    """The decision goes through the API (the client has no store) and names the token's user."""
    process, env = remote
    doc = {
        "uri": "demo/remote/gate",
        "stages": [
            {"type": "start", "name": "start"},
            {"type": "pause", "name": "approve"},
            {
                "type": "normal",
                "name": "ship",
                "actions": [{"name": "it", "jobs": [{"name": "go", "command": ["true"]}]}],
            },
            {"type": "end", "name": "end"},
        ],
    }
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    runs = []
    for _ in range(2):
        runs.append(
            subprocess.Popen(
                [*COOPS, "run", str(path), "--server", process.url],
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = json.loads(coops(env, "runs", "list", "--server", process.url, "--json").stdout)
            if [r["status"] for r in listed].count("paused") == len(runs):
                break
            time.sleep(0.2)
    approved = coops(
        env, "runs", "approve", "demo/remote/gate#1", "-m", "ok", "--server", process.url, "--json"
    )
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["pause"]["decided_by"] == "root"
    rejected = coops(env, "runs", "reject", "2", "--server", process.url)
    assert rejected.returncode == 0 and "rejected by root" in rejected.stderr
    assert runs[0].wait(timeout=60) == 0
    assert runs[1].wait(timeout=60) == 1
    again = coops(env, "runs", "approve", "1", "--server", process.url)
    assert again.returncode == 2 and "not paused" in again.stderr
    local_only = coops(env, "runs", "approve", "1", "--by", "x", "--server", process.url)
    assert local_only.returncode == 2 and "--by" in local_only.stderr
