"""GET /api/v1/runs/ID/events: a run's state changes as Server-Sent Events, live, in
order, resumable with Last-Event-ID, ending with the run's status (what the web UI
colours its graph with)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.server.conftest import LiveServer
from tests.server.flows import start, wait_for_run
from tests.server.test_logs_api import printer_flow, sse

from containerops.store.accounts import create_token, create_user


def test_state_changes_stream_live_until_the_run_ends(
    start_server: Callable[..., LiveServer], admin_token: str, tmp_path: Path
) -> None:
    live = start_server("local")
    go_on = tmp_path / "go-on"
    with live.client(admin_token) as admin:
        run = start(admin, printer_flow(lines=3, until=go_on))
        events: list[tuple[str, str | None, dict[str, Any]]] = []
        with admin.stream("GET", f"/api/v1/runs/{run['id']}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for event in sse(response):
                events.append(event)
                name, _, data = event
                if name == "state" and data["job"] == "build.unit.chatty" and data["status"] == "running":
                    # Seen while the job still waits: the stream is live, not a replay at the end.
                    assert admin.get(f"/api/v1/runs/{run['id']}").json()["status"] == "running"
                    go_on.touch()
        assert go_on.exists(), "the job's running state never came while it ran"
        history = admin.get(f"/api/v1/runs/{run['id']}").json()["history"]
    states = [(data["job"], data["status"]) for name, _, data in events if name == "state"]
    assert states == [(change["job"], change["status"]) for change in history]
    assert states[0] == (None, "pending") and states[-1] == (None, "success")
    ids = [int(ident) for name, ident, _ in events if name == "state" and ident is not None]
    assert ids == sorted(ids) and len(ids) == len(states)
    assert events[-1][0] == "end" and events[-1][2] == {"status": "success", "reason": None}

    # Resumed after the third change: only those after it, then the end at once.
    with (
        live.client(admin_token) as admin,
        admin.stream(
            "GET", f"/api/v1/runs/{run['id']}/events", headers={"Last-Event-ID": str(ids[2])}
        ) as response,
    ):
        resumed = list(sse(response))
    assert [(d["job"], d["status"]) for n, _, d in resumed if n == "state"] == states[3:]
    assert resumed[-1][0] == "end"


def test_a_run_the_token_cannot_read_is_not_found(server: LiveServer, admin_token: str, store: Any) -> None:
    create_user(store, "mallory")
    other = create_token(store, "mallory", "read")
    with server.client(admin_token) as admin:
        run = start(admin, {"uri": "root/x/ci", "stages": printer_flow()["stages"]})
        wait_for_run(admin, run["id"])
    with server.client(other) as client:
        answer = client.get(f"/api/v1/runs/{run['id']}/events")
        assert answer.status_code == 404 and answer.json() == {"error": f"no run with id {run['id']}"}
    with server.client() as anonymous:
        assert anonymous.get(f"/api/v1/runs/{run['id']}/events").status_code == 401


def test_an_ended_run_streams_its_whole_history_and_ends(server: LiveServer, admin_token: str) -> None:
    with server.client(admin_token) as admin:
        run = start(admin, printer_flow(lines=1))
        wait_for_run(admin, run["id"])
        with admin.stream("GET", f"/api/v1/runs/{run['id']}/events") as response:
            events = list(sse(response))
    assert events[-1][0] == "end"
    assert [n for n, _, _ in events].count("state") >= 4
