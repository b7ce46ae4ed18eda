"""How an idle worker waits for ready jobs: woken by PostgreSQL's NOTIFY the moment one is
put up (with a slow poll underneath, should a notification be missed while reconnecting),
or, on MySQL/MariaDB and SQLite, polling: every few milliseconds right after a claim found
work (a busy queue's next job is claimed at once), slowing down to ``IDLE_POLL`` when none
comes."""

from __future__ import annotations

import asyncio
import logging

from containerops.store import Store
from containerops.store.workers import ReadyListener

log = logging.getLogger("containerops.worker")

#: The poll right after a claim found work (seconds) ...
BUSY_POLL = 0.005
#: ... doubling each empty look, up to this.
IDLE_POLL = 0.1
#: With NOTIFY, a look at least this often all the same.
NOTIFIED_POLL = 1.0
#: A lost listener is opened again after this long (polling meanwhile).
REOPEN_AFTER = 5.0


class Wake:
    """One worker's waiting between claims."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._listener: ReadyListener | None = None
        self._poll = BUSY_POLL
        self._reopen_at = 0.0

    async def open(self) -> None:
        """Listen, where the database can notify; a failure leaves the worker polling."""
        self._reopen_at = asyncio.get_running_loop().time() + REOPEN_AFTER
        try:
            self._listener = await ReadyListener.open(self.store)
        except Exception as error:
            log.warning("cannot listen for ready jobs (polling instead): %s", error)

    def found(self, count: int) -> None:
        """What the last claim took: work keeps the poll short."""
        if count:
            self._poll = BUSY_POLL

    async def idle(self) -> None:
        """Wait until a job may be ready."""
        if self._listener is not None:
            try:
                await self._listener.wait(NOTIFIED_POLL)
                return
            except Exception as error:  # the database restarted: poll until it listens again
                log.warning("stopped listening for ready jobs (polling meanwhile): %s", error)
                await self.close()
                self._reopen_at = asyncio.get_running_loop().time() + REOPEN_AFTER
        elif self._can_listen() and asyncio.get_running_loop().time() >= self._reopen_at:
            await self.open()
        await asyncio.sleep(self._poll)
        self._poll = min(self._poll * 2, IDLE_POLL)

    def _can_listen(self) -> bool:
        return self.store.database.dialect.name == "postgresql"

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                await listener.close()
            except Exception as error:
                log.debug("closing the listener: %s", error)
