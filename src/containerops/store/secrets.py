"""The ``secrets`` rows: each namespace's secrets as ciphertext (sealed and opened by
``containerops.server.secrets``; nothing here ever sees a value in clear)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.store import Store
from containerops.store.values import aware

_secrets = t.secrets


def _one(namespace: str, name: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (_secrets.c.namespace == namespace, _secrets.c.name == name)


def put_sealed(store: Store, namespace: str, name: str, ciphertext: str) -> bool:
    """Keep (or replace) a secret's ciphertext; True when the secret is new."""
    now = datetime.now(UTC)
    with store.database.begin() as conn:
        updated = conn.execute(
            _secrets.update().where(*_one(namespace, name)).values(ciphertext=ciphertext, updated_at=now)
        )
        if updated.rowcount:
            return False
        conn.execute(
            _secrets.insert().values(
                namespace=namespace, name=name, ciphertext=ciphertext, created_at=now, updated_at=now
            )
        )
        return True


def delete_sealed(store: Store, namespace: str, name: str) -> bool:
    """Forget a secret; False when there was none."""
    with store.database.begin() as conn:
        return bool(conn.execute(_secrets.delete().where(*_one(namespace, name))).rowcount)


def secret_names(store: Store, namespace: str) -> list[dict[str, object]]:
    """Names and dates, by name."""
    query = (
        sa.select(_secrets.c.name, _secrets.c.created_at, _secrets.c.updated_at)
        .where(_secrets.c.namespace == namespace)
        .order_by(_secrets.c.name)
    )
    with store.autocommit.connect() as conn:
        return [
            {"name": row.name, "created_at": aware(row.created_at), "updated_at": aware(row.updated_at)}
            for row in conn.execute(query)
        ]


def sealed_secrets(store: Store, namespace: str) -> dict[str, str]:
    """Every secret of ``namespace``: name -> ciphertext."""
    query = sa.select(_secrets.c.name, _secrets.c.ciphertext).where(_secrets.c.namespace == namespace)
    with store.autocommit.connect() as conn:
        return {row.name: row.ciphertext for row in conn.execute(query)}


def sealed_secret(store: Store, namespace: str, name: str) -> str | None:
    """One secret's ciphertext, or None when the namespace has none by that name."""
    with store.autocommit.connect() as conn:
        found = conn.execute(sa.select(_secrets.c.ciphertext).where(*_one(namespace, name))).scalar()
    return None if found is None else str(found)
