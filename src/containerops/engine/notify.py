"""Wake-ups across threads for things the engine waits on (a pause decision,
a service's callback), and that others wait on from the engine (lines stored).

The store is the truth and waiters poll it; this only makes the common case
fast: when the decision or callback arrives in the same process (an API
route served by the server that runs the engine), the waiting task is woken
at once instead of at its next poll. Routes run in worker threads, so the
wake-up goes through the waiter's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: The kind of wake-up a run's recorder gives once it stored lines (key: the run id): the
#: server's log streams wait for it (or for their next poll).
LOGS = "logs"

_lock = threading.Lock()
_waiters: dict[tuple[str, int], set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}


@contextmanager
def waiting(kind: str, key: int) -> Iterator[asyncio.Event]:
    """An event set whenever ``notify(kind, key)`` is called while the block runs."""
    entry = (asyncio.get_running_loop(), asyncio.Event())
    with _lock:
        _waiters.setdefault((kind, key), set()).add(entry)
    try:
        yield entry[1]
    finally:
        with _lock:
            found = _waiters.get((kind, key))
            if found is not None:
                found.discard(entry)
                if not found:
                    del _waiters[(kind, key)]


def notify(kind: str, key: int) -> None:
    """Wake every task of this process waiting on ``(kind, key)``; from any thread."""
    with _lock:
        entries = list(_waiters.get((kind, key), ()))
    for loop, event in entries:
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits there
            loop.call_soon_threadsafe(event.set)


async def wait_or_poll(event: asyncio.Event, seconds: float) -> None:
    """Return when ``event`` is set or after ``seconds``, whichever comes first; clear it."""
    if seconds > 0:
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            pass
    event.clear()
