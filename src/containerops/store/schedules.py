"""The ``schedules`` rows: one per cron trigger of a flow's newest version.

A tick is taken by a conditional update (only if ``last_tick`` is still what the taker
saw), so of several servers on one database exactly one starts each tick's run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.store import Store
from containerops.store.values import aware
from containerops.timestamps import rfc3339

_s = t.schedules
#: (flow id, index of the trigger in the flow) -> (schedule, timezone)
Wanted = Mapping[tuple[int, int], tuple[str, str]]
NextTick = Callable[[str, str, datetime], datetime]


@dataclass(frozen=True, slots=True)
class Schedule:
    id: int
    flow_id: int
    schedule: str
    timezone: str
    last_tick: datetime | None
    missed_ticks: int


def _schedule(row: Any) -> Schedule:
    return Schedule(row.id, row.flow_id, row.schedule, row.timezone, aware(row.last_tick), row.missed_ticks)


def newest_sources(store: Store, containing: str) -> list[tuple[int, int, str]]:
    """(flow id, newest version id, source) of each live flow whose newest source has ``containing``."""
    v = t.flow_versions
    newest = (
        sa.select(v.c.flow_id, sa.func.max(v.c.version).label("version")).group_by(v.c.flow_id).subquery()
    )
    query = (
        sa.select(v.c.flow_id, v.c.id, v.c.source)
        .join(newest, sa.and_(newest.c.flow_id == v.c.flow_id, newest.c.version == v.c.version))
        .join(t.flows, t.flows.c.id == v.c.flow_id)
        .where(t.flows.c.deleted_at.is_(None), v.c.source.contains(containing))
    )
    with store.autocommit.connect() as conn:
        return [(row.flow_id, row.id, row.source) for row in conn.execute(query)]


def sync_schedules(store: Store, wanted: Wanted, now: datetime, next_tick: NextTick) -> None:
    """One active row per wanted schedule; the others retired. In one transaction.

    A new schedule starts from ``now`` (its first run is at its next tick), and so does
    one back after it was retired (that time is not downtime to catch up on); a changed
    one keeps its last tick, so no tick runs twice.
    """
    with store.database.begin() as conn:
        rows = {(row.flow_id, row.trigger_index): row for row in conn.execute(sa.select(_s))}
        for key, row in rows.items():
            if key not in wanted and row.active:
                conn.execute(_s.update().where(_s.c.id == row.id).values(active=False, updated_at=now))
        for (flow_id, index), (schedule, timezone) in wanted.items():
            existing = rows.get((flow_id, index))
            if existing is None:
                conn.execute(
                    _s.insert().values(
                        flow_id=flow_id,
                        trigger_index=index,
                        schedule=schedule,
                        timezone=timezone,
                        active=True,
                        last_tick=now,
                        next_tick=next_tick(schedule, timezone, now),
                        missed_ticks=0,
                        updated_at=now,
                    )
                )
            elif (existing.schedule, existing.timezone, existing.active) != (schedule, timezone, True):
                since = (aware(existing.last_tick) if existing.active else None) or now
                conn.execute(
                    _s.update()
                    .where(_s.c.id == existing.id)
                    .values(
                        schedule=schedule,
                        timezone=timezone,
                        active=True,
                        last_tick=since,
                        next_tick=next_tick(schedule, timezone, since),
                        updated_at=now,
                    )
                )


def due_schedules(store: Store, now: datetime) -> list[Schedule]:
    """The active schedules whose next tick is at or before ``now``."""
    with store.autocommit.connect() as conn:
        rows = conn.execute(sa.select(_s).where(_s.c.active.is_(True), _s.c.next_tick <= now)).all()
    return [_schedule(row) for row in rows]


def get_schedule(store: Store, schedule_id: int) -> Schedule | None:
    with store.autocommit.connect() as conn:
        row = conn.execute(sa.select(_s).where(_s.c.id == schedule_id)).first()
    return None if row is None else _schedule(row)


def take_tick(
    store: Store,
    schedule: Schedule,
    seen: datetime | None,
    tick: datetime,
    next_at: datetime,
    missed: int,
    now: datetime,
) -> bool:
    """Move the schedule to ``tick`` if its last tick is still ``seen``; whether this did it."""
    with store.database.begin() as conn:
        return bool(
            conn.execute(
                _s.update()
                .where(_s.c.id == schedule.id, _s.c.last_tick == seen)
                .values(
                    last_tick=tick,
                    next_tick=next_at,
                    missed_ticks=schedule.missed_ticks + missed,
                    updated_at=now,
                )
            ).rowcount
        )


def set_last_run(store: Store, schedule_id: int, run_id: int) -> None:
    with store.database.begin() as conn:
        conn.execute(_s.update().where(_s.c.id == schedule_id).values(last_run_id=run_id))


def soonest_tick(store: Store) -> datetime | None:
    with store.autocommit.connect() as conn:
        found = conn.execute(sa.select(sa.func.min(_s.c.next_tick)).where(_s.c.active.is_(True))).scalar()
    return aware(found)


def list_schedules(store: Store, namespaces: list[str] | None = None) -> list[dict[str, Any]]:
    """Every schedule with its flow, oldest first; ``namespaces`` (None: all) filters."""
    query = sa.select(_s, t.flows.c.uri).join(t.flows, t.flows.c.id == _s.c.flow_id).order_by(_s.c.id)
    if namespaces is not None:
        query = query.where(
            sa.or_(*(t.flows.c.uri.startswith(f"{ns}/", autoescape=True) for ns in namespaces), sa.false())
        )
    with store.autocommit.connect() as conn:
        return [
            {
                "id": row.id,
                "flow": row.uri,
                "trigger_index": row.trigger_index,
                "schedule": row.schedule,
                "timezone": row.timezone,
                "active": row.active,
                "last_tick": rfc3339(row.last_tick),
                "next_tick": rfc3339(row.next_tick),
                "last_run_id": row.last_run_id,
                "missed_ticks": row.missed_ticks,
            }
            for row in conn.execute(query)
        ]
