"""Reading a run's log lines back (the recorder writes them), and the job paths a log
request may name.

``Store.log_lines`` is :func:`log_lines` (the CLI, the API and many tests read logs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

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
        jobs = sa.select(t.jobs.c.id, t.jobs.c.path).where(t.jobs.c.run_id == run_id)
        paths: dict[int, str] = {row.id: row.path for row in conn.execute(jobs)}
        at = sa.type_coerce(c.at, sa.String) if with_times else sa.null()
        query = sa.select(c.id, c.job_id, c.attempt, c.stream, at, c.line)
        if job_path:
            job_ids = [job_id for job_id, path in paths.items() if path == job_path]
            query = query.where(c.job_id.in_(job_ids) if len(job_ids) != 1 else c.job_id == job_ids[0])
        else:
            query = query.where(c.run_id == run_id)
        if tail is not None:
            rows = conn.execute(query.order_by(c.id.desc()).limit(tail)).all()[::-1]
        else:
            rows = conn.execute(query.where(c.id > after_id).order_by(c.id).limit(limit)).all()
    return paths, rows  # type: ignore[return-value]


def job_paths(store: Store, run_id: int) -> list[str]:
    """The paths of the run's jobs, in the flow's order."""
    with store.database.connect() as conn:
        return list(
            conn.execute(
                sa.select(t.jobs.c.path).where(t.jobs.c.run_id == run_id).order_by(t.jobs.c.position)
            ).scalars()
        )
