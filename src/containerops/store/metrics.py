"""The figures an operator watches (``/metrics``), each one cheap query over an index or
a small set: runs by state, the queue, jobs of live runs, webhook deliveries by verdict,
notifications by state, log lines stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.store import Store
from containerops.store.workers import list_workers

#: Run states whose jobs are counted (a finished run's are history, and many).
LIVE = ("pending", "running", "paused")


@dataclass(frozen=True, slots=True)
class Figures:
    runs: dict[str, int]
    #: Jobs of live runs, by state.
    live_jobs: dict[str, int]
    #: When the oldest queued (pending) run was created; None when none waits.
    oldest_queued: datetime | None
    deliveries: dict[str, int]
    notifications: dict[str, int]
    #: Log lines stored (in the store now: lines removed by gc are no longer counted).
    log_lines: int
    #: Attempts put up for workers, by state (ready, claimed, done, lost, cancelled).
    worker_jobs: dict[str, int]
    #: Workers whose heartbeat is recent, and the jobs they may run at once.
    live_workers: int
    worker_slots: int


def figures(store: Store) -> Figures:
    live = [row for row in list_workers(store) if row.live]
    with store.database.connect() as conn:

        def counts(column: sa.Column[str]) -> dict[str, int]:
            query = sa.select(column, sa.func.count()).group_by(column)
            return {str(status): int(n) for status, n in conn.execute(query)}

        live_jobs = sa.select(t.jobs.c.status, sa.func.count()).join(t.runs, t.runs.c.id == t.jobs.c.run_id)
        live_jobs = live_jobs.where(t.runs.c.status.in_(LIVE)).group_by(t.jobs.c.status)
        blocks = t.log_blocks.c
        oldest = sa.select(sa.func.min(t.runs.c.created_at)).where(t.runs.c.status == "pending")
        return Figures(
            runs=counts(t.runs.c.status),
            live_jobs={str(status): int(n) for status, n in conn.execute(live_jobs)},
            oldest_queued=conn.execute(oldest).scalar(),
            deliveries=counts(t.trigger_deliveries.c.verdict),
            notifications=counts(t.notifications.c.status),
            log_lines=int(
                conn.execute(sa.select(sa.func.sum(blocks.last_line - blocks.first_line + 1))).scalar() or 0
            ),
            worker_jobs=counts(t.ready_jobs.c.status),
            live_workers=len(live),
            worker_slots=sum(row.slots for row in live),
        )


def reachable(store: Store) -> bool:
    """Whether the database answers (``/readyz``)."""
    try:
        with store.database.connect() as conn:
            conn.execute(sa.select(1))
    except sa.exc.SQLAlchemyError:
        return False
    return True
