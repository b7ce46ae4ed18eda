"""What the registry's token endpoint refused: kept, so that an administrator sees who
tried to push or pull what they may not, and with which token."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.store import Store
from containerops.store.values import aware, utcnow
from containerops.timestamps import rfc3339


@dataclass(frozen=True, slots=True)
class Refusal:
    at: datetime
    user: str | None
    token_key: str | None
    scope: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "at": rfc3339(self.at)}


def record_refusals(store: Store, refusals: list[Refusal]) -> None:
    """Keep ``refusals`` (one statement, however many scopes a request was refused)."""
    if not refusals:
        return
    with store.database.begin() as conn:
        conn.execute(
            t.access_refusals.insert(),
            [{**asdict(r), "scope": r.scope[:255], "user": r.user and r.user[:64]} for r in refusals],
        )


def list_refusals(store: Store, *, limit: int = 100) -> list[Refusal]:
    """The newest refusals first."""
    query = sa.select(t.access_refusals).order_by(t.access_refusals.c.id.desc()).limit(limit)
    with store.autocommit.connect() as conn:
        return [
            Refusal(
                at=aware(row.at) or utcnow(),
                user=row.user,
                token_key=row.token_key,
                scope=row.scope,
                reason=row.reason,
            )
            for row in conn.execute(query)
        ]
