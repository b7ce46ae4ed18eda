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

import sqlalchemy as sa
from croniter import croniter

from containerops.model.hooks import CronTrigger
from containerops.model.loader import parse_flow
from containerops.server.manager import RunManager
from containerops.store import Store
from containerops.store import schema as t
from containerops.store.values import aware
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

    # -- schedules from flows ---------------------------------------------------
    def sync(self) -> None:
        """Make one active row per cron trigger of each flow's newest version; retire the others.

        A new schedule starts from now: it runs at its next tick, not at once; so does
        one that comes back after it was retired. A changed schedule keeps its last
        tick, so no tick runs twice.
        """
        now = self.clock.now()
        wanted: dict[tuple[int, int], CronTrigger] = {}
        for flow_id, version_id, source in self._newest_versions():
            for index, trigger in enumerate(self._cron_triggers(version_id, source)):
                wanted[(flow_id, index)] = trigger
        s = t.schedules
        with self.store.database.begin() as conn:
            rows = {(row.flow_id, row.trigger_index): row for row in conn.execute(sa.select(s))}
            for key, row in rows.items():
                if key not in wanted and row.active:
                    conn.execute(s.update().where(s.c.id == row.id).values(active=False, updated_at=now))
            for (flow_id, index), trigger in wanted.items():
                existing = rows.get((flow_id, index))
                if existing is None:
                    conn.execute(
                        s.insert().values(
                            flow_id=flow_id,
                            trigger_index=index,
                            schedule=trigger.schedule,
                            timezone=trigger.timezone,
                            active=True,
                            last_tick=now,
                            next_tick=next_tick(trigger.schedule, trigger.timezone, now),
                            missed_ticks=0,
                            updated_at=now,
                        )
                    )
                elif (existing.schedule, existing.timezone, existing.active) != (
                    trigger.schedule,
                    trigger.timezone,
                    True,
                ):
                    # A schedule back after it was retired starts from now: the time it was
                    # retired is not downtime to catch up on.
                    since = (aware(existing.last_tick) if existing.active else None) or now
                    conn.execute(
                        s.update()
                        .where(s.c.id == existing.id)
                        .values(
                            schedule=trigger.schedule,
                            timezone=trigger.timezone,
                            active=True,
                            last_tick=since,
                            next_tick=next_tick(trigger.schedule, trigger.timezone, since),
                            updated_at=now,
                        )
                    )

    def _newest_versions(self) -> list[tuple[int, int, str]]:
        """(flow id, newest version id, source) of each live flow that may have a cron trigger."""
        v = t.flow_versions
        newest = (
            sa.select(v.c.flow_id, sa.func.max(v.c.version).label("version")).group_by(v.c.flow_id).subquery()
        )
        query = (
            sa.select(v.c.flow_id, v.c.id, v.c.source)
            .join(newest, sa.and_(newest.c.flow_id == v.c.flow_id, newest.c.version == v.c.version))
            .join(t.flows, t.flows.c.id == v.c.flow_id)
            .where(t.flows.c.deleted_at.is_(None), v.c.source.contains("cron"))
        )
        with self.store.database.connect() as conn:
            return [(row.flow_id, row.id, row.source) for row in conn.execute(query)]

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
        s = t.schedules
        with self.store.database.connect() as conn:
            rows = conn.execute(sa.select(s).where(s.c.active.is_(True), s.c.next_tick <= now)).all()
        found: list[Due] = []
        for row in rows:
            last = aware(row.last_tick) or now
            passed: list[datetime] = []
            for tick in ticks(row.schedule, row.timezone, last, now):
                passed.append(tick)
                if len(passed) > MAX_COUNTED:
                    break
            if passed:
                found.append(Due(row.id, row.flow_id, passed[-1], len(passed) - 1, aware(row.last_tick)))
        return found

    async def tick(self) -> list[int]:
        """Start the runs whose tick has come; the ids of the runs started."""
        started: list[int] = []
        s = t.schedules
        for due in self.due():
            row = self._row(due.schedule_id)
            if row is None:
                continue
            # Taken only if ``last_tick`` is still what ``due()`` saw: compared with the row
            # read just now, a tick another server took meanwhile would be taken again.
            with self.store.database.begin() as conn:
                taken = conn.execute(
                    s.update()
                    .where(s.c.id == due.schedule_id, s.c.last_tick == due.previous)
                    .values(
                        last_tick=due.tick,
                        next_tick=next_tick(row["schedule"], row["timezone"], due.tick),
                        missed_ticks=row["missed_ticks"] + due.missed,
                        updated_at=self.clock.now(),
                    )
                ).rowcount
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
                "schedule": row["schedule"],
                "timezone": row["timezone"],
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
            with self.store.database.begin() as conn:
                conn.execute(s.update().where(s.c.id == due.schedule_id).values(last_run_id=submitted.id))
            started.append(submitted.id)
        return started

    def _row(self, schedule_id: int) -> dict[str, Any] | None:
        with self.store.database.connect() as conn:
            row = conn.execute(sa.select(t.schedules).where(t.schedules.c.id == schedule_id)).first()
        return None if row is None else dict(row._mapping)

    def seconds_to_next(self) -> float:
        """How long until the soonest tick (at most ``RESYNC_SECONDS``)."""
        with self.store.database.connect() as conn:
            soonest: datetime | None = conn.execute(
                sa.select(sa.func.min(t.schedules.c.next_tick)).where(t.schedules.c.active.is_(True))
            ).scalar()
        if soonest is None:
            return RESYNC_SECONDS
        wait = (aware(soonest) - self.clock.now()).total_seconds()
        return min(max(wait, 0.0), RESYNC_SECONDS)

    # -- the loop -----------------------------------------------------------------
    async def run(self) -> None:
        """Sync and tick until ``stop()``; an error is logged and the loop goes on."""
        while not self._stop.is_set():
            try:
                self.sync()
                await self.tick()
                wait = self.seconds_to_next()
            except Exception:
                log.exception("the scheduler failed a round; trying again")
                wait = RESYNC_SECONDS
            sleeper = asyncio.ensure_future(self.clock.sleep(max(wait, 0.01)))
            stopper = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for pending in (sleeper, stopper):
                pending.cancel()

    def stop(self) -> None:
        self._stop.set()


def list_schedules(store: Store, namespaces: list[str] | None = None) -> list[dict[str, Any]]:
    """Every schedule with its flow, newest flow first; ``namespaces`` (None: all) filters."""
    s = t.schedules
    query = sa.select(s, t.flows.c.uri).join(t.flows, t.flows.c.id == s.c.flow_id).order_by(s.c.id)
    if namespaces is not None:
        query = query.where(
            sa.or_(*(t.flows.c.uri.startswith(f"{ns}/", autoescape=True) for ns in namespaces), sa.false())
        )

    iso = rfc3339

    with store.database.connect() as conn:
        return [
            {
                "id": row.id,
                "flow": row.uri,
                "trigger_index": row.trigger_index,
                "schedule": row.schedule,
                "timezone": row.timezone,
                "active": row.active,
                "last_tick": iso(row.last_tick),
                "next_tick": iso(row.next_tick),
                "last_run_id": row.last_run_id,
                "missed_ticks": row.missed_ticks,
            }
            for row in conn.execute(query)
        ]


__all__ = ["Clock", "Scheduler", "SystemClock", "list_schedules", "next_tick", "ticks"]
