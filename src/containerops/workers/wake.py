"""How an idle worker waits for ready jobs: woken by PostgreSQL's NOTIFY the moment one is
put up (with a slow poll underneath, should a notification be missed while reconnecting),
or, on MySQL/MariaDB and SQLite, polling: every few milliseconds right after a claim found
work (a busy queue's next job is claimed at once), slowing down to ``IDLE_POLL`` when none
comes.

Every listening worker hears every attempt put up. Were each to claim at once, N workers
would send N claims an attempt, N - 1 of them for nothing (CPU the workers and the
database spend while the server waits for it: bench/workers_throughput.py). So each
attempt has an order of workers, starting at ``id mod`` the live workers (sorted by name,
as the heartbeat last read them): the first claims it at once, the next ``HAND_OVER``
seconds later if it is still untaken (the first is busy, gone, or lacks its labels), the
one after that ``HAND_OVER`` later again, and so on, as the claims announced on
``CLAIMED_CHANNEL`` tell them: a first worker gone does not bring the herd back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from itertools import starmap

from containerops.store import Store
from containerops.store.workers import News, ReadyListener

log = logging.getLogger("containerops.worker")

#: The poll right after a claim found work (seconds) ...
BUSY_POLL = 0.005
#: ... doubling each empty look, up to this.
IDLE_POLL = 0.1
#: With NOTIFY, a look at least this often all the same.
NOTIFIED_POLL = 1.0
#: A lost listener is opened again after this long (polling meanwhile).
REOPEN_AFTER = 5.0
#: How long an attempt put up is left to one worker before the next in its order claims it.
HAND_OVER = 0.01


class Wake:
    """One worker's waiting between claims."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self._listener: ReadyListener | None = None
        self._poll = BUSY_POLL
        self._reopen_at = 0.0
        #: Attempts announced and not yet taken (id -> when this worker heard of it) ...
        self._pending: dict[int, float] = {}
        #: ... of which these were pending when this worker last claimed.
        self._asked: set[int] = set()
        self._live: list[str] = []

    @property
    def listening(self) -> bool:
        return self._listener is not None

    @property
    def pending(self) -> list[int]:
        """The attempts heard of as put up and not settled since, oldest first."""
        return sorted(self._pending)

    async def open(self) -> None:
        """Listen, where the database can notify; a failure leaves the worker polling."""
        self._reopen_at = asyncio.get_running_loop().time() + REOPEN_AFTER
        try:
            self._listener = await ReadyListener.open(self.store)
        except Exception as error:
            log.warning("cannot listen for ready jobs (polling instead): %s", error)

    def workers(self, live: Sequence[str]) -> None:
        """The live workers' names, sorted: which one is first for which attempt."""
        self._live = list(live)

    def claiming(self) -> None:
        """A claim starts: it looks at every attempt pending now."""
        self._asked = set(self._pending)

    def found(self, count: int) -> None:
        """What the last claim took: work keeps the poll short. What it looked at is settled:
        taken by it, or not for this worker (its labels), or claimed by another."""
        if count:
            self._poll = BUSY_POLL
        for ready_id in self._asked:
            self._pending.pop(ready_id, None)
        self._asked = set()

    async def idle(self) -> None:
        """Wait until a job may be ready for this worker."""
        if self._listener is not None:
            try:
                await self._until_due(self._listener)
                return
            except Exception as error:  # the database restarted: poll until it listens again
                log.warning("stopped listening for ready jobs (polling meanwhile): %s", error)
                await self.close()
                self._reopen_at = asyncio.get_running_loop().time() + REOPEN_AFTER
        elif self._can_listen() and asyncio.get_running_loop().time() >= self._reopen_at:
            await self.open()
        await asyncio.sleep(self._poll)
        self._poll = min(self._poll * 2, IDLE_POLL)

    async def _until_due(self, listener: ReadyListener) -> None:
        """Until a pending attempt is this worker's to claim, or ``NOTIFIED_POLL`` passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + NOTIFIED_POLL
        while True:
            now = loop.time()
            due = min(starmap(self._due, self._pending.items()), default=deadline)
            if min(due, deadline) <= now:
                return
            news = await listener.news(min(due, deadline) - now)
            if news is not None:
                self._heard(news, loop.time())

    def _heard(self, news: News, now: float) -> None:
        for ready_id in news.put_up:
            self._pending.setdefault(ready_id, now)
        for ready_id in news.taken:
            self._pending.pop(ready_id, None)

    def _due(self, ready_id: int, heard: float) -> float:
        """When this worker claims a pending attempt: ``HAND_OVER`` times its place in the
        attempt's order after it was heard of (at once while it knows no live workers)."""
        live = self._live
        if self.name not in live:
            return heard
        return heard + HAND_OVER * ((live.index(self.name) - ready_id) % len(live))

    def _can_listen(self) -> bool:
        return self.store.database.dialect.name == "postgresql"

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                await listener.close()
            except Exception as error:
                log.debug("closing the listener: %s", error)
