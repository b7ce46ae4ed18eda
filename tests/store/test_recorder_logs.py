"""The recorder's log-line path: many rows per statement on SQLite, same rows as SQLAlchemy writes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from containerops.store import Store
from containerops.store import schema as t
from containerops.store.recorder import _ROWS_PER_INSERT
from containerops.timestamps import utc


def _run(store: Store) -> tuple[int, dict[str, int]]:
    flow_id, version_id, _ = store.save_flow("bench/logs/test", "x", "yaml")
    new = store.create_run(flow_id, version_id, "dummy", {}, [("s.a.one", None), ("s.a.two", None)])
    return new.id, new.job_ids


def test_every_line_is_stored_once_in_order_with_its_time(store: Store) -> None:
    run_id, jobs = _run(store)
    recorder = store.recorder(run_id)
    base = datetime(2026, 11, 26, 16, 0, 0, 123456, tzinfo=UTC)
    shared = base + timedelta(seconds=1)
    written = []
    # 2 full statements and a remainder of 57 rows; times shared and distinct; both jobs.
    count = 2 * _ROWS_PER_INSERT + 57
    for number in range(count):
        at = shared if number % 3 else base + timedelta(microseconds=number)
        job = "s.a.one" if number % 2 else "s.a.two"
        stream = "stderr" if number % 5 == 0 else "stdout"
        text = f"line {number} ünïcode 'quoted' \"too\"" if number % 7 else ""
        if number == 7:  # longer than MySQL's TEXT: a job may print one very long line
            text = "x" * 100_000
        recorder.log(jobs[job], 1, number + 1, at, stream, text)
        written.append((job, number + 1, at, stream, text))
    assert recorder.pending_logs == count
    recorder.flush()
    assert recorder.pending_logs == 0
    stored = store.log_lines(run_id)
    assert [(row.job_path, row.seq, row.at, row.stream, row.line) for row in stored] == written
    assert [row.id for row in stored] == sorted(row.id for row in stored)


def test_stored_times_are_the_text_sqlalchemy_itself_writes(store: Store) -> None:
    """On SQLite the fast path writes the very text SQLAlchemy would; elsewhere both store
    the same UTC instant, microseconds kept."""
    run_id, jobs = _run(store)
    times = [
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 0, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 1, 2, 3, 4, 5, 999999),  # naive: UTC
        datetime(2026, 1, 2, 5, 4, 5, 7, tzinfo=timezone(timedelta(hours=2))),  # stored in UTC
    ]
    with store.database.begin() as conn:  # the generic path
        conn.execute(
            t.log_lines.insert(),
            [
                {
                    "run_id": run_id,
                    "job_id": jobs["s.a.one"],
                    "attempt": 1,
                    "seq": seq,
                    "at": at,
                    "stream": "stdout",
                    "line": "generic",
                }
                for seq, at in enumerate(times, 1)
            ],
        )
    recorder = store.recorder(run_id)
    for seq, at in enumerate(times, 5):
        recorder.log(jobs["s.a.one"], 1, seq, at, "stdout", "fast")
    recorder.flush()
    with store.database.connect() as conn:
        raw = [tuple(row) for row in conn.exec_driver_sql("SELECT line, at FROM log_lines ORDER BY id")]
    generic, fast = raw[:4], raw[4:]
    assert [at for _, at in fast] == [at for _, at in generic]
    if store.database.dialect.name == "sqlite":
        assert [at for _, at in generic] == [  # RFC 3339 with its offset, as the API and CLI show it
            "2026-01-02T03:04:05.000006+00:00",
            "2026-01-02T03:04:05.000000+00:00",
            "2026-01-02T03:04:05.999999+00:00",
            "2026-01-02T03:04:05.000007+00:00",
        ]
    else:  # the database's own time type, to the microsecond (MySQL's DATETIME(6) naive, in UTC)
        assert [utc(at) for _, at in generic] == [
            datetime(2026, 1, 2, 3, 4, 5, micro, tzinfo=UTC) for micro in (6, 0, 999999, 7)
        ]
    read = [row.at for row in store.log_lines(run_id)]
    assert read == [utc(time) for time in times] * 2 and all(at.tzinfo is not None for at in read)


def test_lines_and_state_changes_share_one_transaction(store: Store) -> None:
    run_id, jobs = _run(store)
    recorder = store.recorder(run_id)
    now = datetime.now(UTC)
    recorder.change(jobs["s.a.one"], 1, "running", now, None)
    for seq in range(1, 151):
        recorder.log(jobs["s.a.one"], 1, seq, now, "stdout", f"{seq}")
    # A line of a job that does not exist breaks the foreign key: nothing of the burst may stay.
    recorder.log(10_000, 1, 1, now, "stdout", "orphan")
    try:
        recorder.flush()
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("a line of an unknown job was stored")
    with store.database.connect() as conn:
        lines = conn.execute(sa.select(sa.func.count()).select_from(t.log_lines)).scalar()
        changes = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.state_changes)
            .where(t.state_changes.c.job_id.is_not(None))
        ).scalar()
    assert (lines, changes) == (0, 0)


def test_bursts_written_in_the_background_arrive_whole_and_in_order(store: Store) -> None:
    run_id, jobs = _run(store)
    recorder = store.recorder(run_id)
    now = datetime.now(UTC)
    seq = 0
    for burst in range(12):
        recorder.change(jobs["s.a.one"], 1, "running" if burst % 2 else "pending", now, None)
        for _ in range(1_000):
            seq += 1
            recorder.log(jobs["s.a.one"], 1, seq, now, "stdout", f"line {seq}")
        recorder.flush(wait=False)  # returns before the burst is stored: at most a few wait
    recorder.flush()
    stored = store.log_lines(run_id, limit=20_000)
    assert [row.line for row in stored] == [f"line {n}" for n in range(1, seq + 1)]
    with store.database.connect() as conn:
        statuses = conn.execute(
            sa.select(t.state_changes.c.status)
            .where(t.state_changes.c.job_id.is_not(None))
            .order_by(t.state_changes.c.id)
        ).scalars()
        assert list(statuses) == ["running" if burst % 2 else "pending" for burst in range(12)]
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("coops-recorder")]


def test_a_background_write_that_fails_is_raised_by_the_flush_that_waits(store: Store) -> None:
    run_id, jobs = _run(store)
    recorder = store.recorder(run_id)
    now = datetime.now(UTC)
    recorder.log(jobs["s.a.one"], 1, 1, now, "stdout", "kept")
    recorder.flush(wait=False)
    recorder.log(10_000, 1, 1, now, "stdout", "orphan")  # no such job: the foreign key refuses it
    with pytest.raises(sa.exc.IntegrityError):
        recorder.flush(wait=False)
        recorder.flush()
    assert [row.line for row in store.log_lines(run_id)] == ["kept"]
