"""A registry of the suite's own: Debian's docker-registry on a free port, its
storage under this session's temporary folder, started once and stopped at the end."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from containerops.repository import registry


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def home(path: Path) -> Iterator[None]:
    """COOPS_HOME set to ``path`` for a moment (registry start and stop read it)."""
    saved = os.environ.get("COOPS_HOME")
    os.environ["COOPS_HOME"] = str(path)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("COOPS_HOME", None)
        else:
            os.environ["COOPS_HOME"] = saved


@pytest.fixture(scope="session")
def registry_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address (127.0.0.1:PORT) of a registry the suite started for itself."""
    where = tmp_path_factory.mktemp("registry-home")
    with home(where):
        status = registry.start(free_port())
    yield status.address
    with home(where):
        registry.stop()


@pytest.fixture
def use_registry(registry_address: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point push and pull (COOPS_REGISTRY) at the suite's registry."""
    monkeypatch.setenv("COOPS_REGISTRY", registry_address)
    return registry_address
