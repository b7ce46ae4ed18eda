"""Runs on a schedule: ``{type: cron, schedule: "*/5 * * * *", timezone: Europe/Paris}``.

Each cron trigger of a flow's newest version has a row in ``schedules`` holding
the last tick acted on. ``tick()`` starts one run for every schedule whose next
tick has come; when several ticks were missed (the server was down) it starts
one catch-up run for the latest of them, never one per missed tick, and counts
the others in ``missed_ticks``. Taking a tick is a conditional update of
``last_tick``, so two servers on one store never both run it.

Time comes from an injected ``Clock`` so that tests move it by hand instead of
sleeping; ``run()`` is the loop the server keeps going while it is up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from croniter import croniter

from containerops.model.hooks import CronTrigger
from containerops.model.loader import parse_flow
from containerops.server.manager import RunManager
from containerops.store import Store, schedules
from containerops.timestamps import rfc3339

log = logging.getLogger("containerops.server.cron")

#: How often the loop looks for new, changed or deleted schedules (seconds).
RESYNC_SECONDS = 30.0
#: Missed ticks are counted up to this many (a year of a per-minute schedule is far more).
MAX_COUNTED = 10_000


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class Due:
    """A schedule whose tick has come: the tick to run and how many before it were missed."""

    schedule_id: int
    flow_id: int
    tick: datetime
    missed: int
    previous: datetime | None


def next_tick(schedule: str, timezone: str, after: datetime) -> datetime:
    """The first tick strictly after ``after``, in UTC (the schedule read in its own zone)."""
    local = after.astimezone(ZoneInfo(timezone))
    found: datetime = croniter(schedule, local).get_next(datetime)
    return found.astimezone(UTC)


def ticks(schedule: str, timezone: str, after: datetime, until: datetime) -> Iterator[datetime]:
    """The ticks in ``(after, until]``, oldest first, in UTC."""
    it = croniter(schedule, after.astimezone(ZoneInfo(timezone)))
    while True:
        tick = it.get_next(datetime).astimezone(UTC)
        if tick > until:
            return
        yield tick


class Scheduler:
    """Keeps the ``schedules`` rows in step with the flows, and starts their runs."""

    def __init__(self, store: Store, manager: RunManager, clock: Clock | None = None) -> None:
        self.store = store
        self.manager = manager
        self.clock: Clock = clock or SystemClock()
        self._parsed: dict[int, list[CronTrigger]] = {}  # flow version id -> its cron triggers
        self._stop = asyncio.Event()
        self._woken = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- schedules from flows ---------------------------------------------------
    def sync(self) -> None:
        """Make one active row per cron trigger of each flow's newest version; retire the others.

        A new schedule starts from now: it runs at its next tick, not at once; so does
        one that comes back after it was retired. A changed schedule keeps its last
        tick, so no tick runs twice.
        """
        wanted = {
            (flow_id, index): (trigger.schedule, trigger.timezone)
            for flow_id, version_id, source in schedules.newest_sources(self.store, "cron")
            for index, trigger in enumerate(self._cron_triggers(version_id, source))
        }
        schedules.sync_schedules(self.store, wanted, self.clock.now(), next_tick)

    def _cron_triggers(self, version_id: int, source: str) -> list[CronTrigger]:
        found = self._parsed.get(version_id)
        if found is None:
            try:
                flow = parse_flow(source, f"flow version {version_id}").flow
                # an inactive flow keeps its triggers written, and no schedule
                found = [tr for tr in flow.triggers if isinstance(tr, CronTrigger) and flow.active]
            except Exception as exc:  # a stored version is valid; never let one stop the others
                log.warning("flow version %s: cannot read its triggers: %s", version_id, exc)
                found = []
            self._parsed[version_id] = found
        return found

    # -- ticks --------------------------------------------------------------------
    def due(self) -> list[Due]:
        """The schedules whose next tick has come, with the latest tick passed and the missed count."""
        now = self.clock.now()
        found: list[Due] = []
        for row in schedules.due_schedules(self.store, now):
            last = row.last_tick or now
            passed: list[datetime] = []
            for tick in ticks(row.schedule, row.timezone, last, now):
                passed.append(tick)
                if len(passed) > MAX_COUNTED:
                    break
            if passed:
                found.append(Due(row.id, row.flow_id, passed[-1], len(passed) - 1, row.last_tick))
        return found

    async def tick(self) -> list[int]:
        """Start the runs whose tick has come; the ids of the runs started."""
        started: list[int] = []
        for due in self.due():
            row = schedules.get_schedule(self.store, due.schedule_id)
            if row is None:
                continue
            # Taken only if ``last_tick`` is still what ``due()`` saw: compared with the row
            # read just now, a tick another server took meanwhile would be taken again.
            next_at = next_tick(row.schedule, row.timezone, due.tick)
            taken = schedules.take_tick(
                self.store, row, due.previous, due.tick, next_at, due.missed, self.clock.now()
            )
            if not taken:  # another server took this tick
                continue
            if due.missed:
                log.warning(
                    "schedule %s of flow %s: %s tick(s) missed while the server was down; one catch-up run",
                    due.schedule_id,
                    due.flow_id,
                    due.missed,
                )
            trigger: dict[str, Any] = {
                "type": "cron",
                "schedule": row.schedule,
                "timezone": row.timezone,
                "tick": rfc3339(due.tick),
                "missed": due.missed,
            }
            env = {"CO_EVENT": "cron", "CO_CRON_TICK": rfc3339(due.tick)}
            try:
                submitted = await self.manager.submit(due.flow_id, env=env, trigger=trigger)
            except Exception as exc:
                log.error(
                    "schedule %s: the run of flow %s could not start: %s", due.schedule_id, due.flow_id, exc
                )
                continue
            schedules.set_last_run(self.store, due.schedule_id, submitted.id)
            started.append(submitted.id)
        return started

    def seconds_to_next(self) -> float:
        """How long until the soonest tick (at most ``RESYNC_SECONDS``)."""
        soonest = schedules.soonest_tick(self.store)
        if soonest is None:
            return RESYNC_SECONDS
        wait = (soonest - self.clock.now()).total_seconds()
        return min(max(wait, 0.0), RESYNC_SECONDS)

    # -- the loop -----------------------------------------------------------------
    async def run(self) -> None:
        """Sync and tick until ``stop()``; an error is logged and the loop goes on."""
        self._loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            self._woken.clear()
            try:
                self.sync()
                await self.tick()
                wait = self.seconds_to_next()
            except Exception:
                log.exception("the scheduler failed a round; trying again")
                wait = RESYNC_SECONDS
            sleeper = asyncio.ensure_future(self.clock.sleep(max(wait, 0.01)))
            stopper = asyncio.ensure_future(self._stop.wait())
            waker = asyncio.ensure_future(self._woken.wait())
            await asyncio.wait({sleeper, stopper, waker}, return_when=asyncio.FIRST_COMPLETED)
            for pending in (sleeper, stopper, waker):
                pending.cancel()

    def wake(self) -> None:
        """Sync now, not at the next round: a flow was saved or deleted through this server,
        and its schedule shows (and counts) from now. Safe from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._woken.set)

    def stop(self) -> None:
        self._stop.set()


__all__ = ["Clock", "Scheduler", "SystemClock", "next_tick", "ticks"]
