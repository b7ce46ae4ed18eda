"""The ``pauses`` rows: where a run waits at a pause stage, and the decision that ended it.

The row holds everything needed to go on waiting (stage, start, deadline), so a restarted
server honours the original deadline; its decision is written once, by one conditional
update, so that of two deciders racing the first wins and the second learns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.rows import StoreError
from containerops.store.store import Store
from containerops.store.values import aware
from containerops.timestamps import rfc3339


class DecisionError(StoreError):
    """A decision that cannot be taken: no such run, not paused, already decided."""


@dataclass(slots=True)
class Pause:
    id: int
    run_id: int
    stage: str
    started_at: datetime
    deadline: datetime | None
    decision: str | None  # approved | rejected | timeout | elapsed
    decided_by: str | None
    comment: str | None
    decided_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "started_at": rfc3339(self.started_at),
            "deadline": rfc3339(self.deadline),
            "decision": self.decision,
            "decided_by": self.decided_by,
            "comment": self.comment,
            "decided_at": rfc3339(self.decided_at),
        }


def _pause(row: Any) -> Pause:
    return Pause(
        id=row.id,
        run_id=row.run_id,
        stage=row.stage,
        started_at=aware(row.started_at) or datetime.now(UTC),
        deadline=aware(row.deadline),
        decision=row.decision,
        decided_by=row.decided_by,
        comment=row.comment,
        decided_at=aware(row.decided_at),
    )


def open_pause(store: Store, run_id: int, stage: str, timeout: float | None) -> Pause:
    """The run's pause at ``stage``: the existing one (a restored run), or a new one from now."""
    found = get_pause(store, run_id, stage)
    if found is not None:
        return found
    now = datetime.now(UTC)
    deadline = now + timedelta(seconds=timeout) if timeout else None
    with store.database.begin() as conn:
        conn.execute(t.pauses.insert().values(run_id=run_id, stage=stage, started_at=now, deadline=deadline))
    return _existing(store, run_id, stage)


def get_pause(store: Store, run_id: int, stage: str) -> Pause | None:
    with store.autocommit.connect() as conn:
        row = conn.execute(
            sa.select(t.pauses).where(t.pauses.c.run_id == run_id, t.pauses.c.stage == stage)
        ).first()
    return _pause(row) if row is not None else None


def _existing(store: Store, run_id: int, stage: str) -> Pause:
    found = get_pause(store, run_id, stage)
    assert found is not None, f"run {run_id} has no pause at {stage}"
    return found


def pauses(store: Store, run_id: int) -> list[Pause]:
    """Every pause of a run, in the order it reached them."""
    with store.autocommit.connect() as conn:
        rows = conn.execute(sa.select(t.pauses).where(t.pauses.c.run_id == run_id).order_by(t.pauses.c.id))
        return [_pause(row) for row in rows]


def record_decision(store: Store, run_id: int, approved: bool, by: str, comment: str | None) -> Pause:
    """Write the decision on the pause ``run_id`` waits at, if nobody decided before.

    Raises ``DecisionError`` when the run does not exist, is not paused, or its pause
    was decided meanwhile (the update is conditional: of two racing, one wins)."""
    verb = "approve" if approved else "reject"
    with store.database.begin() as conn:
        status = conn.execute(sa.select(t.runs.c.status).where(t.runs.c.id == run_id)).scalar()
        if status is None:
            raise DecisionError(f"no run with id {run_id}")
        open_row = conn.execute(
            sa.select(t.pauses)
            .where(t.pauses.c.run_id == run_id, t.pauses.c.decision.is_(None))
            .order_by(t.pauses.c.id.desc())
            .limit(1)
        ).first()
        if status != "paused":
            raise DecisionError(f"cannot {verb} run {run_id}: it is {status}, not paused")
        if open_row is None:
            raise DecisionError(f"cannot {verb} run {run_id}: its pause was already decided")
        done = conn.execute(
            t.pauses.update()
            .where(t.pauses.c.id == open_row.id, t.pauses.c.decision.is_(None))
            .values(
                decision="approved" if approved else "rejected",
                decided_by=by,
                comment=comment or None,
                decided_at=datetime.now(UTC),
            )
        )
        if done.rowcount != 1:
            raise DecisionError(f"cannot {verb} run {run_id}: its pause was already decided")
    return _existing(store, run_id, open_row.stage)


def expire(store: Store, pause: Pause, decision: str = "timeout") -> Pause:
    """Record that nobody decided in time (``timeout``; ``elapsed`` for a pause that goes on
    by itself after its duration), unless a decision came in at the last moment."""
    with store.database.begin() as conn:
        conn.execute(
            t.pauses.update()
            .where(t.pauses.c.id == pause.id, t.pauses.c.decision.is_(None))
            .values(decision=decision, decided_at=datetime.now(UTC))
        )
    return _existing(store, pause.run_id, pause.stage)
