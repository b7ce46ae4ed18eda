"""times on SQLite: RFC 3339 text with its offset

SQLite has no time type: SQLAlchemy kept times as naive ``YYYY-MM-DD HH:MM:SS.ffffff``
text (UTC by convention). From now on they are written as the API and the CLI show
them, ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``; this rewrites the older texts so that every
time of a column compares and sorts as one kind of text. Other databases keep their
timezone-aware type and change nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 23:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The naive form SQLAlchemy wrote: exactly 26 characters, a space between date and time.
_OLD = "____-__-__ __:__:__.______"
_NEW = "____-__-__T__:__:__.______+00:00"


def _time_columns(bind: sa.engine.Connection) -> list[tuple[str, str]]:
    """Every (table, column) of a time type, as the database has them now."""
    inspector = sa.inspect(bind)
    return [
        (table, column["name"])
        for table in inspector.get_table_names()
        if table != "alembic_version"
        for column in inspector.get_columns(table)
        if isinstance(column["type"], sa.DateTime)
    ]


def _rewrite(old: str, new_value: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table, column in _time_columns(bind):
        quoted_table, quoted = (
            bind.dialect.identifier_preparer.quote(table),
            bind.dialect.identifier_preparer.quote(column),
        )
        op.execute(
            f"UPDATE {quoted_table} SET {quoted} = {new_value.format(c=quoted)} WHERE {quoted} LIKE '{old}'"
        )


def upgrade() -> None:
    _rewrite(_OLD, "replace({c}, ' ', 'T') || '+00:00'")


def downgrade() -> None:
    _rewrite(_NEW, "replace(substr({c}, 1, 26), 'T', ' ')")
