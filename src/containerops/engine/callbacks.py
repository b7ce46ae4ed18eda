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

from containerops.engine.notify import notify
from containerops.store import Store
from containerops.store.callbacks import (
    Answer,
    close_callback,
    insert_callback,
    record_answer,
)

KIND = "callback"
CALLBACK_PATH = "/api/v1/callbacks/"
MAX_LOG = 1024 * 1024

#: Callback id -> the masker of the engine waiting on it (registered while it waits).
_masks: dict[int, Callable[[str], str]] = {}
#: How each refusal is answered.
_REFUSED = {
    "unknown": (404, "no such callback"),
    "used": (409, "this callback was already used; each callback URL is single-use"),
    "expired": (410, "this callback has expired: the job no longer waits for it"),
}


class CallbackRefused(Exception):
    """A callback that is not accepted, with the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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
    callback_id = insert_callback(store, run_id, job_id, attempt, _hash(token), timeout)
    _masks[callback_id] = mask
    return callback_id, token


def url(base: str, token: str) -> str:
    return base.rstrip("/") + CALLBACK_PATH + token


def close(store: Store, callback_id: int) -> None:
    """The job stopped waiting (answered, timeout, cancel): later posts get 410."""
    _masks.pop(callback_id, None)
    close_callback(store, callback_id)


def accept(store: Store, token: str, result: bool, outputs: dict[str, str], log: str) -> int:
    """Record the service's answer for ``token``; returns the run id. Safe from any thread.

    Raises ``CallbackRefused`` with 404 (unknown token), 409 (already answered)
    or 410 (the job no longer waits).
    """
    if not token or len(token) > 200:
        raise CallbackRefused(*_REFUSED["unknown"])
    if len(log) > MAX_LOG:
        raise CallbackRefused(413, f"the log is longer than {MAX_LOG} bytes")
    outcome, callback_id, run_id = record_answer(
        store, _hash(token), Answer(result, outputs, log), _masks.get
    )
    if outcome != "recorded":
        raise CallbackRefused(*_REFUSED[outcome])
    assert callback_id is not None and run_id is not None
    notify(KIND, callback_id)
    return run_id
