"""What the image tests share: an Engine client, and waiting for a container to answer."""

from __future__ import annotations

import time
from collections.abc import Iterator

import docker
import httpx
import pytest

from tests.conftest import require_docker


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    connected = require_docker()
    yield connected
    connected.close()


def first_answer(url: str, seconds: float) -> httpx.Response | None:
    """The first answer of ``url`` from a server starting up; None if none came in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    return None
