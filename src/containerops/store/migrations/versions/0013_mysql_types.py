"""MySQL/MariaDB/TiDB: times with microseconds, long texts, case-sensitive text

The earlier revisions say ``DateTime`` and ``Text``, which MySQL makes ``DATETIME``
(whole seconds: a log line's time and the order of a run's events were lost) and
``TEXT`` (64 KiB at most: a webhook's body or a flow's source may be longer), in the
database's default collation, which is case-insensitive on MySQL and MariaDB (``a/b/C``
and ``a/b/c`` would be one flow). On those databases this makes every time column
``DATETIME(6)``, every TEXT column ``LONGTEXT``, and every table, and the database's
default for tables made later, ``utf8mb4`` with the binary collation ``utf8mb4_bin``
(TiDB's own default, where this changes nothing). Only what differs is altered.
SQLite and PostgreSQL change nothing.

Later revisions that add a time or a text column give MySQL the same types
(``mysql.DATETIME(fsp=6)``, ``mysql.LONGTEXT``, as ``schema.py`` does); a test checks it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 07:10:00
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CHARSET, COLLATION = "utf8mb4", "utf8mb4_bin"


def _is_mysql(bind: sa.engine.Connection) -> bool:
    return bind.dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    bind = op.get_bind()
    if not _is_mysql(bind):
        return
    quote = bind.dialect.identifier_preparer.quote
    database = str(bind.exec_driver_sql("SELECT DATABASE()").scalar())
    bind.exec_driver_sql(f"ALTER DATABASE {quote(database)} CHARACTER SET {CHARSET} COLLATE {COLLATION}")
    tables = bind.execute(
        sa.text("SELECT table_name, table_collation FROM information_schema.tables WHERE table_schema = :db"),
        {"db": database},
    )
    collations = {str(name): str(collation) for name, collation in tables}
    inspector = sa.inspect(bind)
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        # One ALTER a table: each copies the table once.
        changes = [
            f"MODIFY {quote(column['name'])} {wider.compile(dialect=bind.dialect)} "
            + ("NULL" if column["nullable"] else "NOT NULL")
            for column in inspector.get_columns(table)
            if (wider := _wider(column["type"])) is not None
        ]
        if collations.get(table) != COLLATION:
            changes.insert(0, f"CONVERT TO CHARACTER SET {CHARSET} COLLATE {COLLATION}")
        if changes:
            bind.exec_driver_sql(f"ALTER TABLE {quote(table)} {', '.join(changes)}")


def _wider(kind: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any] | None:
    """DATETIME(6) or LONGTEXT where a column has less (JSON, LONGTEXT in MariaDB, is left)."""
    if isinstance(kind, mysql.DATETIME) and (kind.fsp or 0) < 6:
        return mysql.DATETIME(fsp=6)
    if type(kind) in (mysql.TEXT, mysql.MEDIUMTEXT, mysql.TINYTEXT):
        return mysql.LONGTEXT()
    return None


def downgrade() -> None:
    """Nothing to undo: the wider types and the binary collation hold what 0009 held."""
