"""Single-use callback URLs for service jobs (``callback: true``).

The engine makes a random token per attempt (256 bits; only its SHA-256 is
stored), gives the third service ``{public URL}/api/v1/callbacks/{token}``,
and waits. The first POST with a valid body closes the row with the result;
any later POST to the same URL is refused (409), as is one after the job
stopped waiting (410) or to a URL that was never given (404). The engine
learns of the answer through an in-process wake-up or its next poll of the
store (``containerops.engine.notify``).

What a service posts may quote a secret of the run, so it is masked with the
waiting engine's masker before it is stored: an attempt registers its masker
when it makes the callback, and a post for a callback no engine of this process
waits on is refused (410) before anything is kept.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from containerops.engine.notify import notify
from containerops.store import Store
from containerops.store import schema as t

KIND = "callback"
CALLBACK_PATH = "/api/v1/callbacks/"
MAX_LOG = 1024 * 1024

#: Callback id -> the masker of the engine waiting on it (registered while it waits).
_masks: dict[int, Callable[[str], str]] = {}


class CallbackRefused(Exception):
    """A callback that is not accepted, with the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Answer:
    result: bool
    outputs: dict[str, str]
    log: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    store: Store,
    run_id: int,
    job_id: int,
    attempt: int,
    timeout: float | None,
    mask: Callable[[str], str],
) -> tuple[int, str]:
    """A new callback for one attempt of a job: ``(row id, token)``. The token is never stored;
    what the service posts is passed through ``mask`` until :func:`close`."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with store.database.begin() as conn:
        result = conn.execute(
            t.service_callbacks.insert().values(
                run_id=run_id,
                job_id=job_id,
                attempt=attempt,
                token_hash=_hash(token),
                created_at=now,
                expires_at=now + timedelta(seconds=timeout) if timeout else None,
            )
        )
    key = result.inserted_primary_key
    assert key is not None
    _masks[int(key[0])] = mask
    return int(key[0]), token


def url(base: str, token: str) -> str:
    return base.rstrip("/") + CALLBACK_PATH + token


def answer(store: Store, callback_id: int) -> Answer | None:
    """The answer the service posted, or None while there is none."""
    with store.database.connect() as conn:
        row = conn.execute(
            sa.select(t.service_callbacks).where(t.service_callbacks.c.id == callback_id)
        ).first()
    if row is None or row.result is None:
        return None
    return Answer(bool(row.result), dict(row.outputs or {}), row.log or "")


def close(store: Store, callback_id: int) -> None:
    """The job stopped waiting (answered, timeout, cancel): later posts get 410."""
    _masks.pop(callback_id, None)
    with store.database.begin() as conn:
        conn.execute(
            t.service_callbacks.update()
            .where(t.service_callbacks.c.id == callback_id, t.service_callbacks.c.closed_at.is_(None))
            .values(closed_at=datetime.now(UTC))
        )


def accept(store: Store, token: str, result: bool, outputs: dict[str, str], log: str) -> int:
    """Record the service's answer for ``token``; returns the run id. Safe from any thread.

    Raises ``CallbackRefused`` with 404 (unknown token), 409 (already answered)
    or 410 (the job no longer waits).
    """
    if not token or len(token) > 200:
        raise CallbackRefused(404, "no such callback")
    if len(log) > MAX_LOG:
        raise CallbackRefused(413, f"the log is longer than {MAX_LOG} bytes")
    digest = _hash(token)
    now = datetime.now(UTC)
    with store.database.begin() as conn:
        row = conn.execute(
            sa.select(t.service_callbacks).where(t.service_callbacks.c.token_hash == digest)
        ).first()
        if row is None:
            raise CallbackRefused(404, "no such callback")
        if row.result is not None:
            raise CallbackRefused(409, "this callback was already used; each callback URL is single-use")
        expires: Any = row.expires_at
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        mask = _masks.get(row.id)
        if row.closed_at is not None or (expires is not None and expires <= now) or mask is None:
            raise CallbackRefused(410, "this callback has expired: the job no longer waits for it")
        done = conn.execute(
            t.service_callbacks.update()
            .where(t.service_callbacks.c.id == row.id, t.service_callbacks.c.closed_at.is_(None))
            .values(
                closed_at=now,
                result=result,
                outputs={key: mask(value) for key, value in outputs.items()},
                log=mask(log),
            )
        )
        if done.rowcount != 1:
            raise CallbackRefused(409, "this callback was already used; each callback URL is single-use")
    notify(KIND, row.id)
    return int(row.run_id)
