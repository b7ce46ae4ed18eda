"""A scheduler in a process of its own, for the test that two servers never run one tick twice.

``take_ticks`` is the body of each process: its own engine on the shared database,
its own run manager, and a clock set to each tick in turn. Its ``due()`` waits at a
barrier shared with the other process, so both have seen a tick as due before either
takes it: only the conditional update of ``last_tick`` can then keep the tick to one run.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from containerops.executors.dummy import DummyExecutor
from containerops.server.manager import RunManager
from containerops.server.triggers.cron import Due, Scheduler
from containerops.store import Store


class FixedClock:
    """Stands at the time the process sets; never sleeps (the loop is not used)."""

    def __init__(self, now: datetime) -> None:
        self.when = now

    def now(self) -> datetime:
        return self.when

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("the race test calls tick() itself")


class RacingScheduler(Scheduler):
    """A scheduler whose ``due()`` returns only once the other process has computed its own."""

    def __init__(self, store: Store, manager: RunManager, clock: FixedClock, barrier: Any) -> None:
        super().__init__(store, manager, clock)
        self.barrier = barrier

    def due(self) -> list[Due]:
        found = super().due()
        # Blocks this process's event loop for a moment: nothing else needs it meanwhile.
        self.barrier.wait(60)
        return found


def take_ticks(url: str, ticks: list[datetime], barrier: Any) -> None:
    """Run one scheduler tick at each of ``ticks`` against the store at ``url``."""

    async def main() -> None:
        store = Store.open(url)
        manager = RunManager(store, DummyExecutor())
        await manager.start()
        try:
            clock = FixedClock(ticks[0])
            scheduler = RacingScheduler(store, manager, clock, barrier)
            for tick in ticks:
                clock.when = tick
                await scheduler.tick()
            for run_id in manager.live_runs():
                await manager.wait(run_id)
        finally:
            await manager.stop()
            store.close()

    asyncio.run(main())


__all__ = ["take_ticks"]
