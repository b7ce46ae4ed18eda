"""Reading a run's log lines back (the recorder writes them), and the job paths a log
request may name.

``Store.log_lines`` is :func:`log_lines` (the CLI, the API and many tests read logs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.rows import LogRow
from containerops.store.values import utcnow

if TYPE_CHECKING:  # for annotations only: store.py binds log_lines as a method
    from containerops.store.store import Store


def _stored_time(value: Any) -> datetime:
    """A timestamp as a database returns it, read as UTC: ISO 8601 text from SQLite, a
    datetime from databases with a real type."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return utcnow()
    else:
        parsed = value
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


def log_lines(
    store: Store, run_id: int, *, job_path: str | None = None, after_id: int = 0, limit: int = 10_000
) -> list[LogRow]:
    """Log lines of a run (or one job) after ``after_id``, in the order they were stored.

    ``coops logs -f`` reads a chatty job's lines as fast as they are stored, so
    this is lean: the run's job paths are read once, not joined into every row,
    and timestamps are parsed by ``datetime.fromisoformat`` (what SQLite holds is
    ISO 8601) rather than per row by the column type.
    """
    with store.database.connect() as conn:
        jobs = sa.select(t.jobs.c.id, t.jobs.c.path).where(t.jobs.c.run_id == run_id)
        paths: dict[int, str] = {row.id: row.path for row in conn.execute(jobs)}
        query = (
            sa.select(
                t.log_lines.c.id,
                t.log_lines.c.job_id,
                t.log_lines.c.attempt,
                t.log_lines.c.seq,
                sa.type_coerce(t.log_lines.c.at, sa.String).label("at"),
                t.log_lines.c.stream,
                t.log_lines.c.line,
            )
            .where(t.log_lines.c.run_id == run_id, t.log_lines.c.id > after_id)
            .order_by(t.log_lines.c.id)
            .limit(limit)
        )
        if job_path:
            job_ids = [job_id for job_id, path in paths.items() if path == job_path]
            query = query.where(t.log_lines.c.job_id.in_(job_ids))
        rows = conn.execute(query).all()
    found: list[LogRow] = []
    last_text: Any = None
    last_time = utcnow()
    for row_id, job_id, attempt, seq, at, stream, line in rows:
        if at != last_text:  # the lines of one read share their time: parse it once
            last_text, last_time = at, _stored_time(at)
        found.append(LogRow(row_id, paths[job_id], attempt, seq, last_time, stream, line))
    return found


#: One stored line as :func:`raw_log_lines` gives it: (id, job_id, attempt, stream, at, line);
#: ``at`` is the stored time (RFC 3339 text on SQLite), or None when not asked for.
RawLine = tuple[int, int, int, str, Any, str]


def raw_log_lines(
    store: Store,
    run_id: int,
    *,
    job_path: str | None = None,
    after_id: int = 0,
    limit: int = 100_000,
    tail: int | None = None,
    with_times: bool = False,
) -> tuple[dict[int, str], list[RawLine]]:
    """The run's job paths by id, and its lines after ``after_id`` as the driver returns them
    (no object per line): for printing a whole log, a million lines, in about a second.

    With ``tail``, the last ``tail`` lines instead (``after_id`` and ``limit`` unused): read
    backwards along the index on (run_id, id), or on job_id (SQLite keeps the row id in
    every index, so that one orders a job's lines too), so its cost does not grow with the
    log's size.
    """
    c = t.log_lines.c
    with store.database.connect() as conn:
        paths = _paths(conn, run_id)
        at = sa.type_coerce(c.at, sa.String) if with_times else sa.null()
        query = sa.select(c.id, c.job_id, c.attempt, c.stream, at, c.line).where(
            _lines_of(run_id, paths, job_path)
        )
        if tail is not None:
            rows = conn.execute(query.order_by(c.id.desc()).limit(tail)).all()[::-1]
        else:
            rows = conn.execute(query.where(c.id > after_id).order_by(c.id).limit(limit)).all()
    return paths, rows  # type: ignore[return-value]


class TextRun(NamedTuple):
    """Lines in a row of one job, attempt and stream, as one text (``\\n`` between them)."""

    job_id: int
    attempt: int
    stream: str
    last_id: int
    text: str


#: A run shorter than this (lines of different jobs or streams interleaved) ends the run-by-run
#: reading of a page: the rest of the page is read row by row, as three queries a run would
#: cost more than its rows.
_SHORT_RUN = 200


def log_text_runs(
    store: Store, run_id: int, *, job_path: str | None = None, after_id: int = 0, limit: int = 500_000
) -> tuple[dict[int, str], list[TextRun]]:
    """The run's job paths by id, and its lines after ``after_id`` (at most ``limit``) as runs of
    lines sharing job, attempt and stream, each run's text joined by the database.

    Printing a whole log of a million lines is then a few queries and strings, not a million
    rows turned into Python objects: per run, one query finds the first line of another job,
    attempt or stream (a scan in SQLite's C code), one concatenates the run's lines in id order
    (``group_concat`` over an ordered subquery, which SQLite does not flatten). Where runs are
    short, and on databases other than SQLite, the rows are read and grouped here.
    """
    c = t.log_lines.c
    runs: list[TextRun] = []
    with store.database.connect() as conn:
        paths = _paths(conn, run_id)
        where = _lines_of(run_id, paths, job_path)
        position, left = after_id, limit
        while left > 0 and conn.dialect.name == "sqlite":
            first = conn.execute(
                sa.select(c.id, c.job_id, c.attempt, c.stream)
                .where(where, c.id > position)
                .order_by(c.id)
                .limit(1)
            ).first()
            if first is None:
                return paths, runs
            start, job_id, attempt, stream = first
            page = (
                sa.select(c.id, c.job_id, c.attempt, c.stream)
                .where(where, c.id >= start)
                .order_by(c.id)
                .limit(left)
                .subquery()
            )
            differs = sa.or_(page.c.job_id != job_id, page.c.attempt != attempt, page.c.stream != stream)
            end = conn.execute(sa.select(sa.func.min(page.c.id)).where(differs)).scalar()
            span = sa.select(c.id, c.line).where(where, c.id >= start).order_by(c.id).limit(left)
            if end is not None:
                span = span.where(c.id < end)
            lines = span.subquery()
            last, count, text = conn.execute(
                sa.select(sa.func.max(lines.c.id), sa.func.count(), sa.func.group_concat(lines.c.line, "\n"))
            ).one()
            runs.append(TextRun(job_id, attempt, stream, last, text))
            position, left = last, left - count
            if count < _SHORT_RUN:
                break
        if left > 0:
            rows = conn.execute(
                sa.select(c.id, c.job_id, c.attempt, c.stream, c.line)
                .where(where, c.id > position)
                .order_by(c.id)
                .limit(left)
            ).all()
            for (job_id, attempt, stream), group in groupby(rows, key=itemgetter(1, 2, 3)):
                lines_of_run = list(group)
                text = "\n".join(map(itemgetter(4), lines_of_run))
                runs.append(TextRun(job_id, attempt, stream, lines_of_run[-1][0], text))
    return paths, runs


def _paths(conn: sa.Connection, run_id: int) -> dict[int, str]:
    jobs = sa.select(t.jobs.c.id, t.jobs.c.path).where(t.jobs.c.run_id == run_id)
    return {row.id: row.path for row in conn.execute(jobs)}


def _lines_of(run_id: int, paths: dict[int, str], job_path: str | None) -> sa.ColumnElement[bool]:
    """The lines of the run, or of its job ``job_path`` (by job_id's index)."""
    c = t.log_lines.c
    if not job_path:
        return c.run_id == run_id
    job_ids = [job_id for job_id, path in paths.items() if path == job_path]
    return c.job_id.in_(job_ids) if len(job_ids) != 1 else c.job_id == job_ids[0]


def job_paths(store: Store, run_id: int) -> list[str]:
    """The paths of the run's jobs, in the flow's order."""
    with store.database.connect() as conn:
        return list(
            conn.execute(
                sa.select(t.jobs.c.path).where(t.jobs.c.run_id == run_id).order_by(t.jobs.c.position)
            ).scalars()
        )
