"""A run whose process is killed with -9 is not left `running` forever, and nothing it
started runs on unowned: the next coops command that sees the owner gone stops what the
run left and settles it; `coops cleanup` touches only what no live process owns;
`coops runs cancel` stops a run from another terminal."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import docker
import pytest

from containerops.executors.local import RUN_ENV
from containerops.store import Store
from tests.cli.test_cli import BUSYBOX, COOPS, coops, write
from tests.waiting import wait_for


def flow_text(job: str, executor_keys: str = "") -> str:
    return (
        "uri: test/cli/abandon\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n"
        f"          - {{name: long, {executor_keys}command: [sh, -c, '{job}']}}\n"
    )


def start(tmp_path: Path, text: str, *extra: str) -> subprocess.Popen[bytes]:
    flow = write(tmp_path, text)
    env = {**os.environ, "COOPS_HOME": str(tmp_path / "home")}
    return subprocess.Popen(
        [*COOPS, "run", str(flow), *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stored_lines(home: Path) -> list[str]:
    if not (home / "containerops.db").exists():
        return []
    store = Store.open(f"sqlite:///{home / 'containerops.db'}")
    try:
        return [row.line for row in store.log_lines(1)] if store.list_runs() else []
    finally:
        store.close()


def the_run(home: Path) -> dict[str, object]:
    store = Store.open(f"sqlite:///{home / 'containerops.db'}")
    try:
        run = store.get_run(1)
        return {"uid": run.uid, "status": run.status, "reason": run.reason, "job": run.jobs[0]}
    finally:
        store.close()


def processes_of(run_uid: str) -> list[int]:
    marker = f"{RUN_ENV}={run_uid}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker in Path(f"/proc/{entry}/environ").read_bytes():
                    found.append(int(entry))
            except OSError:
                continue
    return found


def test_a_killed_local_run_is_settled_by_logs_follow_and_its_processes_stopped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner = start(tmp_path, flow_text("echo before-kill; sleep 300"), "--executor", "local")
    wait_for(lambda: "before-kill" in stored_lines(home), "the job's first line in the store")
    uid = str(the_run(home)["uid"])
    assert processes_of(uid), "the job's process runs"
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(10)
    assert the_run(home)["status"] == "running"  # nobody settled it yet
    assert processes_of(uid), "a killed coops run leaves its job running, until someone settles it"

    followed = coops("logs", "1", "-f", home=home, check=0)  # ends (within the helper's timeout)

    assert "before-kill" in followed.stdout
    run = the_run(home)
    assert run["status"] == "failure" and str(run["reason"]).startswith("abandoned:")
    job = run["job"]
    assert job.status == "failure" and job.attempts == 1, job  # type: ignore[attr-defined]
    wait_for(lambda: not processes_of(uid), "the job's processes to be gone", 10)


@pytest.mark.docker
def test_cleanup_settles_a_killed_docker_run_and_removes_its_container(
    tmp_path: Path, docker_ready: None
) -> None:
    home = tmp_path / "home"
    client = docker.from_env()
    runner = start(
        tmp_path, flow_text("echo before-kill; sleep 300", f"endpoint: '{BUSYBOX}', "), "--network", "host"
    )
    wait_for(lambda: "before-kill" in stored_lines(home), "the job's first line in the store")
    uid = str(the_run(home)["uid"])
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(10)
    left = client.containers.list(filters={"label": f"containerops.run={uid}"})
    assert len(left) == 1 and left[0].status == "running"

    cleaned = coops("cleanup", home=home, check=0)

    assert "settled 1 abandoned run: 1" in cleaned.stderr, cleaned.stderr
    assert client.containers.list(all=True, filters={"label": f"containerops.run={uid}"}) == []
    assert client.volumes.list(filters={"label": f"containerops.run={uid}"}) == []
    run = the_run(home)
    assert run["status"] == "failure" and str(run["reason"]).startswith("abandoned:")


@pytest.mark.docker
def test_cleanup_leaves_a_live_runs_container_alone(tmp_path: Path, docker_ready: None) -> None:
    home = tmp_path / "home"
    client = docker.from_env()
    runner = start(
        tmp_path,
        flow_text("echo started; sleep 4; echo done", f"endpoint: '{BUSYBOX}', "),
        "--network",
        "host",
    )
    wait_for(lambda: "started" in stored_lines(home), "the job to start")

    cleaned = coops("cleanup", home=home, check=0)

    assert "removed 0 containers" in cleaned.stderr and "settled" not in cleaned.stderr, cleaned.stderr
    assert runner.wait(60) == 0
    assert the_run(home)["status"] == "success"
    assert stored_lines(home) == ["started", "done"]
    assert (
        client.containers.list(all=True, filters={"label": f"containerops.run={the_run(home)['uid']}"}) == []
    )


def test_runs_cancel_stops_a_run_of_another_terminal(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner = start(tmp_path, flow_text("echo started; sleep 300"), "--executor", "local")
    wait_for(lambda: "started" in stored_lines(home), "the job to start")
    uid = str(the_run(home)["uid"])

    cancelled = coops("runs", "cancel", "1", home=home, check=0)

    assert "run 1: cancelled" in cancelled.stderr
    assert runner.wait(30) == 130
    assert the_run(home)["status"] == "cancelled"
    assert processes_of(uid) == []
    again = coops("runs", "cancel", "1", home=home, check=2)
    assert "has already ended (cancelled)" in again.stderr


def test_a_job_killed_right_after_it_started_is_on_record_as_started(tmp_path: Path) -> None:
    """The attempt is stored before its process starts: a kill at that moment leaves a
    failed attempt on record, not a job that seems never to have run (skipped, 0 attempts)."""
    home = tmp_path / "home"
    mark = tmp_path / "started"
    runner = start(tmp_path, flow_text(f"touch {mark}; sleep 300"), "--executor", "local")
    wait_for(mark.exists, "the job's process to start")
    uid = str(the_run(home)["uid"])
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(10)

    cancelled = coops("runs", "cancel", "1", home=home, check=0)  # its owner is gone: settled here

    assert "its process was gone" in cancelled.stderr
    run = the_run(home)
    job = run["job"]
    assert (job.status, job.attempts) == ("failure", 1), job  # type: ignore[attr-defined]
    assert str(run["reason"]).startswith("abandoned:")
    assert processes_of(uid) == []
