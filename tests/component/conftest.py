"""Component tests: images they build are removed afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import docker.errors
import pytest

from containerops.executors.docker_client import connect


@pytest.fixture
def built_images() -> Iterator[list[str]]:
    """Tags a test builds (it appends them); removed when the test ends."""
    tags: list[str] = []
    yield tags
    if tags:
        client = connect()
        for tag in tags:
            with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
                client.images.remove(tag, force=True)
        client.close()
