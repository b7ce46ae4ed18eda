"""Batched writes of one run's progress.

A run of 10,000 jobs changes state tens of thousands of times and a chatty job
prints hundreds of thousands of lines: writing each on its own would make the
store, not the containers, the bottleneck. The recorder gathers changes in
memory and writes them in one transaction per burst (``flush``), merging
successive updates of the same row. The engine flushes on a short timer and at
every run-level change, so readers (``coops logs -f``) see lines within a
fraction of a second and nothing is lost when the run ends.

Log bursts are written by one writer thread (``flush(wait=False)``) while the
engine goes on reading the job's output: Python's sqlite3 releases the GIL while
SQLite works, so on two cores parsing and storing overlap. Batches are written in
the order they were flushed, at most ``_MAX_IN_FLIGHT`` wait at a time (the
engine stops reading, and so the job's pipe fills, until the writer catches up:
memory stays bounded), and ``flush()`` returns only when everything is stored.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from itertools import chain, groupby, repeat
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.values import history_row
from containerops.timestamps import rfc3339

_JOB_BY_ID = t.jobs.update().where(t.jobs.c.id == sa.bindparam("b_id"))
_ATTEMPT_BY_KEY = (
    t.job_attempts.update()
    .where(t.job_attempts.c.job_id == sa.bindparam("b_job_id"))
    .where(t.job_attempts.c.attempt == sa.bindparam("b_attempt"))
)


_LOG_COLUMNS = ("run_id", "job_id", "attempt", "seq", "at", "stream", "line")
#: Rows per INSERT statement: 28,000 parameters, under the limit of 32,766 of SQLite 3.32 and
#: later (each statement is one stretch of SQLite work without the GIL); 100 rows (700) under the
#: limit of 999 of older ones.
_ROWS_PER_INSERT, _ROWS_PER_INSERT_OLD = 4000, 100
#: Bursts handed to the writer thread and not yet stored, at most (a burst is up to
#: the engine's FLUSH_LINES lines).
_MAX_IN_FLIGHT = 2

_Batch = tuple[
    dict[str, Any],
    dict[int, dict[str, Any]],
    dict[tuple[int, int], dict[str, Any]],
    dict[tuple[int, int], dict[str, Any]],
    list[dict[str, Any]],
    list[tuple[Any, ...]],
]


class Recorder:
    """Pending writes for one run. Not thread-safe: the engine's event loop owns it (its
    writer thread only ever sees batches already taken out of it)."""

    def __init__(self, engine: sa.Engine, run_id: int, *, mask: Callable[[str], str] | None = None) -> None:
        self._engine = engine
        self.run_id = run_id
        #: Applied to every reason and output value before it is kept (the engine's secret
        #: masker), so that a script's ``fail("..." .. secret)`` reaches no row in clear. Log
        #: lines come already masked: the engine reads outputs from the masked text.
        self.mask = mask
        self._run: dict[str, Any] = {}
        self._jobs: dict[int, dict[str, Any]] = {}
        self._attempt_inserts: dict[tuple[int, int], dict[str, Any]] = {}
        self._attempt_updates: dict[tuple[int, int], dict[str, Any]] = {}
        self._changes: list[dict[str, Any]] = []
        self._logs: list[tuple[Any, ...]] = []
        self._writer: ThreadPoolExecutor | None = None
        self._in_flight: deque[Future[None]] = deque()
        #: A log line's time as it is stored, converted when the line is reported.
        self._stamp = _time_processor(engine.dialect)

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
        # A tuple in the order of _LOG_COLUMNS: the cheapest record of the busiest path.
        self._logs.append((self.run_id, job_id, attempt, seq, self._stamp(at), stream, line))

    def log_batch(
        self,
        job_id: int,
        attempt: int,
        first_seq: int,
        times: Sequence[datetime],
        streams: Sequence[str],
        lines: Sequence[str],
    ) -> None:
        """Many lines at once: their rows are made by ``zip`` (C, no Python per line), and a
        batch's lines usually share one time (that of the read), converted once."""
        count = len(lines)
        if not count:
            return
        first = times[0]
        shared = times.count(first) == count
        stamps: Iterable[Any] = repeat(self._stamp(first), count) if shared else map(self._stamp, times)
        self._logs.extend(
            zip(
                repeat(self.run_id, count),
                repeat(job_id, count),
                repeat(attempt, count),
                range(first_seq, first_seq + count),
                stamps,
                streams,
                lines,
                strict=False,
            )
        )

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
        self._attempt_updates, self._changes, self._logs = {}, [], []
        return batch

    def _write(self, batch: _Batch) -> None:
        logs = batch[5]
        with self._engine.connect() as conn:
            # SQLite would look both foreign keys of every log row up (a quarter of the cost of
            # storing it): instead, the jobs a burst's lines name are looked up once, in the
            # same transaction (_check_log_jobs), and the check is off while they are written.
            relaxed = bool(logs) and conn.dialect.name == "sqlite"
            if relaxed:
                _foreign_keys(conn, on=False)
            try:
                with conn.begin():
                    self._write_in(conn, batch)
            finally:
                if relaxed:
                    _foreign_keys(conn, on=True)

    def _write_in(self, conn: sa.Connection, batch: _Batch) -> None:
        run, jobs, inserts, updates, changes, logs = batch
        if run:
            conn.execute(t.runs.update().where(t.runs.c.id == self.run_id).values(**run))
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
            if conn.dialect.name == "sqlite":
                _check_log_jobs(conn, self.run_id, logs)
            _insert_logs(conn, logs)


def _check_log_jobs(conn: sa.Connection, run_id: int, rows: list[tuple[Any, ...]]) -> None:
    """The foreign keys of log rows, checked once per burst: every job they name is a job of
    the run (so both exist); else the same error the database's own check raises."""
    named = set(map(itemgetter(1), rows))
    known = conn.execute(sa.select(t.jobs.c.id).where(t.jobs.c.run_id == run_id, t.jobs.c.id.in_(named)))
    unknown = named - set(known.scalars())
    if unknown:
        orig = conn.dialect.dbapi.IntegrityError(  # type: ignore[union-attr]
            f"FOREIGN KEY constraint failed: log lines of jobs {sorted(unknown)} not in run {run_id}"
        )
        raise sa.exc.IntegrityError(f"INSERT INTO {t.log_lines.name}", None, orig)


def _foreign_keys(conn: sa.Connection, *, on: bool) -> None:
    """Turn SQLite's foreign key checks on or off for this connection (outside a transaction)."""
    conn.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    conn.commit()


def _insert_logs(conn: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert log lines: on SQLite straight through the driver, many rows a statement.

    A chatty job stores hundreds of thousands of lines a second. SQLAlchemy's
    per-row parameter handling would cost more than SQLite itself, and one
    ``INSERT ... VALUES (...), (...), ...`` of many rows costs SQLite a third less
    than as many single-row inserts; in the writer thread, each statement is also
    one release of the GIL rather than one a row. The values are the same either way: timestamps went
    through the column type's own bind processor when the lines were reported (once per
    distinct time: the lines of one read share it), in the same transaction, in the same order.
    """
    dialect = conn.dialect
    if dialect.name != "sqlite":
        conn.execute(t.log_lines.insert(), [dict(zip(_LOG_COLUMNS, row, strict=True)) for row in rows])
        return
    per_insert = _rows_per_insert(dialect)
    flat = list(chain.from_iterable(rows))  # times are already as stored (Recorder._stamp)
    step = per_insert * len(_LOG_COLUMNS)
    whole = len(flat) // step * step
    if whole:
        chunks = [tuple(flat[start : start + step]) for start in range(0, whole, step)]
        conn.exec_driver_sql(_log_insert(per_insert), chunks)
    if whole < len(flat):
        conn.exec_driver_sql(_log_insert(len(rows) % per_insert), [tuple(flat[whole:])])


@functools.cache
def _rows_per_insert(dialect: sa.Dialect) -> int:
    version: tuple[int, ...] = getattr(dialect.dbapi, "sqlite_version_info", (0,))
    return _ROWS_PER_INSERT if version >= (3, 32, 0) else _ROWS_PER_INSERT_OLD


@functools.cache
def _time_processor(dialect: sa.Dialect) -> Callable[[Any], Any]:
    """How a log line's time is stored on SQLite: the column type's own bind processor, or
    the same text made by ``datetime.isoformat`` (C, several times faster) when both agree.
    Other databases take the datetime as it is (through SQLAlchemy's own insert).

    Lines read through the json-file log each have their own time, so this can run once
    per line.
    """
    generic = t.log_lines.c.at.type.dialect_impl(dialect).bind_processor(dialect)
    if generic is None or dialect.name != "sqlite":
        return lambda value: value

    def fast(value: Any) -> Any:
        if isinstance(value, datetime):
            return rfc3339(value)
        return generic(value)

    probes = [
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(1999, 6, 7, 8, 9, 10, 999999),
    ]
    return fast if all(fast(probe) == generic(probe) for probe in probes) else generic


@functools.cache
def _log_insert(rows: int) -> str:
    """``INSERT INTO log_lines (...) VALUES (?, ...), (?, ...)`` for ``rows`` rows."""
    values = "(" + ", ".join("?" * len(_LOG_COLUMNS)) + ")"
    return f"INSERT INTO {t.log_lines.name} ({', '.join(_LOG_COLUMNS)}) VALUES " + ", ".join([values] * rows)


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
