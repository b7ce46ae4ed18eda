"""The store's tests run on each database coops supports: SQLite, PostgreSQL and MariaDB.

One server per database for the whole session (starting one takes seconds); each test
gets the session's migrated database emptied, or a new empty database of its own
(``empty_database``). A server that cannot start fails the tests that need it, saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from containerops.store import Store
from tests.dbserver import DatabaseServer
from tests.mariadbserver import MariaDBServer, mariadb_server
from tests.pgserver import PostgresServer, postgres_server

DATABASES = ["sqlite", "postgresql", "mariadb"]


@pytest.fixture(scope="session")
def postgresql() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
    with mariadb_server() as server:
        yield server


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    """Which database the test runs on."""
    return str(request.param)


@pytest.fixture
def empty_database(database: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes new, empty databases of the test's kind: their URLs."""
    if database == "sqlite":
        names = iter(range(1, 1000))
        return lambda: f"sqlite:///{tmp_path / f'empty-{next(names)}.db'}"
    server: DatabaseServer = request.getfixturevalue(database)
    return server.new_database


@pytest.fixture(scope="session")
def _shared_urls() -> dict[str, str]:
    """The migrated database of each server kind, made by the first test that needs it."""
    return {}


def _emptied(url: str) -> None:
    """Every table of the database emptied; the schema stays. PostgreSQL's ids start from 1
    again; MariaDB's go on (TRUNCATE or a reset of each table's counter costs a tenth of a
    second a table, on every test), so no test may count on the ids it gets."""
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
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
    finally:
        engine.dispose()


@pytest.fixture
def store(
    database: str,
    coops_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    _shared_urls: dict[str, str],
) -> Iterator[Store]:
    """A store with no rows on the test's database; COOPS_DATABASE_URL points at it, so
    that what the test opens by itself lands there too."""
    if database == "sqlite":
        opened = Store.open()
    else:
        if database not in _shared_urls:
            server: DatabaseServer = request.getfixturevalue(database)
            _shared_urls[database] = server.new_database("store")
        else:
            _emptied(_shared_urls[database])
        monkeypatch.setenv("COOPS_DATABASE_URL", _shared_urls[database])
        opened = Store.open(_shared_urls[database])
    yield opened
    opened.close()
