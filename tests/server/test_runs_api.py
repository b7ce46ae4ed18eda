"""``/api/v1/runs`` on a real server with the dummy executor: start, list, show, cancel,
approve/reject, rerun; bad input is 4xx JSON; namespaces keep tokens apart."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from tests.server.conftest import LiveServer
from tests.server.flows import as_json, flow_doc, start, wait_for_run

from containerops.store.accounts import create_token, create_user


def test_a_run_starts_at_once_and_shows_like_coops_runs_show_json(
    server: LiveServer, admin: httpx.Client
) -> None:
    started = start(admin, flow_doc(jobs=2, env={"GREETING": "hi"}))
    assert set(started) == {"id", "number", "uid", "uri", "url"} and started["number"] == 1
    document = wait_for_run(admin, started["id"])
    assert document["status"] == "success"
    assert [job["status"] for job in document["jobs"]] == ["success", "success"]
    assert document["trigger"] == {"type": "api", "by": "root"} and document["rerun_of"] is None
    # The same document `coops runs show --json` prints from the store, plus what started it.
    shown = subprocess.run(
        [sys.executable, "-m", "containerops.cli.main", "runs", "show", str(started["id"]), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    local = json.loads(shown.stdout)
    assert set(document) - set(local) == {"trigger", "rerun_of"}
    assert document["jobs"] == local["jobs"] and document["status"] == local["status"]
    assert len(document["history"]) == len(local["history"])


def test_a_run_takes_a_version_and_variables(server: LiveServer, admin: httpx.Client) -> None:
    assert admin.post("/api/v1/flows", content=as_json(flow_doc("demo/vars/ci"))).status_code == 201
    failing = flow_doc("demo/vars/ci", exit_code=3)
    assert admin.post("/api/v1/flows", content=as_json(failing)).json()["version"] == 2
    newest = admin.post("/api/v1/runs", json={"flow": "demo/vars/ci"}).json()
    assert wait_for_run(admin, newest["id"])["status"] == "failure"
    old = admin.post("/api/v1/runs", json={"flow": "demo/vars/ci", "version": 1, "set": {"EXTRA": "x y"}})
    assert old.status_code == 202
    document = wait_for_run(admin, old.json()["id"])
    assert document["status"] == "success" and document["flow_version"] == 1
    executor = server.manager.executor
    specs = [spec for spec in executor.started if spec.run_id == old.json()["uid"]]  # type: ignore[attr-defined]
    assert len(specs) == 1 and specs[0].env["EXTRA"] == "x y"


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"flow": "demo/none/ci"}, 404, "no flow demo/none/ci"),
        ({"flow": "demo/x"}, 422, "body.flow: String should match pattern"),
        ({"flow": "de..mo/x/y"}, 400, "namespace"),
        ({"flow": "demo/server/ci", "version": 0}, 422, "version"),
        ({"flow": "demo/server/ci", "version": 99}, 404, "no version 99"),
        ({"flow": "demo/server/ci", "set": {"1BAD": "x"}}, 422, "not a variable name"),
        ({"flow": "demo/server/ci", "set": {"A": 1}}, 422, "set.A"),
        ({"flow": "demo/server/ci", "surprise": True}, 422, "surprise"),
        ({}, 422, "flow"),
        ([1, 2], 422, "invalid request"),
    ],
)
def test_bad_starts_are_4xx_and_start_nothing(
    admin: httpx.Client, body: object, status: int, fragment: str
) -> None:
    assert admin.post("/api/v1/flows", content=as_json(flow_doc())).status_code == 201
    answer = admin.post("/api/v1/runs", json=body)
    assert answer.status_code == status, answer.text
    assert fragment in answer.json()["error"]
    assert admin.get("/api/v1/runs").json()["runs"] == []


def test_a_body_that_is_not_json_is_422(admin: httpx.Client) -> None:
    answer = admin.post("/api/v1/runs", content=b"{nope", headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and "invalid request" in answer.json()["error"]
    answer = admin.post("/api/v1/runs", content=b"flow=x", headers={"Content-Type": "text/plain"})
    assert 400 <= answer.status_code < 500


def test_runs_list_filters_and_pages(server: LiveServer, admin: httpx.Client) -> None:
    ids = [start(admin, flow_doc("demo/a/ci"))["id"] for _ in range(3)]
    failed = start(admin, flow_doc("demo/b/ci", exit_code=1))["id"]
    for run_id in [*ids, failed]:
        wait_for_run(admin, run_id)
    everything = admin.get("/api/v1/runs").json()
    assert [r["id"] for r in everything["runs"]] == [failed, *reversed(ids)] and everything["next"] is None
    assert [r["id"] for r in admin.get("/api/v1/runs", params={"flow": "demo/a/ci"}).json()["runs"]] == ids[
        ::-1
    ]
    assert [r["id"] for r in admin.get("/api/v1/runs", params={"status": "failure"}).json()["runs"]] == [
        failed
    ]
    numbered = admin.get("/api/v1/runs", params={"flow": "demo/a/ci", "number": 2}).json()["runs"]
    assert [r["id"] for r in numbered] == [ids[1]]
    page = admin.get("/api/v1/runs", params={"limit": 2}).json()
    assert len(page["runs"]) == 2 and page["next"] == page["runs"][-1]["id"]
    rest = admin.get("/api/v1/runs", params={"limit": 2, "before": page["next"]}).json()
    assert [r["id"] for r in page["runs"] + rest["runs"]] == [r["id"] for r in everything["runs"]]
    now = datetime.now(UTC)
    assert (
        len(
            admin.get("/api/v1/runs", params={"since": (now - timedelta(minutes=5)).isoformat()}).json()[
                "runs"
            ]
        )
        == 4
    )
    assert (
        admin.get("/api/v1/runs", params={"since": (now + timedelta(minutes=5)).isoformat()}).json()["runs"]
        == []
    )
    earlier = (now - timedelta(minutes=5)).astimezone(timezone_plus_two()).isoformat()
    assert admin.get("/api/v1/runs", params={"until": earlier}).json()["runs"] == []
    for params in (
        {"status": "weird"},
        {"since": "yesterday"},
        {"limit": 501},
        {"before": -1},
        {"flow": "x"},
    ):
        answer = admin.get("/api/v1/runs", params=params)
        assert 400 <= answer.status_code < 500 and "error" in answer.json(), params


def timezone_plus_two():  # type: ignore[no-untyped-def]
    from datetime import timezone

    return timezone(timedelta(hours=2))


def test_show_of_unknown_or_bad_ids(admin: httpx.Client) -> None:
    assert admin.get("/api/v1/runs/999").status_code == 404
    assert admin.get("/api/v1/runs/999").json() == {"error": "no run with id 999"}
    assert admin.get("/api/v1/runs/abc").status_code == 422
    assert admin.post("/api/v1/runs/999/cancel").status_code == 404


def test_cancel_a_running_and_a_queued_run(start_server, admin_token: str) -> None:  # type: ignore[no-untyped-def]
    live = start_server(max_concurrent_runs=1)
    with live.client(admin_token) as admin:
        running = start(admin, flow_doc(sleep=30))
        wait_for_run(admin, running["id"], until=("running",))
        queued = admin.post("/api/v1/runs", json={"flow": "demo/server/ci"}).json()
        assert admin.get(f"/api/v1/runs/{queued['id']}").json()["status"] == "pending"
        answer = admin.post(f"/api/v1/runs/{queued['id']}/cancel")
        assert answer.status_code == 202 and answer.json()["status"] == "cancelled"
        document = admin.get(f"/api/v1/runs/{queued['id']}").json()
        assert document["reason"] == "cancelled by root"
        assert [j["status"] for j in document["jobs"]] == ["skipped"]
        assert document["started_at"] is None
        answer = admin.post(f"/api/v1/runs/{running['id']}/cancel")
        assert answer.status_code == 202 and answer.json()["status"] == "cancelled"
        document = admin.get(f"/api/v1/runs/{running['id']}").json()
        assert document["jobs"][0]["status"] == "cancelled" and document["reason"] == "cancelled by root"
        again = admin.post(f"/api/v1/runs/{running['id']}/cancel")
        assert again.status_code == 409 and again.json()["status_now"] == "cancelled"


def test_approving_a_run_that_is_not_paused_is_refused(admin: httpx.Client) -> None:
    run = start(admin, flow_doc())
    wait_for_run(admin, run["id"])
    for verb in ("approve", "reject"):
        answer = admin.post(f"/api/v1/runs/{run['id']}/{verb}", json={"comment": "ok"})
        assert answer.status_code == 409, answer.text
        assert "paused" in answer.json()["error"]
    assert admin.post(f"/api/v1/runs/{run['id']}/approve", json={"comment": 5}).status_code == 422
    assert admin.post(f"/api/v1/runs/{run['id']}/approve", json={"x": 1}).status_code == 422


def test_namespaces_keep_tokens_apart(server: LiveServer, admin: httpx.Client) -> None:
    run = start(admin, flow_doc("alice/app/ci"))
    other = start(admin, flow_doc("bob/app/ci"))
    wait_for_run(admin, run["id"])
    wait_for_run(admin, other["id"])
    create_user(server.store, "alice")
    write = create_token(server.store, "alice", "write")
    read = create_token(server.store, "alice", "read")
    with server.client(write) as alice, server.client(read) as reader:
        assert [r["uri"] for r in alice.get("/api/v1/runs").json()["runs"]] == ["alice/app/ci"]
        assert [f["uri"] for f in alice.get("/api/v1/flows").json()["flows"]] == ["alice/app/ci"]
        hidden = alice.get(f"/api/v1/runs/{other['id']}")
        assert hidden.status_code == 404 and hidden.json() == {"error": f"no run with id {other['id']}"}
        assert alice.get(f"/api/v1/runs/{other['id']}/logs").status_code == 404
        assert alice.post("/api/v1/runs", json={"flow": "bob/app/ci"}).status_code == 404
        assert alice.get("/api/v1/runs", params={"flow": "bob/app/ci"}).status_code == 404
        assert alice.post("/api/v1/flows", content=as_json(flow_doc("bob/app/ci"))).status_code == 404
        assert alice.post("/api/v1/runs", json={"flow": "alice/app/ci"}).status_code == 202
        assert reader.get(f"/api/v1/runs/{run['id']}").status_code == 200
        refused = reader.post("/api/v1/runs", json={"flow": "alice/app/ci"})
        assert refused.status_code == 403 and "write" in refused.json()["error"]
        assert reader.post(f"/api/v1/runs/{run['id']}/cancel").status_code == 403
        assert reader.delete("/api/v1/flows/alice/app/ci").status_code == 403


def test_a_rerun_keeps_the_successful_jobs_and_runs_the_failed_ones_again(
    server: LiveServer, admin: httpx.Client
) -> None:
    doc = flow_doc("demo/rerun/ci", jobs=1, outputs={"VERSION": "1.2.3"})
    failing = {
        "name": "check",
        "endpoint": "containerops/base:busybox",
        "environments": {"CO_DUMMY_EXIT_CODE": "1"},
    }
    doc["stages"][1]["actions"][0]["jobs"].append(failing)
    first = start(admin, doc)
    original = wait_for_run(admin, first["id"])
    assert [j["status"] for j in original["jobs"]] == ["success", "failure"]

    answer = admin.post(f"/api/v1/runs/{first['id']}/rerun")
    assert answer.status_code == 202, answer.text
    rerun = wait_for_run(admin, answer.json()["id"])
    assert rerun["number"] == 2 and rerun["rerun_of"] == first["id"]
    assert rerun["trigger"] == {"type": "rerun", "run": first["id"], "by": "root"}
    kept, again = rerun["jobs"]
    assert (kept["status"], kept["outputs"]) == ("success", {"VERSION": "1.2.3"})
    assert again["status"] == "failure" and again["attempts"] == 1
    executor = server.manager.executor
    ran = [spec.path for spec in executor.started if spec.run_id == answer.json()["uid"]]  # type: ignore[attr-defined]
    assert ran == ["build.unit.check"]  # the successful job was not run again

    live = start(admin, flow_doc("demo/rerun/slow", sleep=30))
    wait_for_run(admin, live["id"], until=("running",))
    busy = admin.post(f"/api/v1/runs/{live['id']}/rerun")
    assert busy.status_code == 409 and "has not ended" in busy.json()["error"]
    assert admin.post("/api/v1/runs/999/rerun").status_code == 404
    admin.post(f"/api/v1/runs/{live['id']}/cancel")


def test_a_stored_version_that_no_longer_validates_is_422_not_500(
    server: LiveServer, admin: httpx.Client
) -> None:
    # Written straight to the store, as an older release (or `coops run` of another version) might have.
    server.store.save_flow(
        "demo/old/ci", "uri: demo/old/ci\nstages: [{type: normal, name: x, bogus: 1}]\n", "yaml"
    )
    answer = admin.post("/api/v1/runs", json={"flow": "demo/old/ci"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"].startswith("the flow is invalid: ")
    assert any(p["line"] == 2 for p in answer.json()["problems"])
    assert admin.get("/api/v1/runs").json()["runs"] == []
