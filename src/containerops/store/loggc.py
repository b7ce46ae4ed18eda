"""Removing old logs: the log blocks of runs that ended before a time (``coops gc``, the
server's retention setting).

Only ended runs lose their lines (a live run's are never touched, however old it is), and
only their lines: the runs, their jobs, attempts and history stay, and the lines are
counted as removed (``store.removed``: ``/metrics``' lines stored never goes down). Blocks go
a batch at a time, each batch its own short transaction, so a busy store's writers (the
recorders of live runs) wait at most for one batch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.db import again_on_conflict
from containerops.store.removed import LOG_LINES, count_removed

if TYPE_CHECKING:
    from containerops.store.store import Store

#: Blocks removed in one transaction (up to tens of thousands of lines each).
BATCH = 200
LIVE = ("pending", "running", "paused")


@dataclass(frozen=True, slots=True)
class LogGc:
    """What a removal found (and, unless it was a dry run, removed)."""

    runs: int
    blocks: int
    lines: int
    #: Bytes the store's log blocks took before and after (their compressed payloads).
    bytes_before: int
    bytes_after: int
    dry_run: bool


def _old_runs(older_than: datetime, flow: str | None) -> sa.Select[int]:
    """Ended runs that finished (or, with no end time, were created) before ``older_than``."""
    runs = t.runs.c
    ended_at = sa.func.coalesce(runs.finished_at, runs.created_at)
    query = sa.select(runs.id).where(runs.status.not_in(LIVE), ended_at < older_than)
    if flow is not None:
        query = query.join(t.flows, t.flows.c.id == runs.flow_id).where(t.flows.c.uri == flow)
    return query


def _bytes(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.sum(sa.func.length(t.log_blocks.c.data)))).scalar() or 0)


def remove_old_logs(
    store: Store, older_than: datetime, *, flow: str | None = None, dry_run: bool = False, batch: int = BATCH
) -> LogGc:
    """Remove the lines of ended runs older than ``older_than`` (of ``flow`` only, if given)."""
    b = t.log_blocks.c
    with store.autocommit.connect() as conn:
        before = _bytes(conn)
        run_ids = list(conn.execute(_old_runs(older_than, flow)).scalars())
        counted = sa.select(
            sa.func.count(), sa.func.sum(t.log_block_lines), sa.func.count(sa.distinct(b.run_id))
        )
        blocks, lines, runs = conn.execute(counted.where(b.run_id.in_(_old_runs(older_than, flow)))).one()
    blocks, lines, runs = int(blocks or 0), int(lines or 0), int(runs or 0)
    if dry_run or not blocks:
        return LogGc(runs, blocks, lines, before, before, dry_run)
    for start in range(0, len(run_ids), 500):
        chosen = run_ids[start : start + 500]
        while again_on_conflict(
            functools.partial(_remove_batch, store, chosen, batch), "remove old log lines"
        ):
            pass
    with store.autocommit.connect() as conn:
        after = _bytes(conn)
    return LogGc(runs, blocks, lines, before, after, dry_run)


def _remove_batch(store: Store, run_ids: list[int], batch: int) -> bool:
    """Up to ``batch`` blocks of ``run_ids`` removed and their lines counted as removed, in
    one transaction; False when none was left."""
    b = t.log_blocks.c
    with store.database.begin() as conn:
        found = conn.execute(
            sa.select(b.id, t.log_block_lines).where(b.run_id.in_(run_ids)).limit(batch)
        ).all()
        if found:
            conn.execute(t.log_blocks.delete().where(b.id.in_([row[0] for row in found])))
            count_removed(conn, LOG_LINES, sum(int(row[1]) for row in found))
    return bool(found)
