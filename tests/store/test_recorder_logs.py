"""The recorder's log-line path: lines stored in compressed blocks, read back whole and in order."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from containerops.store import Store, logblocks
from containerops.store import schema as t
from containerops.timestamps import utc


def _run(store: Store) -> tuple[int, dict[str, int]]:
    flow_id, version_id, _ = store.save_flow("bench/logs/test", "x", "yaml")
    new = store.create_run(flow_id, version_id, "dummy", {}, [("s.a.one", None), ("s.a.two", None)])
    return new.id, new.job_ids


def test_every_line_is_stored_once_in_order_with_its_time(store: Store) -> None:
    """Lines of two jobs interleaved in one burst: each job's lines come back in their order,
    with their stream and time; the burst's lines are numbered 1..N, a job's lines together."""
    run_id, jobs = _run(store)
    recorder = store.recorder(run_id)
    base = datetime(2026, 11, 26, 16, 0, 0, 123456, tzinfo=UTC)
    shared = base + timedelta(seconds=1)
    written: dict[str, list[tuple[str, int, datetime, str, str]]] = {"s.a.one": [], "s.a.two": []}
    # More than a block's worth of lines for one job; times shared and distinct; both jobs.
    count = 2 * logblocks.MAX_LINES + 2 * 57
    for number in range(count):
        at = shared if number % 3 else base + timedelta(microseconds=number)
        job = "s.a.one" if number % 2 else "s.a.two"
        stream = "stderr" if number % 5 == 0 else "stdout"
        text = f"line {number} ünïcode 'quoted' \"too\"" if number % 7 else ""
        if number == 7:  # longer than MySQL's TEXT: a job may print one very long line
            text = "x" * 100_000
        if number == 11:  # only the engine's own messages could hold a newline: kept whole
            text = "two\nlines"
        seq = len(written[job]) + 1
        recorder.log(jobs[job], 1, seq, at, stream, text)
        written[job].append((job, seq, at, stream, text))
    assert recorder.pending_logs == count
    recorder.flush()
    assert recorder.pending_logs == 0
    stored = store.log_lines(run_id, limit=count + 1)
    assert [row.id for row in stored] == list(range(1, count + 1))
    for job, lines in written.items():
        assert [
            (row.job_path, row.seq, row.at, row.stream, row.line) for row in stored if row.job_path == job
        ] == lines
    with store.database.connect() as conn:
        blocks = conn.execute(sa.select(sa.func.count()).select_from(t.log_blocks)).scalar()
    assert blocks == 4  # each job: a full block and the rest


def test_times_keep_their_microseconds_and_come_back_in_utc(store: Store) -> None:
    run_id, jobs = _run(store)
    times = [
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 0, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 999999),  # naive: UTC
        datetime(2026, 1, 2, 5, 4, 5, 7, tzinfo=timezone(timedelta(hours=2))),  # stored in UTC
    ]
    recorder = store.recorder(run_id)
    for seq, at in enumerate(times, 1):
        recorder.log(jobs["s.a.one"], 1, seq, at, "stdout", "line")
    recorder.flush()
    read = [row.at for row in store.log_lines(run_id)]
    assert read == [utc(time) for time in times] and all(at.tzinfo is not None for at in read)
    with store.database.connect() as conn:
        first, last = conn.execute(sa.select(t.log_blocks.c.first_at, t.log_blocks.c.last_at)).one()
    assert (utc(first), utc(last)) == (utc(times[0]), utc(times[-1]))


def test_a_later_recorder_numbers_on_after_the_stored_lines(store: Store) -> None:
    """A run taken over by another process (a server restoring it) goes on numbering."""
    run_id, jobs = _run(store)
    now = datetime.now(UTC)
    for recorder in (store.recorder(run_id), store.recorder(run_id)):
        for _ in range(3):
            recorder.log_batch(jobs["s.a.two"], 1, 1, [now] * 2, ["stdout"] * 2, ["a", "b"])
            recorder.flush()
    assert [row.id for row in store.log_lines(run_id)] == list(range(1, 13))


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
        lines = conn.execute(sa.select(sa.func.count()).select_from(t.log_blocks)).scalar()
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
