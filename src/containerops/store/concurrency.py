"""Concurrency groups and cancel requests: the rows that let runs of one group take turns
across processes, and let one process ask another's run to stop.

A run records its group when it is created (``runs.concurrency_group``), so its place in
the queue (its id) is known at once to every process. One ``concurrency_groups`` row per
group names its holder; a run takes it with a conditional update from the holder it saw
(finished, or whose owner is gone) to itself, so two runs never both hold a group. Only
plain SELECT/INSERT/UPDATE: SQLite, PostgreSQL and MySQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.ownership import UNFINISHED, owner_alive
from containerops.store.values import utcnow

if TYPE_CHECKING:
    from containerops.store.store import Store


@dataclass(frozen=True, slots=True)
class Member:
    """An unfinished run of a group."""

    id: int
    status: str
    #: Its owner may still run it (a server's paused run waits for a server: it counts).
    live: bool
    cancel_request: str | None


@dataclass(frozen=True, slots=True)
class Holder:
    """The group's row: whether there is one yet, and the run it names."""

    exists: bool
    run_id: int | None


def group_of(store: Store, run_id: int) -> str | None:
    return _text(store, run_id, t.runs.c.concurrency_group)


def _text(store: Store, run_id: int, column: sa.Column[str]) -> str | None:
    """One text column of a run."""
    with store.autocommit.connect() as conn:
        value: str | None = conn.execute(sa.select(column).where(t.runs.c.id == run_id)).scalar_one()
    return value


def members(store: Store, group: str) -> list[Member]:
    """The unfinished runs of ``group``, oldest first."""
    with store.autocommit.connect() as conn:
        rows = conn.execute(
            sa.select(
                t.runs.c.id,
                t.runs.c.status,
                t.runs.c.owner,
                t.runs.c.heartbeat_at,
                t.runs.c.trigger,
                t.runs.c.cancel_request,
            )
            .where(t.runs.c.concurrency_group == group, t.runs.c.status.in_(UNFINISHED))
            .order_by(t.runs.c.id)
        ).all()
    return [
        Member(
            row.id,
            row.status,
            owner_alive(row.owner, row.heartbeat_at) or (row.status == "paused" and row.trigger is not None),
            row.cancel_request,
        )
        for row in rows
    ]


def holder(store: Store, group: str) -> Holder:
    with store.autocommit.connect() as conn:
        row = conn.execute(
            sa.select(t.concurrency_groups.c.run_id).where(t.concurrency_groups.c.name == group)
        ).one_or_none()
    return Holder(False, None) if row is None else Holder(True, row.run_id)


def take(store: Store, group: str, run_id: int, seen: Holder) -> bool:
    """Make ``run_id`` the holder of ``group`` if the holder is still the one ``seen``;
    whether it now holds it (False: another run took it first)."""
    now = utcnow()
    if not seen.exists:
        try:
            with store.database.begin() as conn:
                conn.execute(t.concurrency_groups.insert().values(name=group, run_id=run_id, taken_at=now))
            return True
        except sa.exc.IntegrityError:  # another run made the row first
            return False
    column = t.concurrency_groups.c.run_id
    unchanged = column.is_(None) if seen.run_id is None else column == seen.run_id
    with store.database.begin() as conn:
        result = conn.execute(
            t.concurrency_groups.update()
            .where(t.concurrency_groups.c.name == group, unchanged)
            .values(run_id=run_id, taken_at=now)
        )
    return result.rowcount == 1


def request_cancel(store: Store, run_ids: Iterable[int], reason: str) -> None:
    """Ask the owners of these runs to cancel them (a run asked already keeps its first reason)."""
    ids = list(run_ids)
    if not ids:
        return
    with store.database.begin() as conn:
        conn.execute(
            t.runs.update()
            .where(t.runs.c.id.in_(ids), t.runs.c.cancel_request.is_(None), t.runs.c.status.in_(UNFINISHED))
            .values(cancel_request=reason)
        )


def cancel_requests(store: Store, run_ids: Iterable[int]) -> dict[int, str]:
    """Run id -> why another process asked it to stop, for those of ``run_ids`` asked."""
    ids = list(run_ids)
    if not ids:
        return {}
    with store.autocommit.connect() as conn:
        rows = conn.execute(
            sa.select(t.runs.c.id, t.runs.c.cancel_request).where(
                t.runs.c.id.in_(ids), t.runs.c.cancel_request.is_not(None)
            )
        ).all()
    return {row.id: row.cancel_request for row in rows}


def cancel_request(store: Store, run_id: int) -> str | None:
    """Why another process asked this run to stop, or None."""
    return _text(store, run_id, t.runs.c.cancel_request)
