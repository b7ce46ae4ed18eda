"""The server's log retention: lines of runs that ended longer ago than the setting go, on
the server's own timer; others stay."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tests.server.conftest import LiveServer

from containerops.store import Store
from containerops.store.logs import line_count


def _ended_run(store: Store, uri: str, finished: datetime) -> int:
    flow_id, version_id, _ = store.save_flow(uri, "x", "yaml")
    new = store.create_run(flow_id, version_id, "dummy", {}, [("s.a.j", None)])
    recorder = store.recorder(new.id)
    now = datetime.now(UTC)
    recorder.log_batch(new.job_ids["s.a.j"], 1, 1, [now] * 3, ["stdout"] * 3, ["a", "b", "c"])
    recorder.run("success", now, finished_at=finished)
    recorder.flush()
    return new.id


def test_the_server_removes_old_logs_on_its_own(
    store: Store, start_server: Callable[..., LiveServer]
) -> None:
    old = _ended_run(store, "team/app/ci", datetime.now(UTC) - timedelta(days=40))
    recent = _ended_run(store, "team/app/ci", datetime.now(UTC) - timedelta(days=2))
    start_server(log_retention=timedelta(days=30).total_seconds(), retention_every=0.2)
    deadline = time.monotonic() + 20
    while line_count(store, old) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert line_count(store, old) == 0
    assert line_count(store, recent) == 3
