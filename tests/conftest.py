"""Fixtures shared by the whole suite: an isolated COOPS_HOME and store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from containerops.store import Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def coops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "coops-home"
    monkeypatch.setenv("COOPS_HOME", str(home))
    monkeypatch.delenv("COOPS_DATABASE_URL", raising=False)
    return home


@pytest.fixture
def store(coops_home: Path) -> Iterator[Store]:
    opened = Store.open()
    yield opened
    opened.close()


def _docker_problem() -> str | None:
    """Why Docker tests cannot run here, or None when they can."""
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as error:  # any failure to reach the daemon means the same thing
        return f"the Docker Engine is not reachable ({error}); start dockerd or run scripts/setup.sh"
    try:
        client.images.get("containerops/base:busybox")
    except Exception:
        return "the image containerops/base:busybox is missing; run `coops images build-base`"
    return None


@pytest.fixture
def docker_ready(request: pytest.FixtureRequest) -> Iterator[None]:
    """For tests marked ``docker``: fail loudly when Docker is missing (skip only
    when COOPS_SKIP_DOCKER=1 says so), and check afterwards that the test left
    no container of ours behind."""
    if request.node.get_closest_marker("docker") is None:
        yield
        return
    import os

    if os.environ.get("COOPS_SKIP_DOCKER") == "1":
        pytest.skip("COOPS_SKIP_DOCKER=1: Docker tests skipped on request")
    problem = _docker_problem()
    if problem:
        pytest.fail(problem)
    import docker

    client = docker.from_env()
    ours = {"label": "containerops.managed=true"}
    before = {c.id for c in client.containers.list(all=True, filters=ours)}
    yield
    left = [c.name for c in client.containers.list(all=True, filters=ours) if c.id not in before]
    assert not left, f"containers left behind: {left}"
