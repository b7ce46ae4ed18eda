"""The multi-node swarm (``tests/swarmharness.py``), started once for the session's
swarm tests and torn down at its end, with a registry of its own the nodes pull from."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from containerops.images import BUSYBOX_IMAGE
from containerops.images.base import build_base_images
from containerops.repository import registry
from tests.repository.conftest import free_port, home
from tests.server.conftest import admin_token, start_server  # noqa: F401  (fixtures of test_server.py)
from tests.swarmharness import HarnessUnavailable, Swarm, make_swarm


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/swarm/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.swarm)


@pytest.fixture(scope="session")
def swarm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swarm]:
    """The running harness. A machine that cannot host it *fails* the test saying why;
    only ``COOPS_SKIP_SWARM=1`` turns that into a skip, printed."""
    if os.environ.get("COOPS_SKIP_SWARM") == "1":
        reason = "COOPS_SKIP_SWARM=1: swarm tests skipped on request"
        print(reason, file=sys.stderr)
        pytest.skip(reason)
    build_base_images(only=[BUSYBOX_IMAGE])
    where: Path = tmp_path_factory.mktemp("swarm-registry-home")
    with home(where):
        address = registry.start(free_port()).address
    harness = make_swarm(address)
    try:
        try:
            harness.start()
        except HarnessUnavailable as exc:
            problem = str(exc)
        else:
            problem = ""
        if problem:
            pytest.fail(f"{problem}\n(set COOPS_SKIP_SWARM=1 to skip the swarm tests)", pytrace=False)
        yield harness
    finally:
        harness.stop()
        with home(where):
            registry.stop()


@pytest.fixture
def on_swarm(swarm: Swarm, monkeypatch: pytest.MonkeyPatch) -> Swarm:
    """Push and pull (COOPS_REGISTRY) go to the harness's registry for this test."""
    monkeypatch.setenv("COOPS_REGISTRY", swarm.registry)
    return swarm
