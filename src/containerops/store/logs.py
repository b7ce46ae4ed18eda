"""Reading a run's log lines back (the recorder writes them, in compressed blocks: see
``logblocks``), and the job paths a log request may name.

A line's id is its number in the run (1, 2, ...: the order the lines were stored in,
which keeps each stream of each job in order); pages, tails and ranges read only the
blocks they need, along the index on (run_id, last_line) or (job_id, last_line).

``Store.log_lines`` is :func:`log_lines` (the CLI, the API and many tests read logs).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa

from containerops.store import logblocks
from containerops.store import schema as t
from containerops.store.rows import LogRow
from containerops.timestamps import rfc3339

if TYPE_CHECKING:  # for annotations only: store.py binds log_lines as a method
    from containerops.store.store import Store

_b = t.log_blocks.c
#: What a reader needs of a block.
_COLUMNS = (_b.job_id, _b.attempt, _b.first_line, _b.last_line, _b.first_seq, _b.data)


class Block(NamedTuple):
    """A stored block as readers read it."""

    job_id: int
    attempt: int
    first_line: int
    last_line: int
    first_seq: int
    data: bytes


def forward_blocks(conn: sa.Connection, where: sa.ColumnElement[bool], after: int) -> Iterator[Block]:
    """The blocks holding lines after line ``after``, in order, fetched a few at a time (a
    page of lines usually lies in one or two)."""
    page = 4
    while True:
        query = sa.select(*_COLUMNS).where(where, _b.last_line > after).order_by(_b.last_line).limit(page)
        rows = [Block(*row) for row in conn.execute(query)]
        yield from rows
        if len(rows) < page:
            return
        after, page = rows[-1].last_line, min(page * 4, 256)


def _backward(conn: sa.Connection, where: sa.ColumnElement[bool]) -> Iterator[Block]:
    """The blocks from the newest back."""
    before, page = None, 4
    while True:
        query = sa.select(*_COLUMNS).where(where)
        if before is not None:
            query = query.where(_b.last_line < before)
        rows = [Block(*row) for row in conn.execute(query.order_by(_b.last_line.desc()).limit(page))]
        yield from rows
        if len(rows) < page:
            return
        before, page = rows[-1].first_line, min(page * 4, 256)


def log_lines(
    store: Store, run_id: int, *, job_path: str | None = None, after_id: int = 0, limit: int = 10_000
) -> list[LogRow]:
    """Log lines of a run (or one job) after line ``after_id``, in the order they were stored."""
    found: list[LogRow] = []
    with store.autocommit.connect() as conn:
        paths = paths_of(conn, run_id)
        for block in forward_blocks(conn, lines_of(run_id, paths, job_path), after_id):
            decoded = logblocks.decode(block.data)
            skip = max(0, after_id + 1 - block.first_line)
            take = min(decoded.count, skip + limit - len(found))
            found += rows_of(block, decoded, paths[block.job_id], skip, take)
            if len(found) >= limit:
                break
    return found


def attempt_lines(store: Store, run_id: int, job_path: str, attempt: int) -> list[LogRow]:
    """Every stored line of one attempt of a job: where an engine taking up an attempt
    another left going on carries on from."""
    with store.autocommit.connect() as conn:
        paths = paths_of(conn, run_id)
        where = sa.and_(lines_of(run_id, paths, job_path), _b.attempt == attempt)
        return [
            row
            for block in forward_blocks(conn, where, 0)
            for decoded in [logblocks.decode(block.data)]
            for row in rows_of(block, decoded, paths[block.job_id], 0, decoded.count)
        ]


def rows_of(block: Block, decoded: logblocks.Decoded, path: str, start: int, end: int) -> list[LogRow]:
    """Lines ``start`` to ``end`` (indexes in the block) as rows (only their streams and
    times are expanded: a search showing a line of a block makes no 32,768 of them)."""
    texts = decoded.json_lines if decoded.json_lines is not None else decoded.text.split("\n", end)
    streams = _each(decoded.streams, start, end)
    micros = _each(decoded.times, start, end)
    at = {value: logblocks.from_micros(value) for value in set(micros)}  # one per time
    times = [at[value] for value in micros]
    first, seq, attempt = block.first_line, block.first_seq, block.attempt
    return [
        LogRow(first + i, path, attempt, seq + i, times[i - start], streams[i - start], texts[i])
        for i in range(start, end)
    ]


def _each(runs: list[list[Any]], start: int, end: int) -> list[Any]:
    """The values of runs ``[[count, value], ...]`` at indexes ``start`` to ``end``."""
    found: list[Any] = []
    position = 0
    for count, value in runs:
        begin, stop = max(position, start), min(position + count, end)
        if begin < stop:
            found += repeat(value, stop - begin)
        position += count
        if position >= end:
            break
    return found


#: One stored line as :func:`raw_log_lines` gives it: (id, job_id, attempt, stream, at, line);
#: ``at`` is RFC 3339 text, or None when not asked for.
RawLine = tuple[int, int, int, str, Any, str]


def _raw(block: Block, decoded: logblocks.Decoded, with_times: bool) -> list[RawLine]:
    ids = range(block.first_line, block.last_line + 1)
    stamps: Iterator[str | None]
    if with_times:
        stamps = chain.from_iterable(repeat(rfc3339(at), count) for count, at in decoded.time_runs())
    else:
        stamps = repeat(None)
    return list(
        zip(
            ids,
            repeat(block.job_id),
            repeat(block.attempt),
            decoded.stream_of_each(),
            stamps,
            decoded.lines(),
            strict=False,
        )
    )


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
    """The run's job paths by id, and its lines after ``after_id`` as plain tuples (no object
    per line): for printing a whole log, a million lines, in about a second.

    With ``tail``, the last ``tail`` lines instead (``after_id`` and ``limit`` unused): the
    newest blocks are read, back to the one holding the first of them, so its cost does not
    grow with the log's size.
    """
    rows: list[RawLine] = []
    with store.autocommit.connect() as conn:
        paths = paths_of(conn, run_id)
        where = lines_of(run_id, paths, job_path)
        if tail is not None:
            if tail <= 0:
                return paths, []
            newest: list[list[RawLine]] = []
            count = 0
            for block in _backward(conn, where):
                newest.append(_raw(block, logblocks.decode(block.data), with_times))
                count += len(newest[-1])
                if count >= tail:
                    break
            rows = list(chain.from_iterable(reversed(newest)))
            return paths, rows[-tail:]
        for block in forward_blocks(conn, where, after_id):
            skip = max(0, after_id + 1 - block.first_line)
            got = _raw(block, logblocks.decode(block.data), with_times)
            rows += got[skip : skip + limit - len(rows)]
            if len(rows) >= limit:
                break
    return paths, rows


class TextRun(NamedTuple):
    """Lines in a row of one job, attempt and stream, as one text (``\\n`` between them)."""

    job_id: int
    attempt: int
    stream: str
    last_id: int
    text: str


def log_text_runs(
    store: Store, run_id: int, *, job_path: str | None = None, after_id: int = 0, limit: int = 500_000
) -> tuple[dict[int, str], list[TextRun]]:
    """The run's job paths by id, and its lines after ``after_id`` (at most ``limit``) as runs of
    lines sharing job, attempt and stream, each run one text.

    A block of one stream read whole is its stored text as it is: printing a whole log of a
    million lines is a few dozen rows decompressed, not a million strings made and joined.
    """
    runs: list[TextRun] = []
    left = limit
    with store.autocommit.connect() as conn:
        paths = paths_of(conn, run_id)
        for block in forward_blocks(conn, lines_of(run_id, paths, job_path), after_id):
            decoded = logblocks.decode(block.data)
            skip = max(0, after_id + 1 - block.first_line)
            stream = decoded.stream
            if stream is not None and skip == 0 and decoded.count <= left:
                runs.append(TextRun(block.job_id, block.attempt, stream, block.last_line, decoded.text))
                left -= decoded.count
            else:
                texts, position = decoded.lines(), 0
                for count, name in decoded.streams:
                    begin, end = max(position, skip), min(position + count, skip + left)
                    if begin < end:
                        text = "\n".join(texts[begin:end])
                        last = block.first_line + end - 1
                        runs.append(TextRun(block.job_id, block.attempt, name, last, text))
                    position += count
                left -= max(0, min(decoded.count, skip + left) - skip)
            if left <= 0:
                break
    return paths, runs


def line_count(store: Store, run_id: int) -> int:
    """How many lines the run's log holds (from the blocks' rows: nothing is decoded)."""
    with store.autocommit.connect() as conn:
        query = sa.select(sa.func.sum(t.log_block_lines)).where(_b.run_id == run_id)
        return int(conn.execute(query).scalar() or 0)


def paths_of(conn: sa.Connection, run_id: int) -> dict[int, str]:
    jobs = sa.select(t.jobs.c.id, t.jobs.c.path).where(t.jobs.c.run_id == run_id)
    return {row.id: row.path for row in conn.execute(jobs)}


def lines_of(run_id: int, paths: dict[int, str], job_path: str | None) -> sa.ColumnElement[bool]:
    """The blocks of the run, or of its job ``job_path`` (by the index on job_id)."""
    if not job_path:
        return _b.run_id == run_id
    job_ids = [job_id for job_id, path in paths.items() if path == job_path]
    return _b.job_id.in_(job_ids) if len(job_ids) != 1 else _b.job_id == job_ids[0]


def job_paths(store: Store, run_id: int) -> list[str]:
    """The paths of the run's jobs, in the flow's order."""
    with store.autocommit.connect() as conn:
        return list(
            conn.execute(
                sa.select(t.jobs.c.path).where(t.jobs.c.run_id == run_id).order_by(t.jobs.c.position)
            ).scalars()
        )
