"""A server killed with SIGKILL, started again: its running and queued runs are failed
("server stopped") with their jobs settled, and new runs start as before."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from tests.server.conftest import ServerProcess
from tests.server.flows import as_json, flow_doc, start, wait_for_run

from containerops.server.accounts import create_token, create_user
from containerops.store import Store


def wait_for_job(client: httpx.Client, run_id: int) -> None:
    """Until the run's first job is recorded running."""
    deadline = time.monotonic() + 30
    while client.get(f"/api/v1/runs/{run_id}").json()["jobs"][0]["status"] != "running":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.02)


def test_runs_of_a_killed_server_are_failed_when_it_starts_again(
    store: Store, server_process: Callable[..., ServerProcess]
) -> None:
    create_user(store, "root", admin=True)
    token = create_token(store, "root", "admin")
    first = server_process("dummy", "--max-runs", "1")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=first.url, headers=headers, timeout=30) as client:
        running = start(client, flow_doc(jobs=2, sleep=60))
        queued = client.post("/api/v1/runs", json={"flow": "demo/server/ci"}).json()
        wait_for_job(client, running["id"])
    first.kill()
    assert store.get_run(running["id"]).status == "running"  # nobody could say otherwise

    second = server_process("dummy")
    with httpx.Client(base_url=second.url, headers=headers, timeout=30) as client:
        document = client.get(f"/api/v1/runs/{running['id']}").json()
        assert (document["status"], document["reason"]) == ("failure", "server stopped")
        assert [(j["status"], j["reason"]) for j in document["jobs"]] == [
            ("failure", "server stopped"),
            ("skipped", "skipped: server stopped"),
        ]
        assert document["finished_at"] is not None
        assert client.get(f"/api/v1/runs/{queued['id']}").json()["status"] == "failure"
        assert client.post("/api/v1/flows", content=as_json(flow_doc())).json()["version"] == 2
        again = client.post("/api/v1/runs", json={"flow": "demo/server/ci"})
        assert again.status_code == 202 and again.json()["number"] == 3
        assert wait_for_run(client, again.json()["id"])["status"] == "success"


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
