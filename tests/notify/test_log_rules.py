"""A flow's log rules on a live server: matching lines notify named receivers (rate-limited,
recorded as event ``log``), every line is forwarded in signed batches to a sink that is
down for a while (none lost, none twice, in order), and exported to an OTLP collector."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from containerops.component.testserver import CaptureServer
from containerops.contract.signatures import signature_ok
from containerops.server.secrets import set_secret
from containerops.store import Store
from containerops.store.notifications import list_notifications
from tests.server.conftest import LiveServer
from tests.server.flows import start, wait_for_run

LINES = 3000
SCRIPT = (
    "import sys\n"
    f"for n in range(1, {LINES} + 1):\n"
    "    print('PANIC: data race at', n if n in (10, 20, 30) else '', 'line', n)\n"
    "    if n % 500 == 0: sys.stdout.flush()\n"
)


def logged(store: Store, run_id: int) -> list[dict[str, Any]]:
    return [n for n in list_notifications(store, run_id) if n["event"] == "log"]


def flow_doc(hook: str, sink: str) -> dict[str, Any]:
    return {
        "uri": "acme/logs/ci",
        "receivers": [{"type": "webhook", "name": "oncall", "url": f"{hook}/alerts"}],
        "logs": [
            {"match": "data race at [0-9]", "notify": ["oncall"], "at_most": "2/1h"},
            {"forward": {"webhook": f"{sink}/ingest", "secret": "SINK_KEY", "batch": 400, "every": "100ms"}},
        ],
        "stages": [
            {"type": "start", "name": "start"},
            {
                "type": "normal",
                "name": "build",
                "actions": [
                    {"name": "a", "jobs": [{"name": "chatty", "command": [sys.executable, "-c", SCRIPT]}]}
                ],
            },
            {"type": "end", "name": "end"},
        ],
    }


def test_log_rules_notify_rate_limited_and_forward_through_an_outage(
    store: Store, start_server: Callable[..., LiveServer], admin_token: str
) -> None:
    set_secret(store, "acme", "SINK_KEY", "sink-key")
    live = start_server("local")
    live.app.state.notifier.backoff = 0.01  # type: ignore[union-attr]
    with (
        CaptureServer() as hook,
        CaptureServer(statuses=[503, 503, 503]) as sink,
        live.client(admin_token) as admin,
    ):
        run = start(admin, flow_doc(hook.url, sink.url))
        assert wait_for_run(admin, run["id"])["status"] == "success"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(logged(store, run["id"])) < 2:
            time.sleep(0.05)
        time.sleep(0.3)  # a third notification, if the limit did not hold, would be there by now
        alerts = [json.loads(r.body) for r in hook.received if json.loads(r.body)["event"] == "run.log"]
        posts = list(sink.received)
    assert [(n["event"], n["status"]) for n in logged(store, run["id"])] == [("log", "sent"), ("log", "sent")]
    assert [alert["run"]["status"] for alert in alerts] == ["running", "running"]
    reasons = sorted(alert["run"]["reason"] for alert in alerts)  # the two are sent side by side
    assert "data race at 10 line 10" in reasons[0] and "data race at 20 line 20" in reasons[1]
    assert len(posts) >= 3 + LINES // 400  # three refused, then every batch
    assert all(signature_ok("sink-key", p.body, p.headers.get("x-containerops-signature-256")) for p in posts)
    accepted = [json.loads(p.body) for p in posts[3:]]
    lines = [item["line"] for batch in accepted for item in batch["lines"]]
    expected = [
        f"PANIC: data race at {n} line {n}" if n in (10, 20, 30) else f"PANIC: data race at  line {n}"
        for n in range(1, LINES + 1)
    ]
    assert lines == expected
    assert {batch["run"] for batch in accepted} == {run["id"]} and all(b["dropped"] == 0 for b in accepted)
    assert all(len(batch["lines"]) <= 400 for batch in accepted)


def test_an_otlp_rule_exports_every_line_to_a_collector(
    store: Store, start_server: Callable[..., LiveServer], admin_token: str
) -> None:
    """The collector is a stub on 127.0.0.1 that reads what the SDK's OTLP/HTTP exporter posts
    as the protocol defines it (an ExportLogsServiceRequest in protobuf)."""
    live = start_server("local")
    script = (
        "import sys\n"
        "for n in range(1, 1501):\n"
        "    print('line', n, file=sys.stderr if n % 500 else sys.stdout)\n"
    )
    with CaptureServer() as collector, live.client(admin_token) as admin:
        doc = {
            "uri": "acme/otlp/ci",
            "logs": [{"otlp": {"endpoint": f"{collector.url}/v1/logs"}}],
            "stages": [
                {"type": "start", "name": "start"},
                {
                    "type": "normal",
                    "name": "build",
                    "actions": [
                        {"name": "a", "jobs": [{"name": "j", "command": [sys.executable, "-c", script]}]}
                    ],
                },
                {"type": "end", "name": "end"},
            ],
        }
        run = start(admin, doc)
        assert wait_for_run(admin, run["id"])["status"] == "success"
        posts = list(collector.received)  # exported before the run is said to have ended
    assert posts and all(
        p.path == "/v1/logs" and p.headers["content-type"] == "application/x-protobuf" for p in posts
    )
    records = [
        record
        for post in posts
        for resource in ExportLogsServiceRequest.FromString(post.body).resource_logs
        for scope in resource.scope_logs
        for record in scope.log_records
    ]

    def stream(record: Any) -> str:
        return next(kv.value.string_value for kv in record.attributes if kv.key == "log.iostream")

    # each stream in its order (the two pipes are read as they come)
    out = [record for record in records if stream(record) == "stdout"]
    err = [record for record in records if stream(record) == "stderr"]
    assert [r.body.string_value for r in out] == ["line 500", "line 1000", "line 1500"]
    assert [r.body.string_value for r in err] == [f"line {n}" for n in range(1, 1501) if n % 500]
    attributes = {kv.key: kv.value for kv in out[1].attributes}
    assert attributes["coops.run.id"].int_value == run["id"]
    assert attributes["coops.flow"].string_value == "acme/otlp/ci"
    assert attributes["coops.job"].string_value == "build.a.j"
    assert attributes["coops.attempt"].int_value == 1
    assert out[1].severity_text == "INFO" and err[0].severity_text == "ERROR"
    assert all(record.time_unix_nano > 0 for record in records)


def test_a_job_s_own_rules_see_that_job_s_lines_only(
    store: Store, start_server: Callable[..., LiveServer], admin_token: str
) -> None:
    """``chatty`` notifies and forwards through rules of its own; ``twin`` prints the same
    lines and is told of by nobody; the flow's own forward rule gets both jobs' lines."""
    live = start_server("local")
    live.app.state.notifier.backoff = 0.01  # type: ignore[union-attr]
    lines = 200
    script = f"for n in range(1, {lines} + 1): print('data race at', n)\n"
    with (
        CaptureServer() as hook,
        CaptureServer() as mine,
        CaptureServer() as every,
        live.client(admin_token) as admin,
    ):
        doc = {
            "uri": "acme/logs/jobs",
            "receivers": [{"type": "webhook", "name": "oncall", "url": f"{hook.url}/alerts"}],
            "logs": [{"forward": {"webhook": f"{every.url}/all", "every": "100ms"}}],
            "stages": [
                {"type": "start", "name": "start"},
                {
                    "type": "normal",
                    "name": "build",
                    "actions": [
                        {
                            "name": "a",
                            "jobs": [
                                {
                                    "name": "chatty",
                                    "command": [sys.executable, "-c", script],
                                    "logs": [
                                        {
                                            "match": "data race at 1[0-9]$",
                                            "notify": ["oncall"],
                                            "at_most": "3/1h",
                                        },
                                        {"forward": {"webhook": f"{mine.url}/chatty", "every": "100ms"}},
                                    ],
                                },
                                {"name": "twin", "command": [sys.executable, "-c", script]},
                            ],
                        }
                    ],
                },
                {"type": "end", "name": "end"},
            ],
        }
        run = start(admin, doc)
        assert wait_for_run(admin, run["id"])["status"] == "success"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(logged(store, run["id"])) < 3:
            time.sleep(0.05)
        time.sleep(0.3)  # a fourth notification (twin's, or past the limit) would be there by now
        alerts = [json.loads(r.body) for r in hook.received if json.loads(r.body)["event"] == "run.log"]
        chatty_posts = [json.loads(p.body) for p in mine.received]
        every_posts = [json.loads(p.body) for p in every.received]
    assert len(logged(store, run["id"])) == 3 and len(alerts) == 3
    assert all("log line of build.a.chatty#1 matched" in alert["run"]["reason"] for alert in alerts)
    assert {item["job"] for post in chatty_posts for item in post["lines"]} == {"build.a.chatty"}
    assert [item["line"] for post in chatty_posts for item in post["lines"]] == [
        f"data race at {n}" for n in range(1, lines + 1)
    ]
    every_lines = [(item["job"], item["line"]) for post in every_posts for item in post["lines"]]
    for job in ("build.a.chatty", "build.a.twin"):
        assert [line for owner, line in every_lines if owner == job] == [
            f"data race at {n}" for n in range(1, lines + 1)
        ]
