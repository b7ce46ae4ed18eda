"""Small conversions and row shapes every part that reads or writes the store shares.

Times (``utcnow``, ``aware``) come from :mod:`containerops.timestamps`, kept here
too for the parts that already take them from the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from containerops.timestamps import aware, utcnow

__all__ = ["MAX_ID", "aware", "history_row", "new_id", "utcnow"]

#: The largest id or number a row can have (an ``Integer`` column: 32 bits on PostgreSQL and
#: MySQL, whose queries fail on a bigger value): a bigger one names nothing, and must be
#: answered as such before it reaches a query.
MAX_ID = 2**31 - 1


def new_id(result: sa.CursorResult[Any]) -> int:
    """The primary key an INSERT gave its row."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def history_row(
    run_id: int, job_id: int | None, attempt: int | None, status: str, reason: str | None, at: datetime
) -> dict[str, Any]:
    """A row of a run's history (``state_changes``): a state change of the run (no job) or a job."""
    return dict(run_id=run_id, job_id=job_id, attempt=attempt, status=status, reason=reason, at=at)
