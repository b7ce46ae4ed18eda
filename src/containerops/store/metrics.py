"""The figures an operator watches (``/metrics``), each one cheap query over an index or
a small set: runs by state, the queue, jobs of live runs, webhook deliveries by verdict,
notifications by state, log lines stored. The counters (deliveries, lines) add what the
store removed on purpose (``store.removed``), so they never go down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.removed import LOG_LINES, REFUSED_DELIVERIES, removed
from containerops.store.store import Store
from containerops.store.workers import list_workers

#: Run states whose jobs are counted (a finished run's are history, and many).
LIVE = ("pending", "running", "paused")
#: The upper bounds (seconds) of the claim latency histogram's buckets.
CLAIM_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True, slots=True)
class Histogram:
    """Cumulative counts per upper bound (as Prometheus has them), the count and the sum."""

    buckets: list[tuple[float, int]]
    count: int
    total: float


@dataclass(frozen=True, slots=True)
class Figures:
    runs: dict[str, int]
    #: Jobs of live runs, by state.
    live_jobs: dict[str, int]
    #: When the oldest queued (pending) run was created; None when none waits.
    oldest_queued: datetime | None
    #: Webhook deliveries ever received, by verdict (refusals removed past the bound included).
    deliveries: dict[str, int]
    notifications: dict[str, int]
    #: Log lines ever stored (those removed by gc included: a counter never goes down).
    log_lines: int
    #: Attempts put up for workers, by state (ready, claimed, done, lost, cancelled).
    worker_jobs: dict[str, int]
    #: Workers whose heartbeat is recent, and the jobs they may run at once.
    live_workers: int
    worker_slots: int
    #: From an attempt put up for workers to its claim, of every attempt claimed.
    claim_latency: Histogram


def figures(store: Store) -> Figures:
    live = [row for row in list_workers(store) if row.live]
    with store.autocommit.connect() as conn:

        def counts(column: sa.Column[str]) -> dict[str, int]:
            query = sa.select(column, sa.func.count()).group_by(column)
            return {str(status): int(n) for status, n in conn.execute(query)}

        live_jobs = sa.select(t.jobs.c.status, sa.func.count()).join(t.runs, t.runs.c.id == t.jobs.c.run_id)
        live_jobs = live_jobs.where(t.runs.c.status.in_(LIVE)).group_by(t.jobs.c.status)
        oldest = sa.select(sa.func.min(t.runs.c.created_at)).where(t.runs.c.status == "pending")
        held_lines = sa.select(sa.func.sum(t.log_block_lines)).scalar_subquery()
        lines = sa.select(sa.func.coalesce(held_lines, 0) + removed(LOG_LINES))
        verdict = t.trigger_deliveries.c.verdict
        deliveries: dict[str, int] = {}
        held_and_removed = sa.union_all(
            sa.select(verdict, sa.func.count()).group_by(verdict),
            sa.select(sa.literal("refused"), removed(REFUSED_DELIVERIES)),
        )
        for name, n in conn.execute(held_and_removed):
            deliveries[str(name)] = deliveries.get(str(name), 0) + int(n)
        return Figures(
            runs=counts(t.runs.c.status),
            live_jobs={str(status): int(n) for status, n in conn.execute(live_jobs)},
            oldest_queued=conn.execute(oldest).scalar(),
            deliveries=deliveries,
            notifications=counts(t.notifications.c.status),
            log_lines=int(conn.execute(lines).scalar() or 0),
            worker_jobs=counts(t.ready_jobs.c.status),
            live_workers=len(live),
            worker_slots=sum(row.slots for row in live),
            claim_latency=_claim_latency(conn),
        )


def _claim_latency(conn: sa.Connection) -> Histogram:
    """One pass over the claimed attempts: how many waited at most each bucket's bound."""
    ready = t.ready_jobs.c
    waited = _seconds_between(ready.created_at, ready.claimed_at, conn.dialect.name).label("waited")
    claimed = sa.select(waited).where(ready.claimed_at.is_not(None)).subquery()
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.sum(claimed.c.waited),
            *(sa.func.sum(sa.case((claimed.c.waited <= bound, 1), else_=0)) for bound in CLAIM_BUCKETS),
        )
    ).one()
    return Histogram(
        buckets=[(bound, int(n or 0)) for bound, n in zip(CLAIM_BUCKETS, row[2:], strict=True)],
        count=int(row[0] or 0),
        total=max(float(row[1] or 0.0), 0.0),
    )


def _seconds_between(
    earlier: sa.ColumnElement[Any], later: sa.ColumnElement[Any], dialect: str
) -> sa.ColumnElement[float]:
    """``later - earlier`` in seconds, in each database's own words (SQLite holds the times
    as RFC 3339 text, which ``julianday`` reads: about a millisecond's precision)."""
    if dialect == "postgresql":
        return sa.cast(sa.extract("epoch", later - earlier), sa.Float)
    if dialect in ("mysql", "mariadb"):
        micros = sa.func.timestampdiff(sa.literal_column("MICROSECOND"), earlier, later)
        return sa.cast(micros / 1e6, sa.Float)
    return sa.cast((sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0, sa.Float)


def reachable(store: Store) -> bool:
    """Whether the database answers (``/readyz``)."""
    try:
        with store.autocommit.connect() as conn:
            conn.execute(sa.select(1))
    except sa.exc.SQLAlchemyError:
        return False
    return True
