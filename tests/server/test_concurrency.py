"""``concurrency:`` between a ``coops server`` process and ``coops run`` processes on the
same store: a CLI run cancels the server's older run of its group (the server's engine
reads the request; its exit handler runs), and a server run waits behind a CLI run,
shown pending with what it waits for in the API."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.cli.test_cli import COOPS, coops, write
from tests.cli.test_concurrency import ended, flow_text, start
from tests.server.conftest import ServerProcess
from tests.server.flows import wait_for_run
from tests.waiting import wait_for

URI = "test/conc/deploy"


def job_status(api: httpx.Client, run_id: int, name: str) -> str | None:
    answer = api.get(f"/api/v1/runs/{run_id}")
    if answer.status_code != 200:
        return None
    return next(j["status"] for j in answer.json()["jobs"] if j["path"] == f"main.a.{name}")


@pytest.fixture
def api(server_process: Callable[..., ServerProcess], admin_token: str) -> Iterator[httpx.Client]:
    """A ``coops server`` process with the local executor, and a client of it as root."""
    server = server_process("local")
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        yield client


def reason(api: httpx.Client, run_id: int) -> str | None:
    """The run's reason, None also while it does not exist yet."""
    found: str | None = api.get(f"/api/v1/runs/{run_id}").json().get("reason")
    return found


def started_after(later: dict[str, Any], earlier: dict[str, Any]) -> bool:
    ended_at = datetime.fromisoformat(earlier["finished_at"])
    return all(datetime.fromisoformat(j["started_at"]) >= ended_at for j in later["jobs"])


def test_a_server_run_and_cli_runs_share_a_group(
    tmp_path: Path, coops_home: Path, api: httpx.Client, admin_token: str
) -> None:
    token = admin_token
    # the server's run holds the group; a newer CLI run cancels it
    assert api.post("/api/v1/flows", content=flow_text(cancel=True)).status_code in (200, 201)
    first = api.post("/api/v1/runs", json={"flow": URI}).json()["id"]
    wait_for(lambda: job_status(api, first, "work") == "running", "the server's run to start its job")
    cancelling = start(coops_home, write(tmp_path, flow_text(cancel=True), "cancel.yaml"), "MODE=quick")
    code, out = ended(cancelling)
    assert code == 0, out
    one = wait_for_run(api, first)
    assert one["status"] == "cancelled"
    assert one["reason"] == "cancelled by run 2 (concurrency group deploy-main)"
    assert [j["status"] for j in one["jobs"]] == ["cancelled", "success"]  # its exit handler ran
    two = wait_for_run(api, 2)
    assert two["status"] == "success" and started_after(two, one)

    # a CLI run holds the group; a newer server run waits for it
    release = tmp_path / "release"
    queue = write(tmp_path, flow_text(cancel=False), "queue.yaml")
    holding = start(coops_home, queue, f"RELEASE={release}")
    wait_for(lambda: job_status(api, 3, "work") == "running", "the CLI's run to start its job")
    env = {**os.environ, "COOPS_HOME": str(coops_home), "COOPS_TOKEN": token, "COLUMNS": "200"}
    remote = subprocess.Popen(  # coops run --server: the server runs it, this process follows it
        [*COOPS, "run", str(queue), "--server", str(api.base_url), "--set", "MODE=quick"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    waiting = 4
    wait_for(lambda: reason(api, waiting) is not None, "a reason to wait")
    shown = api.get(f"/api/v1/runs/{waiting}").json()
    assert (shown["status"], shown["reason"]) == ("pending", "waiting for run 3 of group deploy-main")
    assert {j["status"] for j in shown["jobs"]} == {"pending"}

    release.touch()
    (code, out), (remote_code, remote_out) = ended(holding), ended(remote)
    assert (code, remote_code) == (0, 0), out + remote_out
    assert "⧗ run 4 is waiting for run 3 of group deploy-main" in remote_out  # the stream said it
    three, four = wait_for_run(api, 3), wait_for_run(api, waiting)
    assert (three["status"], four["status"]) == ("success", "success")
    assert started_after(four, three)


def test_the_api_cancels_a_cli_run_and_the_cli_cancels_a_server_run(
    tmp_path: Path, coops_home: Path, api: httpx.Client
) -> None:
    # a coops run's run, cancelled through the server's API: the request goes through the store
    cli = start(coops_home, write(tmp_path, flow_text(cancel=False)))
    wait_for(lambda: job_status(api, 1, "work") == "running", "the CLI's run to start its job")
    answer = api.post("/api/v1/runs/1/cancel")
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"id": 1, "status": "cancelled"}
    code, out = ended(cli)
    assert code == 130, out
    one = api.get("/api/v1/runs/1").json()
    assert one["reason"] == "cancelled by root"
    assert [j["status"] for j in one["jobs"]] == ["cancelled", "success"]

    # the server's run, cancelled by coops runs cancel without --server
    second = api.post("/api/v1/runs", json={"flow": URI}).json()["id"]
    wait_for(lambda: job_status(api, second, "work") == "running", "the server's run to start its job")
    cancelled = coops("runs", "cancel", str(second), home=coops_home, check=0)
    assert f"run {second}: cancelled" in cancelled.stderr
    two = wait_for_run(api, second)
    assert two["status"] == "cancelled" and two["reason"].endswith("(coops runs cancel)"), two["reason"]
    assert [j["status"] for j in two["jobs"]] == ["cancelled", "success"]


def test_a_run_queued_in_a_busy_server_is_cancelled_without_waiting_for_a_slot(
    tmp_path: Path, coops_home: Path, server_process: Callable[..., ServerProcess], admin_token: str
) -> None:
    server = server_process("local", "--max-runs", "1")
    release = tmp_path / "release"
    busy = f"""\
uri: test/conc/busy
stages:
  - name: s
    actions:
      - name: a
        jobs:
          - {{name: j, command: [sh, -c, 'until [ -e "{release}" ]; do sleep 0.05; done']}}
"""
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as api:
        for text in (busy, flow_text(cancel=True)):
            assert api.post("/api/v1/flows", content=text).status_code in (200, 201)
        holding = api.post("/api/v1/runs", json={"flow": "test/conc/busy"}).json()["id"]
        wait_for(
            lambda: api.get(f"/api/v1/runs/{holding}").json()["status"] == "running", "the only slot taken"
        )
        queued = api.post("/api/v1/runs", json={"flow": URI}).json()["id"]

        newer = start(coops_home, write(tmp_path, flow_text(cancel=True)), "MODE=quick")
        code, out = ended(newer)

        assert code == 0, out
        shown = api.get(f"/api/v1/runs/{queued}").json()
        assert (shown["status"], shown["reason"]) == (
            "cancelled",
            f"cancelled by run {queued + 1} (concurrency group deploy-main)",
        )
        assert {j["status"] for j in shown["jobs"]} == {"skipped"}
        assert api.get(f"/api/v1/runs/{holding}").json()["status"] == "running"  # the slot is still taken
        release.touch()
        assert wait_for_run(api, holding)["status"] == "success"


def test_a_run_waiting_for_its_group_takes_no_server_slot(
    tmp_path: Path, coops_home: Path, server_process: Callable[..., ServerProcess], admin_token: str
) -> None:
    server = server_process("local", "--max-runs", "1")
    release = tmp_path / "release"
    other = (
        "uri: test/conc/other\nstages:\n  - {name: s, actions: [{name: a, jobs: [{name: j, command: ls}]}]}\n"
    )
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as api:
        for text in (other, flow_text(cancel=False)):
            assert api.post("/api/v1/flows", content=text).status_code in (200, 201)
        holding = start(coops_home, write(tmp_path, flow_text(cancel=False)), f"RELEASE={release}")
        wait_for(lambda: job_status(api, 1, "work") == "running", "the CLI's run to start its job")
        waiting = api.post("/api/v1/runs", json={"flow": URI, "set": {"MODE": "quick"}}).json()["id"]
        wait_for(lambda: reason(api, waiting) is not None, "a reason to wait")

        # the server's only slot is free for a run of another flow meanwhile
        free = api.post("/api/v1/runs", json={"flow": "test/conc/other"}).json()["id"]
        assert wait_for_run(api, free)["status"] == "success"
        assert api.get(f"/api/v1/runs/{waiting}").json()["status"] == "pending"

        release.touch()
        code, out = ended(holding)
        assert code == 0, out
        assert wait_for_run(api, waiting)["status"] == "success"
