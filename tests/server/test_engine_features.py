"""Pause stages, service callbacks and Lua through a real server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.server.conftest import LiveServer, ServerProcess
from tests.server.flows import flow_doc, start, wait_for_run
from tests.waiting import wait_for

from containerops.component.testserver import CaptureServer, Received
from containerops.store import Store
from containerops.store.accounts import create_token, create_user
from containerops.store.pauses import get_pause


def paused_doc(uri: str = "root/pause/ci", timeout: str | None = None) -> dict[str, Any]:
    doc = flow_doc(uri, outputs={"V": "7"})
    doc["stages"][1]["actions"][0]["jobs"][0]["outputs"] = ["V"]
    pause: dict[str, Any] = {"type": "pause", "name": "approve"}
    if timeout:
        pause["timeout"] = timeout
    ship = {
        "type": "normal",
        "name": "ship",
        "actions": [
            {
                "name": "b",
                "jobs": [
                    {
                        "name": "y",
                        "endpoint": "containerops/base:busybox",
                        "subscriptions": [{"build.unit.job0[V]": "V"}],
                        "post": "outputs.GOT = env.V",
                    }
                ],
            }
        ],
    }
    doc["stages"][2:2] = [pause, ship]
    return doc


def test_approve_and_reject_through_the_api(server: LiveServer, admin: httpx.Client, store: Store) -> None:
    run = start(admin, paused_doc())
    assert wait_for_run(admin, run["id"], until=("paused",))["status"] == "paused"
    reader = create_token(store, "root", "read")
    with server.client(reader) as client:
        denied = client.post(f"/api/v1/runs/{run['id']}/approve", json={})
        assert denied.status_code == 403, denied.text
    approved = admin.post(f"/api/v1/runs/{run['id']}/approve", json={"comment": "ship it"})
    assert approved.status_code == 200, approved.text
    pause = approved.json()["pause"]
    assert (pause["stage"], pause["decision"], pause["decided_by"], pause["comment"]) == (
        "approve",
        "approved",
        "root",
        "ship it",
    )
    document = wait_for_run(admin, run["id"])
    assert document["status"] == "success"
    assert document["jobs"][1]["outputs"] == {"GOT": "7"}
    again = admin.post(f"/api/v1/runs/{run['id']}/reject", json={})
    assert again.status_code == 409 and "not paused" in again.json()["error"]

    second = start(admin, paused_doc())
    wait_for_run(admin, second["id"], until=("paused",))
    assert admin.post(f"/api/v1/runs/{second['id']}/reject", json={"comment": "no"}).status_code == 200
    rejected = wait_for_run(admin, second["id"])
    assert (rejected["status"], rejected["reason"]) == ("failure", "stage approve rejected by root: no")


def test_a_pause_times_out_on_the_server(admin: httpx.Client) -> None:
    run = start(admin, paused_doc(timeout="0.5s"))
    document = wait_for_run(admin, run["id"])
    assert document["status"] == "failure"
    assert document["reason"] == "stage approve: nobody approved or rejected it within 0.5 s (pause timeout)"


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_paused_run_survives_a_server_restart(
    store: Store, server_process: Callable[..., ServerProcess], how: str
) -> None:
    create_user(store, "root", admin=True)
    headers = {"Authorization": f"Bearer {create_token(store, 'root', 'admin')}"}
    first = server_process("dummy")
    with httpx.Client(base_url=first.url, headers=headers, timeout=30) as client:
        run = start(client, paused_doc())
        wait_for_run(client, run["id"], until=("paused",))
    first.stop() if how == "stop" else first.kill()
    assert store.get_run(run["id"]).status == "paused"

    second = server_process("dummy")
    with httpx.Client(base_url=second.url, headers=headers, timeout=30) as client:
        assert client.get(f"/api/v1/runs/{run['id']}").json()["status"] == "paused"
        answer = client.post(f"/api/v1/runs/{run['id']}/approve", json={"comment": "after restart"})
        assert answer.status_code == 200, answer.text
        document = wait_for_run(client, run["id"])
    assert document["status"] == "success", document["reason"]
    assert [job["status"] for job in document["jobs"]] == ["success", "success"]
    assert document["jobs"][0]["attempts"] == 1  # the job before the pause did not run again
    assert document["jobs"][1]["outputs"] == {"GOT": "7"}


@pytest.mark.parametrize("deadline_passes", ["while the server is down", "after it started again"])
def test_a_pause_deadline_holds_across_a_sigkill(
    store: Store, server_process: Callable[..., ServerProcess], deadline_passes: str
) -> None:
    """A paused run with a pause timeout, its server killed (SIGKILL): the server started
    again times the run out at the deadline set before the kill, not at a new one."""
    create_user(store, "root", admin=True)
    headers = {"Authorization": f"Bearer {create_token(store, 'root', 'admin')}"}
    first = server_process("dummy")
    with httpx.Client(base_url=first.url, headers=headers, timeout=30) as client:
        run = start(client, paused_doc(timeout="3s"))
        wait_for_run(client, run["id"], until=("paused",))
    first.kill()
    before = get_pause(store, run["id"], "approve")
    assert before is not None and before.deadline is not None and before.decision is None
    if deadline_passes == "while the server is down":
        deadline = before.deadline + timedelta(seconds=0.5)
        wait_for(lambda: datetime.now(UTC) > deadline, "the pause deadline to pass", 30)
        assert store.get_run(run["id"]).status == "paused"  # nobody ran it meanwhile

    second = server_process("dummy")
    with httpx.Client(base_url=second.url, headers=headers, timeout=30) as client:
        document = wait_for_run(client, run["id"], timeout=60)
    assert (document["status"], document["reason"]) == (
        "failure",
        "stage approve: nobody approved or rejected it within 3 s (pause timeout)",
    )
    after = get_pause(store, run["id"], "approve")
    assert after is not None and after.decided_at is not None
    assert (after.decision, after.started_at, after.deadline) == (
        "timeout",
        before.started_at,
        before.deadline,
    )
    assert after.decided_at >= before.deadline
    assert [job["status"] for job in document["jobs"]] == ["success", "skipped"]


@pytest.fixture
def callback_server(
    start_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveServer]:
    """A server whose public URL (for callbacks) is its own address."""
    live = start_server()
    monkeypatch.setenv("COOPS_SERVER_URL", live.url)
    yield live


def service_doc(url: str, **service: Any) -> dict[str, Any]:
    doc = flow_doc("root/svc/ci")
    doc["stages"][1]["actions"][0]["jobs"] = [
        {"name": "call", "type": "service", "service": {"url": url, "callback": True, **service}}
    ]
    return doc


def test_a_service_calls_back_through_the_server(callback_server: LiveServer, admin_token: str) -> None:
    urls: list[str] = []
    posted: list[httpx.Response] = []

    def third_service(got: Received) -> tuple[int, object]:
        url = got.headers["co-callback-url"]
        urls.append(url)

        def later() -> None:
            body = {"result": True, "outputs": {"ARTIFACT": "app.tar"}, "log": "built it"}
            posted.append(httpx.post(url, json=body, timeout=10))

        threading.Thread(target=later, daemon=True).start()
        return 202, {}

    with CaptureServer(answer=third_service) as service, callback_server.client(admin_token) as admin:
        received = service.received
        run = start(admin, service_doc(service.url + "/build"))
        document = wait_for_run(admin, run["id"])
    assert document["status"] == "success", document["reason"]
    assert document["jobs"][0]["outputs"] == {"ARTIFACT": "app.tar"}
    [url] = urls
    assert url.startswith(callback_server.url + "/api/v1/callbacks/")
    assert (received[0].method, received[0].body) == ("GET", b"")
    assert posted[0].status_code == 200 and posted[0].json()["run"] == run["id"]
    reused = httpx.post(url, json={"result": True}, timeout=10)
    assert reused.status_code == 409 and "single-use" in reused.json()["error"]


def test_forged_expired_and_malformed_callbacks_are_refused(
    callback_server: LiveServer, admin_token: str
) -> None:
    base_url = callback_server.url + "/api/v1/callbacks/"
    forged = httpx.post(base_url + "x" * 43, json={"result": True}, timeout=10)
    assert forged.status_code == 404 and forged.json() == {"error": "no such callback"}
    urls: list[str] = []

    def silent(got: Received) -> tuple[int, object]:
        urls.append(got.headers["co-callback-url"])
        return 202, {}

    with CaptureServer(answer=silent) as service, callback_server.client(admin_token) as admin:
        run = start(admin, service_doc(service.url + "/build", timeout="0.5s"))
        document = wait_for_run(admin, run["id"])
    assert document["jobs"][0]["reason"] == "no callback within 0.5 s (service timeout)"
    malformed = httpx.post(urls[0], json={"result": "maybe", "extra": 1}, timeout=10)
    assert malformed.status_code == 422 and "error" in malformed.json()
    late = httpx.post(urls[0], json={"result": True}, timeout=10)
    assert late.status_code == 410 and "expired" in late.json()["error"]


def test_coops_server_gives_its_own_address_as_the_callback_base(
    store: Store, server_process: Callable[..., ServerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COOPS_SERVER_URL", raising=False)
    create_user(store, "root", admin=True)
    headers = {"Authorization": f"Bearer {create_token(store, 'root', 'admin')}"}
    process = server_process("dummy")

    def third_service(got: Received) -> tuple[int, object]:
        url = got.headers["co-callback-url"]
        threading.Thread(
            target=lambda: httpx.post(url, json={"result": True}, timeout=10), daemon=True
        ).start()
        return 200, {}

    with (
        CaptureServer(answer=third_service) as service,
        httpx.Client(base_url=process.url, headers=headers) as client,
    ):
        received = service.received
        run = start(client, service_doc(service.url + "/build"))
        document = wait_for_run(client, run["id"])
    assert document["status"] == "success", document["reason"]
    assert received[0].headers["co-callback-url"].startswith(process.url + "/api/v1/callbacks/")
