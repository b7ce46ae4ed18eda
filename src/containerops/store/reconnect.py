"""Database calls that outlast a database restart.

A PostgreSQL or MySQL server restarted (``pg_ctl restart``, a failover) drops every
connection: the next statement on each fails as a disconnect (or, on one idle for a
while, the pool's check before use: :func:`.db.create_db_engine`), and the pool opens new
ones once the server is back. A call whose transaction was cut wrote nothing,
so :func:`reconnecting` runs it again, with a growing wait (tenacity), for as long as
the outage may last, and the process's log says it lost the database and when it got
it back. Only disconnects are tried again: any other error is the caller's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import sqlalchemy as sa
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay, wait_exponential

log = logging.getLogger("containerops.store")

#: How long a call waits for its database to come back (seconds).
OUTAGE = 120.0

P = ParamSpec("P")
T = TypeVar("T")


def disconnected(error: BaseException) -> bool:
    """Whether ``error`` says the connection to the database was lost (or could not be made)."""
    return isinstance(error, sa.exc.OperationalError) or (
        isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated
    )


def _said(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    first_line = str(error).splitlines()[0] if error is not None else "?"
    log.warning(
        "lost the database (%s): reconnecting in %.1f s (try %d)", first_line, wait, state.attempt_number
    )


def reconnecting(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``call(*args, **kwargs)``, run again while the database is away (up to ``OUTAGE`` s)."""
    retrying = Retrying(
        retry=retry_if_exception(disconnected),
        wait=wait_exponential(multiplier=0.1, max=2.0),
        stop=stop_after_delay(OUTAGE),
        before_sleep=_said,
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            result = call(*args, **kwargs)
    if retrying.statistics.get("attempt_number", 1) > 1:
        log.warning("reconnected to the database after %d tries", retrying.statistics["attempt_number"])
    return result
