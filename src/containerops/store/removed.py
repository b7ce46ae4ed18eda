"""Counts of what the store removed on purpose, so that counters read from its rows
(``store.metrics``) add it back and never go down when it forgets: log lines of old runs
(``store.loggc``) and refusals of unproved webhook requests past those kept
(``store.deliveries``). A removal adds to its count in its own transaction."""

from __future__ import annotations

import sqlalchemy as sa

from containerops.store import schema as t

#: The counted removals.
LOG_LINES = "log_lines"
REFUSED_DELIVERIES = "deliveries:refused"


def count_removed(conn: sa.Connection, name: str, amount: int) -> None:
    """Add ``amount`` to what was removed of ``name``, in the removal's transaction (its
    first count inserts the row: two at once conflict, and the caller's ``again_on_conflict``
    runs the removal again)."""
    if not amount:
        return
    counts = t.removed_counts
    added = conn.execute(counts.update().where(counts.c.name == name).values(value=counts.c.value + amount))
    if not added.rowcount:
        conn.execute(counts.insert().values(name=name, value=amount))


def removed(name: str) -> sa.ColumnElement[int]:
    """What was removed of ``name``, to be read in the same statement as what is held (one
    snapshot: a removal committed between two reads would be counted twice or not at all)."""
    counts = t.removed_counts.c
    return sa.func.coalesce(sa.select(counts.value).where(counts.name == name).scalar_subquery(), 0)
