"""Fixtures shared by the whole suite: an isolated COOPS_HOME and store."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from containerops.executors.base import ExecutorError
from containerops.executors.docker_client import connect
from containerops.images import BUSYBOX_IMAGE
from containerops.images.base import build_base_images
from containerops.store import Store
from tests.databases import DATABASES, open_store
from tests.mariadbserver import MariaDBServer, mariadb_server
from tests.pgserver import PostgresServer, postgres_server

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A COOPS_HOME for tests that do not ask for their own: never the user's, and
    under this session's temporary folder, which tells its containers apart."""
    home = tmp_path_factory.getbasetemp() / "session-home"
    saved = {name: os.environ.pop(name, None) for name in ("COOPS_HOME", "COOPS_DATABASE_URL")}
    # The database too is the tests' own: a test's ``store`` sets COOPS_DATABASE_URL when it
    # is on a server (--database), and the processes the test starts inherit it.
    os.environ["COOPS_HOME"] = str(home)
    yield home
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def coops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "coops-home"
    monkeypatch.setenv("COOPS_HOME", str(home))
    monkeypatch.delenv("COOPS_DATABASE_URL", raising=False)
    return home


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=DATABASES,
        default="sqlite",
        help="the database of every test's store outside tests/store (which runs on all three); "
        "postgresql and mariadb start a server of the tests' own (default: sqlite)",
    )


@pytest.fixture(scope="session")
def postgresql() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
    with mariadb_server() as server:
        yield server


@pytest.fixture(scope="session")
def shared_database_urls() -> dict[str, str]:
    """The migrated database of each server kind, made by the first test that needs it."""
    return {}


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    """The database of the test's store: the one ``--database`` names."""
    return str(request.config.getoption("--database"))


@pytest.fixture
def store(
    database: str,
    coops_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    shared_database_urls: dict[str, str],
) -> Iterator[Store]:
    yield from open_store(database, request, monkeypatch, shared_database_urls)


def require_docker() -> docker.DockerClient:
    """A client of a running Docker Engine. Without one the test *fails* with the
    reason; only ``COOPS_SKIP_DOCKER=1`` turns that into a skip, printed, so that CI
    cannot pass by not testing."""
    if os.environ.get("COOPS_SKIP_DOCKER") == "1":
        reason = "COOPS_SKIP_DOCKER=1: Docker tests skipped on request"
        print(reason, file=sys.stderr)
        pytest.skip(reason)
    try:
        return connect()
    except ExecutorError as exc:
        problem = str(exc)
    # Failed outside the except block, so that pytest shows the message, not the chain.
    pytest.fail(f"{problem}\n(set COOPS_SKIP_DOCKER=1 to skip the Docker tests)", pytrace=False)


@pytest.fixture
def docker_ready(request: pytest.FixtureRequest, session_home: Path) -> Iterator[None]:
    """For tests marked ``docker``: a running Engine and the busybox base image
    (built when missing), and afterwards no container of ours left by the test."""
    if request.node.get_closest_marker("docker") is None:
        yield
        return
    client = require_docker()
    build_base_images(only=[BUSYBOX_IMAGE])
    # Only containers of this session's homes: other test sessions may run beside it.
    session = str(session_home.parent.resolve())

    def ours() -> dict[str, str]:
        # The plain list (no inspect per container): other sessions' containers may vanish meanwhile.
        found = client.api.containers(all=True, filters={"label": "containerops.managed=true"})
        return {
            c["Id"]: (c.get("Names") or ["?"])[0].lstrip("/")
            for c in found
            if (c.get("Labels") or {}).get("containerops.home", "").startswith(session)
        }

    before = ours()
    yield
    left = [name for cid, name in ours().items() if cid not in before]
    client.close()
    assert not left, f"containers left behind: {left}"
