"""The ``service_callbacks`` rows: one per attempt of a service job that waits for a callback.

Only the SHA-256 of a callback's token is kept. The answer is written by one conditional
update, so of two posts racing for the same callback exactly one is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.store import Store
from containerops.store.values import aware

#: What became of a posted answer: recorded, or why not.
Outcome = Literal["recorded", "unknown", "used", "expired"]
_callbacks = t.service_callbacks


@dataclass(slots=True)
class Answer:
    result: bool
    outputs: dict[str, str]
    log: str


def insert_callback(
    store: Store, run_id: int, job_id: int, attempt: int, token_hash: str, timeout: float | None
) -> int:
    """A new callback row; its id."""
    now = datetime.now(UTC)
    with store.database.begin() as conn:
        result = conn.execute(
            _callbacks.insert().values(
                run_id=run_id,
                job_id=job_id,
                attempt=attempt,
                token_hash=token_hash,
                created_at=now,
                expires_at=now + timedelta(seconds=timeout) if timeout else None,
            )
        )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def callback_answer(store: Store, callback_id: int) -> Answer | None:
    """The answer the service posted, or None while there is none."""
    with store.autocommit.connect() as conn:
        row = conn.execute(sa.select(_callbacks).where(_callbacks.c.id == callback_id)).first()
    if row is None or row.result is None:
        return None
    return Answer(bool(row.result), dict(row.outputs or {}), row.log or "")


def close_callback(store: Store, callback_id: int) -> None:
    """Nobody waits any more: a later answer is refused as expired."""
    with store.database.begin() as conn:
        conn.execute(
            _callbacks.update()
            .where(_callbacks.c.id == callback_id, _callbacks.c.closed_at.is_(None))
            .values(closed_at=datetime.now(UTC))
        )


def record_answer(
    store: Store,
    token_hash: str,
    answer: Answer,
    masker: Callable[[int], Callable[[str], str] | None],
) -> tuple[Outcome, int | None, int | None]:
    """Write the answer for the callback of ``token_hash``, masked with ``masker(callback id)``
    (None: nobody waits in this process, so it is refused as expired).

    Returns ``(outcome, callback id, run id)``; the ids are None when unknown."""
    now = datetime.now(UTC)
    with store.database.begin() as conn:
        row = conn.execute(sa.select(_callbacks).where(_callbacks.c.token_hash == token_hash)).first()
        if row is None:
            return "unknown", None, None
        if row.result is not None:
            return "used", row.id, row.run_id
        expires = aware(row.expires_at)
        mask = masker(row.id)
        if row.closed_at is not None or (expires is not None and expires <= now) or mask is None:
            return "expired", row.id, row.run_id
        done = conn.execute(
            _callbacks.update()
            .where(_callbacks.c.id == row.id, _callbacks.c.closed_at.is_(None))
            .values(
                closed_at=now,
                result=answer.result,
                outputs={key: mask(value) for key, value in answer.outputs.items()},
                log=mask(answer.log),
            )
        )
        if done.rowcount != 1:
            return "used", row.id, row.run_id
    return "recorded", int(row.id), int(row.run_id)
