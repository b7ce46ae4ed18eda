"""A server killed with SIGKILL, started again: its queued runs queue again and its running
ones go on (the attempt it cut runs again, after what it left running is stopped); a server
stopped gracefully cancels its runs; new runs start as before."""

from __future__ import annotations

import time
from collections.abc import Callable

import docker
import httpx
import pytest
from tests.cli.test_abandoned import processes_of
from tests.server.conftest import ServerProcess
from tests.server.flows import as_json, flow_doc, start, wait_for_run
from tests.waiting import wait_for

from containerops.store import Store
from containerops.store.accounts import create_token, create_user
from containerops.store.ownership import ownership


def wait_for_job(client: httpx.Client, run_id: int) -> None:
    """Until the run's first job is recorded running."""
    deadline = time.monotonic() + 30
    while client.get(f"/api/v1/runs/{run_id}").json()["jobs"][0]["status"] != "running":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.02)


def test_runs_of_a_killed_server_go_on_when_it_starts_again(
    store: Store, server_process: Callable[..., ServerProcess]
) -> None:
    create_user(store, "root", admin=True)
    token = create_token(store, "root", "admin")
    first = server_process("dummy", "--max-runs", "1")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=first.url, headers=headers, timeout=30) as client:
        running = start(client, flow_doc(jobs=2, sleep=1))
        queued = client.post("/api/v1/runs", json={"flow": "demo/server/ci"}).json()
        wait_for_job(client, running["id"])
    first.kill()
    assert store.get_run(running["id"]).status == "running"  # nobody could say otherwise

    second = server_process("dummy")
    with httpx.Client(base_url=second.url, headers=headers, timeout=30) as client:
        document = wait_for_run(client, running["id"])
        assert (document["status"], document["reason"]) == ("success", None)
        first_job = [a for a in document["attempts"] if a["job"] == "build.unit.job0"]
        assert [(a["attempt"], a["status"]) for a in first_job] == [(1, "cancelled"), (2, "success")]
        assert first_job[0]["reason"] == "the engine stopped during this attempt; it is tried again"
        assert wait_for_run(client, queued["id"])["status"] == "success"  # queued again, then ran
        assert client.post("/api/v1/flows", content=as_json(flow_doc())).json()["version"] == 2
        again = client.post("/api/v1/runs", json={"flow": "demo/server/ci"})
        assert again.status_code == 202 and again.json()["number"] == 3
        assert wait_for_run(client, again.json()["id"])["status"] == "success"


def test_two_servers_on_one_store_keep_their_own_runs(
    store: Store, server_process: Callable[..., ServerProcess]
) -> None:
    """A server starting beside a live one takes nothing of its runs."""
    create_user(store, "root", admin=True)
    token = create_token(store, "root", "admin")
    headers = {"Authorization": f"Bearer {token}"}
    first = server_process("dummy")
    with httpx.Client(base_url=first.url, headers=headers, timeout=30) as client:
        running = start(client, flow_doc(sleep=2))
        wait_for_job(client, running["id"])
        owner = ownership(store, running["id"]).owner
        second = server_process("dummy")  # starts while the first runs
        assert ownership(store, running["id"]).owner == owner
        assert wait_for_run(client, running["id"])["status"] == "success"
    second.stop()


def test_a_server_stopped_gracefully_cancels_its_runs(
    store: Store, server_process: Callable[..., ServerProcess]
) -> None:
    create_user(store, "root", admin=True)
    token = create_token(store, "root", "admin")
    process = server_process("dummy")
    with httpx.Client(
        base_url=process.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        running = start(client, flow_doc(sleep=60))
        wait_for_run(client, running["id"], until=("running",))
    process.stop()
    run = store.get_run(running["id"])
    assert (run.status, run.reason) == ("cancelled", "server stopped")


@pytest.mark.parametrize("executor", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_a_killed_servers_jobs_are_stopped_and_run_again_when_it_starts_again(
    executor: str, store: Store, server_process: Callable[..., ServerProcess], request: pytest.FixtureRequest
) -> None:
    """kill -9 of a server leaves its job running (a process, or a container with its
    volume); the server started again stops it and runs the job again (its next attempt),
    and removes everything of the run when it ends."""
    if executor == "docker":
        request.getfixturevalue("docker_ready")
    create_user(store, "root", admin=True)
    token = create_token(store, "root", "admin")
    headers = {"Authorization": f"Bearer {token}"}
    first = server_process(executor, "--network", "host")
    # the first attempt waits long; the one the restarted server makes ends at once
    script = 'echo "started $CO_ATTEMPT"; [ "$CO_ATTEMPT" = 1 ] && sleep 300; echo done'
    job = {"command": ["sh", "-c", script], "environments": {}}
    with httpx.Client(base_url=first.url, headers=headers, timeout=30) as client:
        run = start(client, flow_doc(**job))
        wait_for(lambda: "started 1" in [r.line for r in store.log_lines(run["id"])], "the job's first line")
    uid = store.get_run(run["id"]).uid
    first.kill()
    assert leftovers(executor, uid), "the killed server's job runs on"

    second = server_process(executor, "--network", "host")
    with httpx.Client(base_url=second.url, headers=headers, timeout=30) as client:
        document = wait_for_run(client, run["id"])
    assert (document["status"], document["jobs"][0]["attempts"]) == ("success", 2)
    lines = [(r.attempt, r.line) for r in store.log_lines(run["id"])]
    assert lines == [(1, "started 1"), (2, "started 2"), (2, "done")]
    wait_for(
        lambda: not leftovers(executor, uid), "the job's processes, containers and volume to be gone", 20
    )


def leftovers(executor: str, run_uid: str) -> list[object]:
    """What still runs of a run: its job processes, or its containers and volumes."""
    if executor == "local":
        return list(processes_of(run_uid))
    client = docker.from_env()
    label = {"label": f"containerops.run={run_uid}"}
    return [*client.containers.list(all=True, filters=label), *client.volumes.list(filters=label)]
