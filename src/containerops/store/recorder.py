"""Batched writes of one run's progress.

A run of 10,000 jobs changes state tens of thousands of times and a chatty job
prints hundreds of thousands of lines: writing each on its own would make the
store, not the containers, the bottleneck. The recorder gathers changes in
memory and writes them in one transaction per burst (``flush``), merging
successive updates of the same row. The engine flushes on a short timer and at
every run-level change, so readers (``coops logs -f``) see lines within a
fraction of a second and nothing is lost when the run ends.

Log lines are stored as compressed blocks (``logblocks``: a row holds up to tens of
thousands of lines of one job attempt), numbered per run in the order they are
written. Log bursts are written by one writer thread (``flush(wait=False)``) while
the engine goes on reading the job's output: zstd and the database drivers release
the GIL while they work, so on two cores parsing and storing overlap. Batches are written in
the order they were flushed, at most ``_MAX_IN_FLIGHT`` wait at a time (the
engine stops reading, and so the job's pipe fills, until the writer catches up:
memory stays bounded), and ``flush()`` returns only when everything is stored.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from itertools import groupby
from typing import Any

import sqlalchemy as sa

from containerops.store import logblocks, workers
from containerops.store import schema as t
from containerops.store.reconnect import reconnecting
from containerops.store.values import history_row

_JOB_BY_ID = t.jobs.update().where(t.jobs.c.id == sa.bindparam("b_id"))
_ATTEMPT_BY_KEY = (
    t.job_attempts.update()
    .where(t.job_attempts.c.job_id == sa.bindparam("b_job_id"))
    .where(t.job_attempts.c.attempt == sa.bindparam("b_attempt"))
)


#: Bursts handed to the writer thread and not yet stored, at most (a burst is up to
#: the engine's FLUSH_LINES lines).
_MAX_IN_FLIGHT = 2

_Batch = tuple[
    dict[str, Any],
    dict[int, dict[str, Any]],
    dict[tuple[int, int], dict[str, Any]],
    dict[tuple[int, int], dict[str, Any]],
    list[dict[str, Any]],
    "_PendingLogs",
]


#: Lines added to a block at a time, its size checked in between (a block of long lines
#: ends soon after ``MAX_CHARS``).
_PIECE = 512


class _PendingLogs:
    """Pending log lines: their times, streams and texts column by column (a batch of lines
    is added with one ``extend`` a column), and which job attempt they belong to as
    segments ``[job_id, attempt, first_seq, start, count]`` (a segment grows while lines
    of one attempt come in order), so nothing is done per line in Python."""

    __slots__ = ("at", "line", "segments", "stream")

    def __init__(self) -> None:
        self.segments: list[list[int]] = []
        self.at: list[datetime] = []
        self.stream: list[str] = []
        self.line: list[str] = []

    def __len__(self) -> int:
        return len(self.line)

    def add_segment(self, job_id: int, attempt: int, first_seq: int, count: int) -> None:
        segments = self.segments
        if segments:
            last = segments[-1]
            if last[0] == job_id and last[1] == attempt and last[2] + last[4] == first_seq:
                last[4] += count
                return
        segments.append([job_id, attempt, first_seq, len(self.line), count])

    def blocks(self, run_id: int, next_line: int) -> list[dict[str, Any]]:
        """The rows of ``log_blocks`` holding these lines, numbered from ``next_line``: the
        lines of each job attempt together (in the order they came), in blocks of at most
        ``logblocks.MAX_LINES`` lines and about ``MAX_CHARS`` characters."""
        by_attempt: dict[tuple[int, int], list[list[int]]] = {}
        for segment in self.segments:
            by_attempt.setdefault((segment[0], segment[1]), []).append(segment)
        rows: list[dict[str, Any]] = []
        for (job_id, attempt), segments in by_attempt.items():
            block = _Block(job_id, attempt)
            for _, _, first_seq, start, count in segments:
                if block.lines and block.next_seq != first_seq:  # a gap in seq: a block of its own
                    next_line = block.store(rows, run_id, next_line)
                while count:
                    room = logblocks.MAX_LINES - len(block.lines)
                    if room <= 0 or block.chars >= logblocks.MAX_CHARS:
                        next_line = block.store(rows, run_id, next_line)
                        continue
                    take = min(room, count, _PIECE)
                    block.add(self, first_seq, start, take)
                    first_seq, start, count = first_seq + take, start + take, count - take
            next_line = block.store(rows, run_id, next_line)
        return rows


class _Block:
    """One block's lines as they are gathered (from the pending columns)."""

    __slots__ = ("attempt", "chars", "first_seq", "job_id", "lines", "next_seq", "streams", "times")

    def __init__(self, job_id: int, attempt: int) -> None:
        self.job_id, self.attempt = job_id, attempt
        self.first_seq = self.next_seq = self.chars = 0
        self.lines: list[str] = []
        self.streams: list[str] = []
        self.times: list[datetime] = []

    def add(self, logs: _PendingLogs, first_seq: int, start: int, count: int) -> None:
        if not self.lines:
            self.first_seq = first_seq
        lines = logs.line[start : start + count]
        self.lines += lines
        self.streams += logs.stream[start : start + count]
        self.times += logs.at[start : start + count]
        self.chars += sum(map(len, lines))
        self.next_seq = first_seq + count

    def store(self, rows: list[dict[str, Any]], run_id: int, first_line: int) -> int:
        """Add the block's row to ``rows`` (if it holds lines) and start afresh; the next line's number."""
        count = len(self.lines)
        if count:
            rows.append(
                {
                    "run_id": run_id,
                    "job_id": self.job_id,
                    "attempt": self.attempt,
                    "first_line": first_line,
                    "last_line": first_line + count - 1,
                    "first_seq": self.first_seq,
                    "first_at": self.times[0],
                    "last_at": self.times[-1],
                    "chars": self.chars,
                    "data": logblocks.encode(self.lines, self.streams, self.times),
                }
            )
        self.lines, self.streams, self.times, self.chars = [], [], [], 0
        return first_line + count


class Recorder:
    """Pending writes for one run. Not thread-safe: the engine's event loop owns it (its
    writer thread only ever sees batches already taken out of it)."""

    def __init__(
        self,
        engine: sa.Engine,
        run_id: int,
        *,
        mask: Callable[[str], str] | None = None,
        on_logs: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self.run_id = run_id
        #: Called (from the writer thread, too) once lines are stored: a server wakes the
        #: Server-Sent Events streams of the run at once instead of at their next poll.
        self.on_logs = on_logs
        #: Applied to every reason and output value before it is kept (the engine's secret
        #: masker), so that a script's ``fail("..." .. secret)`` reaches no row in clear. Log
        #: lines come already masked: the engine reads outputs from the masked text.
        self.mask = mask
        self._run: dict[str, Any] = {}
        self._jobs: dict[int, dict[str, Any]] = {}
        self._attempt_inserts: dict[tuple[int, int], dict[str, Any]] = {}
        self._attempt_updates: dict[tuple[int, int], dict[str, Any]] = {}
        self._changes: list[dict[str, Any]] = []
        self._logs = _PendingLogs()
        #: The number the run's next stored line gets (read from the store at the first write).
        self._next_line: int | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._in_flight: deque[Future[None]] = deque()
        #: A log line's time as it is stored, converted when the line is reported.

    # -- gathering ---------------------------------------------------------
    def run(self, status: str, at: datetime, reason: str | None = None, **fields: Any) -> None:
        """A run-level state change; recorded with its time."""
        reason = self._masked_text(reason)
        self._run.update(status=status, reason=reason, **fields)
        self.change(None, None, status, at, reason)

    def run_owner(self, owner: str, at: datetime) -> None:
        """Another process took the run over (a server restoring a paused run)."""
        self._run.update(owner=owner, heartbeat_at=at)

    def heartbeat(self, at: datetime) -> None:
        """The run's owner is alive (no history row: it is not a change of state)."""
        self._run["heartbeat_at"] = at

    def job(self, job_id: int, **fields: Any) -> None:
        """Update columns of a job row (merged with earlier pending updates)."""
        self._jobs.setdefault(job_id, {}).update(self._masked(fields))

    def attempt(self, job_id: int, attempt: int, **fields: Any) -> None:
        """Create or update the row of one attempt of a job."""
        fields = self._masked(fields)
        key = (job_id, attempt)
        pending = self._attempt_inserts.get(key)
        if pending is not None:
            pending.update(fields)
        elif fields.pop("_new", False):
            row = {"job_id": job_id, "run_id": self.run_id, "attempt": attempt, "outputs": {}}
            row.update(fields)
            self._attempt_inserts[key] = row
        else:
            self._attempt_updates.setdefault(key, {}).update(fields)

    def change(
        self, job_id: int | None, attempt: int | None, status: str, at: datetime, reason: str | None
    ) -> None:
        """A state change of a job (or, with no job, of the run), kept forever as the run's history."""
        self._changes.append(history_row(self.run_id, job_id, attempt, status, self._masked_text(reason), at))

    def _masked_text(self, text: str | None) -> str | None:
        return text if text is None or self.mask is None else self.mask(text)

    def _masked(self, fields: dict[str, Any]) -> dict[str, Any]:
        """``fields`` with its reason and output values masked."""
        if self.mask is None:
            return fields
        if fields.get("reason") is not None:
            fields["reason"] = self.mask(fields["reason"])
        if fields.get("outputs"):
            fields["outputs"] = {key: self.mask(value) for key, value in fields["outputs"].items()}
        return fields

    def log(self, job_id: int, attempt: int, seq: int, at: datetime, stream: str, line: str) -> None:
        logs = self._logs
        logs.add_segment(job_id, attempt, seq, 1)
        logs.at.append(at)
        logs.stream.append(stream)
        logs.line.append(line)

    def log_batch(
        self,
        job_id: int,
        attempt: int,
        first_seq: int,
        times: Sequence[datetime],
        streams: Sequence[str],
        lines: Sequence[str],
    ) -> None:
        """Many lines at once: one ``extend`` a column (C, no Python per line)."""
        count = len(lines)
        if not count:
            return
        logs = self._logs
        logs.add_segment(job_id, attempt, first_seq, count)
        logs.at += times
        logs.stream += streams
        logs.line += lines

    @property
    def pending_logs(self) -> int:
        return len(self._logs)

    # -- writing -----------------------------------------------------------
    def flush(self, *, wait: bool = True) -> None:
        """Write everything gathered so far in one transaction.

        With ``wait=False`` the writer thread stores it while the caller goes on; the
        call blocks only while more than ``_MAX_IN_FLIGHT`` bursts are unwritten. With
        ``wait`` (the default) it returns once this and every earlier burst is stored,
        and raises the first failure among them.
        """
        batch = self._take()
        if batch is not None:
            if wait and not self._in_flight:
                self._write(batch)
            else:
                if self._writer is None:
                    self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="coops-recorder")
                self._in_flight.append(self._writer.submit(self._write, batch))
        limit = 0 if wait else _MAX_IN_FLIGHT
        try:
            while self._in_flight and (len(self._in_flight) > limit or self._in_flight[0].done()):
                self._in_flight.popleft().result()  # a failed write shows here, the first first
        finally:
            if wait and self._writer is not None:
                self._writer.shutdown()  # no idle thread outlives the run; made again on demand
                self._writer = None
                self._in_flight.clear()

    def _take(self) -> _Batch | None:
        """What is pending, taken out of the recorder (None when nothing is)."""
        if not (
            self._run
            or self._jobs
            or self._attempt_inserts
            or self._attempt_updates
            or self._changes
            or self._logs
        ):
            return None
        batch = (
            self._run,
            self._jobs,
            self._attempt_inserts,
            self._attempt_updates,
            self._changes,
            self._logs,
        )
        self._run, self._jobs, self._attempt_inserts = {}, {}, {}
        self._attempt_updates, self._changes, self._logs = {}, [], _PendingLogs()
        return batch

    def _write(self, batch: _Batch) -> None:
        reconnecting(self._write_once, batch)  # a database restart cuts it: written again
        if batch[5] and self.on_logs is not None:
            self.on_logs()

    def _write_once(self, batch: _Batch) -> None:
        next_line = self._next_line
        try:
            with self._engine.begin() as conn:
                self._write_in(conn, batch)
        except BaseException:
            self._next_line = next_line  # nothing was stored: the lines keep their numbers
            raise

    def _write_in(self, conn: sa.Connection, batch: _Batch) -> None:
        run, jobs, inserts, updates, changes, logs = batch
        if run:
            conn.execute(t.runs.update().where(t.runs.c.id == self.run_id).values(**run))
            if run.get("finished_at") is not None:
                workers.drop_run_lines(conn, self.run_id)
        if inserts:
            for rows in _uniform(list(inserts.values())):
                conn.execute(t.job_attempts.insert(), rows)
        if updates:
            rows = [{"b_job_id": k[0], "b_attempt": k[1], **_prefixed(v)} for k, v in updates.items()]
            for group in _uniform(rows):
                conn.execute(_ATTEMPT_BY_KEY.values(_bind_all(group[0])), group)
        if jobs:
            rows = [{"b_id": job_id, **_prefixed(v)} for job_id, v in jobs.items()]
            for group in _uniform(rows):
                conn.execute(_JOB_BY_ID.values(_bind_all(group[0])), group)
        if changes:
            conn.execute(t.state_changes.insert(), changes)
        if logs:
            if self._next_line is None:  # after the lines an earlier process stored, if any
                last = sa.select(sa.func.max(t.log_blocks.c.last_line)).where(
                    t.log_blocks.c.run_id == self.run_id
                )
                self._next_line = int(conn.execute(last).scalar() or 0) + 1
            blocks = logs.blocks(self.run_id, self._next_line)
            conn.execute(t.log_blocks.insert(), blocks)
            self._next_line = blocks[-1]["last_line"] + 1


def _uniform(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split rows into groups with the same keys, as executemany requires."""

    def keys(row: dict[str, Any]) -> tuple[str, ...]:
        return tuple(sorted(row))

    return [list(group) for _, group in groupby(sorted(rows, key=keys), key=keys)]


def _prefixed(values: dict[str, Any]) -> dict[str, Any]:
    """Bind names may not equal column names in an UPDATE's SET clause."""
    return {f"v_{key}": value for key, value in values.items()}


def _bind_all(row: dict[str, Any]) -> dict[str, Any]:
    """``SET col = :v_col`` for every value column of a (uniform) row."""
    return {key[2:]: sa.bindparam(key) for key in row if key.startswith("v_")}
