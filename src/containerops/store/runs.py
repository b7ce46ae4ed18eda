"""Runs the server starts: what started them, settling the ones a stopped server left
unfinished, and cancelling one still queued."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.ownership import history_row, owner_alive, settle_runs
from containerops.store.store import Store
from containerops.store.values import utcnow

#: Run states a server process owns while it lives; found at startup, they were interrupted.
_INTERRUPTED = ("pending", "running")


def mark_server_run(store: Store, run_id: int, trigger: dict[str, Any], rerun_of: int | None) -> None:
    """Record what started a run; a run with a trigger belongs to the server."""
    with store.database.begin() as conn:
        conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(trigger=trigger, rerun_of=rerun_of))


def settle_interrupted_runs(store: Store, reason: str) -> list[int]:
    """Fail the server's runs that were queued or running when it stopped, and that no live
    process owns (another server on the same store may be running its own); their ids."""
    with store.database.begin() as conn:
        rows = conn.execute(
            sa.select(t.runs.c.id, t.runs.c.owner, t.runs.c.heartbeat_at).where(
                t.runs.c.trigger.is_not(None), t.runs.c.status.in_(_INTERRUPTED)
            )
        ).all()
        # (a run recorded before runs had owners was this server's: nothing else ran them)
        ids = [row.id for row in rows if row.owner is None or not owner_alive(row.owner, row.heartbeat_at)]
        settle_runs(conn, ids, reason)
    return ids


def paused_server_runs(store: Store) -> list[int]:
    with store.database.connect() as conn:
        return list(
            conn.execute(
                sa.select(t.runs.c.id)
                .where(t.runs.c.trigger.is_not(None), t.runs.c.status == "paused")
                .order_by(t.runs.c.id)
            ).scalars()
        )


def cancel_queued_run(store: Store, run_id: int, reason: str) -> None:
    """A run cancelled before it got a slot: cancelled, every job skipped."""
    now = utcnow()
    with store.database.begin() as conn:
        ids = list(
            conn.execute(
                sa.select(t.jobs.c.id).where(t.jobs.c.run_id == run_id, t.jobs.c.status == "pending")
            ).scalars()
        )
        skipped = f"skipped: {reason}"
        conn.execute(
            t.jobs.update()
            .where(t.jobs.c.run_id == run_id, t.jobs.c.status == "pending")
            .values(status="skipped", reason=skipped, finished_at=now)
        )
        changes = [history_row(run_id, job_id, None, "skipped", skipped, now) for job_id in ids]
        changes.append(history_row(run_id, None, None, "cancelled", reason, now))
        conn.execute(t.state_changes.insert(), changes)
        conn.execute(
            t.runs.update()
            .where(t.runs.c.id == run_id)
            .values(status="cancelled", reason=reason, finished_at=now)
        )
