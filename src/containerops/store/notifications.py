"""The ``notifications`` rows: each message to a receiver about a run, and what became of it.

A row is written (``sending``) before the first attempt, so a message a crash interrupted
is still on record, and settled with its status, attempts and error.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.store import Store
from containerops.store.values import utcnow

_n = t.notifications


def start_notification(
    store: Store, run_id: int, receiver_index: int, kind: str, event: str, target: str
) -> int:
    """A new row, ``sending``; its id."""
    with store.database.begin() as conn:
        key = conn.execute(
            _n.insert().values(
                run_id=run_id,
                receiver_index=receiver_index,
                kind=kind,
                event=event,
                target=target,
                status="sending",
                attempts=0,
                created_at=utcnow(),
            )
        ).inserted_primary_key
    assert key is not None
    return int(key[0])


def finish_notification(
    store: Store, notification_id: int, status: str, attempts: int, error: str | None
) -> None:
    with store.database.begin() as conn:
        conn.execute(
            _n.update()
            .where(_n.c.id == notification_id)
            .values(status=status, attempts=attempts, error=error, finished_at=utcnow())
        )


def list_notifications(store: Store, run_id: int) -> list[dict[str, Any]]:
    """A run's notifications, oldest first."""
    with store.autocommit.connect() as conn:
        rows = conn.execute(sa.select(_n).where(_n.c.run_id == run_id).order_by(_n.c.id)).all()
    return [
        {
            "id": row.id,
            "receiver_index": row.receiver_index,
            "kind": row.kind,
            "event": row.event,
            "target": row.target,
            "status": row.status,
            "attempts": row.attempts,
            "error": row.error,
        }
        for row in rows
    ]
