"""Cancelling a run that another process owns, through the store.

The owner of a run (a ``coops run``, a server, on this machine or another) polls the
run's ``cancel_request`` while it runs (:func:`watch_cancel_requests`) and cancels it
as Ctrl-C would: running jobs stopped, exit handlers run. A newer run of a
``concurrency:`` group asks that way, and so do ``coops runs cancel`` and the API's
cancel for a run they do not own (:func:`ask_to_cancel`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from containerops.engine.abandoned import settle_abandoned_runs
from containerops.store import Store
from containerops.store import concurrency as groups
from containerops.store.ownership import ownership
from containerops.store.reconnect import reconnecting

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
    restart only holds the look up (reconnecting): it does not end the run."""
    while True:
        await asyncio.sleep(poll)
        request = await asyncio.to_thread(reconnecting, groups.cancel_request, store, run_id)
        if request is not None:
            cancel(request)
            return
