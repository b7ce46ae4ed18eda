"""A flow's log rules on a live server: matching lines notify named receivers (rate-limited,
recorded as event ``log``), and every line is forwarded in signed batches to a sink that is
down for a while, none lost, none twice, in order."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

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
    assert "data race at 10 line 10" in alerts[0]["run"]["reason"]
    assert "data race at 20 line 20" in alerts[1]["run"]["reason"]
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
