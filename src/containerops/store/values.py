"""Small conversions every part that reads or writes the store shares.

Times are written in UTC; SQLite hands them back without their zone, other
databases with it. :func:`aware` makes both the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

import sqlalchemy as sa

#: The largest id or number a row can have (a signed 64-bit integer on every database):
#: a bigger one names nothing, and must be answered as such before it reaches a query.
MAX_ID = 2**63 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """A stored time with its zone (UTC, in which it was written)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def new_id(result: sa.CursorResult[Any]) -> int:
    """The primary key an INSERT gave its row."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
