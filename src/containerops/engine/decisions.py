"""Pause stages: the wait a run is in, and the decision that ends it.

A run that reaches a ``type: pause`` stage gets a row in ``pauses`` (its
stage, when it began to wait, its deadline) and the state ``paused``.
``decide`` (the API's approve/reject route, ``coops runs approve|reject``)
writes who decided what, when and why, in that row, once: the first decision
wins, later ones are refused. The engine waiting on the run sees the
decision through an in-process wake-up (``containerops.engine.notify``) or,
from another process, at its next poll of the store. Everything needed to
go on waiting lives in the row, so a restarted server honours the original
deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from containerops.engine.notify import notify
from containerops.store import Store, StoreError
from containerops.store import schema as t
from containerops.store.values import aware
from containerops.timestamps import rfc3339

#: The notify kind for pause decisions (keyed by run id).
KIND = "pause"
MAX_COMMENT = 4000
MAX_NAME = 255


class DecisionError(StoreError):
    """A decision that cannot be taken: no such run, not paused, already decided."""


@dataclass(slots=True)
class Pause:
    id: int
    run_id: int
    stage: str
    started_at: datetime
    deadline: datetime | None
    decision: str | None  # approved | rejected | timeout
    decided_by: str | None
    comment: str | None
    decided_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        iso = rfc3339

        return {
            "stage": self.stage,
            "started_at": iso(self.started_at),
            "deadline": iso(self.deadline),
            "decision": self.decision,
            "decided_by": self.decided_by,
            "comment": self.comment,
            "decided_at": iso(self.decided_at),
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
    found = get_pause(store, run_id, stage)
    assert found is not None
    return found


def get_pause(store: Store, run_id: int, stage: str) -> Pause | None:
    with store.database.connect() as conn:
        row = conn.execute(
            sa.select(t.pauses).where(t.pauses.c.run_id == run_id, t.pauses.c.stage == stage)
        ).first()
    return _pause(row) if row is not None else None


def pauses(store: Store, run_id: int) -> list[Pause]:
    """Every pause of a run, in the order it reached them."""
    with store.database.connect() as conn:
        rows = conn.execute(sa.select(t.pauses).where(t.pauses.c.run_id == run_id).order_by(t.pauses.c.id))
        return [_pause(row) for row in rows]


def decide(store: Store, run_id: int, approved: bool, by: str, comment: str | None = None) -> Pause:
    """Approve or reject the pause ``run_id`` waits at; the first decision wins.

    Raises ``DecisionError`` (its message says why) when the run does not exist,
    is not paused, or was decided meanwhile. Safe to call from any thread.
    """
    by = by.strip()
    if not by or len(by) > MAX_NAME:
        raise DecisionError(f"who decides must be named, in at most {MAX_NAME} characters")
    if comment is not None and len(comment) > MAX_COMMENT:
        raise DecisionError(f"the comment is longer than {MAX_COMMENT} characters")
    now = datetime.now(UTC)
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
                decided_at=now,
            )
        )
        if done.rowcount != 1:
            raise DecisionError(f"cannot {verb} run {run_id}: its pause was already decided")
    notify(KIND, run_id)
    found = get_pause(store, run_id, open_row.stage)
    assert found is not None
    return found


def expire(store: Store, pause: Pause) -> Pause:
    """Record that nobody decided in time, unless a decision came in at the last moment."""
    with store.database.begin() as conn:
        conn.execute(
            t.pauses.update()
            .where(t.pauses.c.id == pause.id, t.pauses.c.decision.is_(None))
            .values(decision="timeout", decided_at=datetime.now(UTC))
        )
    found = get_pause(store, pause.run_id, pause.stage)
    assert found is not None
    return found


def describe(pause: Pause) -> str:
    """The decision in words, as the run's history and reason give it."""
    if pause.decision == "timeout":
        waited = ""
        if pause.deadline is not None:
            waited = f" within {(pause.deadline - pause.started_at).total_seconds():g} s"
        return f"stage {pause.stage}: nobody approved or rejected it{waited} (pause timeout)"
    said = f": {pause.comment}" if pause.comment else ""
    return f"stage {pause.stage} {pause.decision} by {pause.decided_by}{said}"
