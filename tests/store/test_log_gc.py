"""Removing old logs: only ended runs older than the cut lose their lines (of one flow when
asked), a dry run removes nothing, and a live run goes on writing while lines are removed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from containerops.store import Store
from containerops.store import schema as t
from containerops.store.loggc import remove_old_logs
from containerops.store.logs import line_count
from containerops.store.metrics import figures

LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def _run(store: Store, uri: str, status: str, finished: datetime | None, lines: int = 3000) -> int:
    flow_id, version_id, _ = store.save_flow(uri, "x", "yaml")
    new = store.create_run(flow_id, version_id, "dummy", {}, [("s.a.j", None)])
    recorder = store.recorder(new.id)
    now = datetime.now(UTC)
    for start in range(0, lines, 1000):
        texts = [f"line {n}" for n in range(start, start + 1000)]
        recorder.log_batch(new.job_ids["s.a.j"], 1, start + 1, [now] * 1000, ["stdout"] * 1000, texts)
        recorder.flush()  # a block a flush
    recorder.run(status, now, finished_at=finished)
    recorder.flush()
    return new.id


def test_only_old_ended_runs_lose_their_lines(store: Store) -> None:
    old = _run(store, "team/app/ci", "success", LONG_AGO)
    old_failed = _run(store, "team/app/ci", "failure", LONG_AGO + timedelta(days=1))
    old_other = _run(store, "team/web/ci", "success", LONG_AGO)
    live = _run(store, "team/app/ci", "running", None)  # created now; live whatever its age
    recent = _run(store, "team/app/ci", "success", datetime.now(UTC))
    cut = datetime.now(UTC) - timedelta(days=30)

    dry = remove_old_logs(store, cut, flow="team/app/ci", dry_run=True)
    assert (dry.runs, dry.blocks, dry.lines, dry.dry_run) == (2, 6, 6000, True)
    assert dry.bytes_after == dry.bytes_before > 0
    assert line_count(store, old) == 3000

    done = remove_old_logs(store, cut, flow="team/app/ci", batch=2)
    assert (done.runs, done.blocks, done.lines) == (2, 6, 6000)
    assert 0 < done.bytes_after < done.bytes_before
    counts = {run: line_count(store, run) for run in (old, old_failed, old_other, live, recent)}
    assert counts == {old: 0, old_failed: 0, old_other: 3000, live: 3000, recent: 3000}
    assert store.get_run(old).status == "success"  # the run itself stays

    everything = remove_old_logs(store, cut)
    assert (everything.runs, everything.lines) == (1, 3000)
    assert line_count(store, old_other) == 0 and line_count(store, live) == 3000
    assert remove_old_logs(store, cut).blocks == 0


def test_a_live_run_writes_on_while_old_lines_go(store: Store) -> None:
    for _ in range(4):
        _run(store, "team/app/ci", "success", LONG_AGO, lines=5000)
    flow_id, version_id, _ = store.save_flow("team/app/live", "x", "yaml")
    new = store.create_run(flow_id, version_id, "dummy", {}, [("s.a.j", None)])
    errors: list[BaseException] = []

    def write() -> None:
        try:
            recorder = store.recorder(new.id)
            now = datetime.now(UTC)
            for start in range(0, 20_000, 500):
                texts = [f"live {n}" for n in range(start, start + 500)]
                recorder.log_batch(new.job_ids["s.a.j"], 1, start + 1, [now] * 500, ["stdout"] * 500, texts)
                recorder.flush()
        except BaseException as error:
            errors.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    done = remove_old_logs(store, datetime.now(UTC) - timedelta(days=1), batch=1)
    writer.join(60)
    assert not errors and done.lines == 20_000
    assert [row.line for row in store.log_lines(new.id, limit=30_000)] == [f"live {n}" for n in range(20_000)]
    with store.database.connect() as conn:
        left = conn.execute(sa.select(sa.func.count(sa.distinct(t.log_blocks.c.run_id)))).scalar()
    assert left == 1


def test_the_lines_stored_counter_keeps_what_gc_removed(store: Store) -> None:
    """``/metrics``' ``coops_log_lines_stored_total`` is a counter: gc must not make it go down."""
    stored_before = figures(store).log_lines
    old = _run(store, "team/app/ci", "success", LONG_AGO)
    _run(store, "team/app/ci", "success", datetime.now(UTC), lines=2000)
    assert figures(store).log_lines == stored_before + 5000

    assert remove_old_logs(store, datetime.now(UTC) - timedelta(days=30), batch=2).lines == 3000
    assert line_count(store, old) == 0
    assert figures(store).log_lines == stored_before + 5000  # held 2,000 + removed 3,000
    _run(store, "team/app/ci", "success", datetime.now(UTC), lines=1000)
    assert figures(store).log_lines == stored_before + 6000
