"""The store's tests run on each database coops supports: SQLite, PostgreSQL and MariaDB.

One server per database for the whole session (``tests/conftest.py``; starting one takes
seconds); each test gets the session's migrated database emptied (``tests/databases.py``),
or a new empty database of its own (``empty_database``). A server that cannot start fails
the tests that need it, saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from containerops.store import Store
from tests.databases import DATABASES, open_store
from tests.dbserver import DatabaseServer


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    """Which database the test runs on: each of them, for the store's tests."""
    return str(request.param)


@pytest.fixture
def empty_database(database: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes new, empty databases of the test's kind: their URLs."""
    if database == "sqlite":
        names = iter(range(1, 1000))
        return lambda: f"sqlite:///{tmp_path / f'empty-{next(names)}.db'}"
    server: DatabaseServer = request.getfixturevalue(database)
    return server.new_database


@pytest.fixture
def store(
    database: str,
    coops_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    shared_database_urls: dict[str, str],
) -> Iterator[Store]:
    yield from open_store(database, request, monkeypatch, shared_database_urls)
