"""Cancelling a run that another process owns, through the store.

The owner of a run (a ``coops run``, a server, on this machine or another) polls the
run's ``cancel_request`` while it runs (:func:`watch_cancel_requests`) and cancels it
as Ctrl-C would: running jobs stopped, exit handlers run. A newer run of a
``concurrency:`` group asks that way, and so do ``coops runs cancel`` and the API's
cancel for a run they do not own (:func:`ask_to_cancel`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from containerops.engine.abandoned import settle_abandoned_runs
from containerops.store import Store
from containerops.store import concurrency as groups
from containerops.store.ownership import ownership
from containerops.store.reconnect import reconnecting

log = logging.getLogger("containerops.engine")

#: How often a running run looks for a cancel request.
POLL = 0.5


def ask_to_cancel(store: Store, run_id: int, reason: str) -> bool:
    """Ask the owner of an unfinished run to cancel it; True when asked, False when its
    owner was gone and it was settled here instead (failed as abandoned)."""
    if not ownership(store, run_id).alive:
        settle_abandoned_runs(store, only=run_id, servers=True)
        return False
    groups.request_cancel(store, [run_id], reason)
    return True


async def watch_cancel_requests(
    store: Store, run_id: int, cancel: Callable[[str], None], poll: float = POLL
) -> None:
    """While the run goes on: cancel it (once) when another process asks for it. A database
    restart only holds the look up (reconnecting): it does not end the run. The runs of one
    event loop and store are looked up together, one query a poll (a server runs many)."""
    key = (asyncio.get_running_loop(), store, poll)
    watch = _watches.get(key)
    if watch is None:
        watch = _watches[key] = _Watch(key)
    asked = asyncio.Event()

    def asked_to(reason: str) -> None:
        cancel(reason)
        asked.set()

    watch.runs[run_id] = asked_to
    watch.start()
    try:
        await asked.wait()
    finally:
        watch.runs.pop(run_id, None)


#: The event loop, the store and the poll interval of runs watched together.
_Key = tuple[asyncio.AbstractEventLoop, Store, float]


class _Watch:
    """The runs one event loop runs on one store, and the task that looks up their cancel
    requests every ``poll`` seconds while there are any."""

    def __init__(self, key: _Key) -> None:
        self.key = key
        self.runs: dict[int, Callable[[str], None]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self._task = self.key[0].create_task(self._look())
        self._task.add_done_callback(lambda _: self._forget())

    def _forget(self) -> None:
        """Nothing more to watch (or the loop is closing): the next run starts a new watch."""
        if _watches.get(self.key) is self and not (self.runs and self.key[0].is_running()):
            del _watches[self.key]

    async def _look(self) -> None:
        _, store, poll = self.key
        while self.runs:
            await asyncio.sleep(poll)
            try:
                asked = await asyncio.to_thread(reconnecting, groups.cancel_requests, store, list(self.runs))
            except Exception as error:  # looked up again at the next poll
                log.warning("cannot read the runs' cancel requests: %s", error)
                continue
            for run_id, reason in asked.items():
                cancel = self.runs.pop(run_id, None)
                if cancel is not None:
                    cancel(reason)


_watches: dict[_Key, _Watch] = {}
