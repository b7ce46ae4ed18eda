"""``/metrics`` for Prometheus, ``/healthz`` and ``/readyz``, and the server's JSON logs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tests.server.conftest import LiveServer, ServerProcess
from tests.server.flows import flow_doc, start, wait_for_run

from containerops.store import Store
from containerops.store import schema as t
from containerops.store import workers as queue
from containerops.store.accounts import create_token, create_user


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, labels) -> value, from Prometheus' text format."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_what_the_store_holds(server: LiveServer, admin: httpx.Client, store: Store) -> None:
    for exit_code in (0, 0, 3):
        run = start(admin, flow_doc("root/metrics/ci", exit_code=exit_code, lines=5))
        wait_for_run(admin, run["id"])
    create_user(store, "prom", admin=True)
    reader = create_token(store, "prom", "read")  # what Prometheus is given
    with server.client(reader) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    found = samples(answer.text)
    assert found[("coops_runs", (("state", "success"),))] == 2
    assert found[("coops_runs", (("state", "failure"),))] == 1
    assert found[("coops_queue_depth", ())] == 0
    assert found[("coops_log_lines_stored_total", ())] >= 15
    slots = [value for (name, _), value in found.items() if name == "coops_process_run_slots"]
    assert slots == [server.manager.max_concurrent_runs]


def test_metrics_are_for_site_administrators(server: LiveServer, store: Store) -> None:
    create_user(store, "alice")
    with server.client() as anonymous:
        assert anonymous.get("/metrics").status_code == 401
    with server.client(create_token(store, "alice", "admin")) as alice:
        refused = alice.get("/metrics")
    assert refused.status_code == 403 and "site administrators" in refused.json()["error"]


def test_health_and_readiness_need_no_token(server: LiveServer) -> None:
    with server.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 200
        server.manager.ready = False  # as while it stops
        answer = client.get("/readyz")
        assert answer.status_code == 503 and answer.json()["error"].startswith("not ready")


def test_the_server_logs_json_lines_when_asked(server_process: Callable[..., ServerProcess]) -> None:
    process = server_process("dummy", "--log-format", "json", "--log-level", "info")
    httpx.get(f"{process.url}/healthz", timeout=5)
    process.stop()
    assert process.process is None
    # the process was stopped: read what it wrote
    lines = [line for line in process.stderr_text.splitlines() if line.strip()]
    documents = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"time", "level", "logger", "message"} <= set(documents[0])
    access = [d for d in documents if d["logger"] == "uvicorn.access"]
    assert any(d["path"] == "/healthz" and d["status"] == 200 for d in access), access


def test_claim_latency_is_a_histogram_of_waits_from_ready_to_claimed(
    server: LiveServer, admin: httpx.Client, store: Store
) -> None:
    """``coops_claim_latency_seconds``: from an attempt put up for workers to its claim, of
    every attempt claimed (read from the store: every server shows the same)."""
    flow_id, version_id, _ = store.save_flow("root/claims/x", "uri: root/claims/x\n", "yaml")
    uid = store.create_run(flow_id, version_id, "dummy", {}, []).uid
    put_up = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)
    waits = {"s.a.quick": 0.003, "s.a.slower": 0.3, "s.a.late": 7.0}
    for path in [*waits, "s.a.unclaimed"]:
        queue.enqueue(store, uid, path, 1, {}, {})
    assert len(queue.claim_many(store, "w1", {}, 3)) == 3
    with store.database.begin() as conn:  # the times a busy queue would have given
        conn.execute(t.ready_jobs.update().values(created_at=put_up))
        for path, wait in waits.items():
            conn.execute(
                t.ready_jobs.update()
                .where(t.ready_jobs.c.path == path)
                .values(claimed_at=put_up + timedelta(seconds=wait))
            )
    found = samples(admin.get("/metrics").text)
    buckets = {
        dict(labels)["le"]: value
        for (name, labels), value in found.items()
        if name == "coops_claim_latency_seconds_bucket"
    }
    assert buckets["0.005"] == 1 and buckets["0.25"] == 1 and buckets["0.5"] == 2
    assert buckets["5.0"] == 2 and buckets["10.0"] == 3 and buckets["+Inf"] == 3
    assert found[("coops_claim_latency_seconds_count", ())] == 3
    assert abs(found[("coops_claim_latency_seconds_sum", ())] - 7.303) < 0.01
    assert found[("coops_worker_jobs", (("state", "ready"),))] == 1
