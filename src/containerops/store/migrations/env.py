"""Alembic environment: run against the connection the store hands over."""

from __future__ import annotations

from alembic import context

from containerops.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when alembic's own CLI is used
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url") or ""
    with create_engine(url).connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
