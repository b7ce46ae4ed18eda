"""The database a test's store lives on: SQLite in the test's COOPS_HOME, or a migrated
database on a PostgreSQL or MariaDB server started once for the session.

The store's own tests run on all three (``tests/store/conftest.py``); the rest of the
suite runs on the one ``--database`` names (SQLite by default), so that
``pytest tests/server --database postgresql`` runs every server test on PostgreSQL (the
README's test command does, for PostgreSQL and MariaDB). A test on a server database gets
the session's database emptied: MariaDB's ids go on from the last test's (see
``emptied``): no test may count on the ids it gets, but for those of runs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from containerops.store import Store
from tests.dbserver import DatabaseServer

DATABASES = ["sqlite", "postgresql", "mariadb"]


def emptied(url: str) -> None:
    """Every table of the database emptied; the schema stays. PostgreSQL's ids start from 1
    again; MariaDB's go on but for the runs' (TRUNCATE or a reset of each table's counter
    costs a tenth of a second a table, on every test)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            tables = [name for name in sa.inspect(conn).get_table_names() if name != "alembic_version"]
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
                return
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
            for table in tables:
                conn.exec_driver_sql(f"DELETE FROM `{table}`")
            # Except the runs': tests name runs by id (`coops runs show 1`), as users do.
            conn.exec_driver_sql("ALTER TABLE runs AUTO_INCREMENT = 1")
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
    finally:
        engine.dispose()


def open_store(
    database: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    shared_urls: dict[str, str],
) -> Iterator[Store]:
    """A store with no rows on ``database``; COOPS_DATABASE_URL points at it, so that what
    the test opens by itself (a CLI, a ``coops server`` process) lands there too."""
    if database == "sqlite":
        opened = Store.open()
    else:
        if database not in shared_urls:
            server: DatabaseServer = request.getfixturevalue(database)
            shared_urls[database] = server.new_database("store")
        else:
            emptied(shared_urls[database])
        monkeypatch.setenv("COOPS_DATABASE_URL", shared_urls[database])
        opened = Store.open(shared_urls[database])
    yield opened
    opened.close()
