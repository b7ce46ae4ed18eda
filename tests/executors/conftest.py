"""Fixtures for the Docker executor tests: a real Engine, the busybox base image, and
a run id per test whose containers are removed afterwards whatever happened."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import pytest

from containerops.executors.base import LABEL_RUN
from containerops.executors.docker.cleanup import remove_labelled
from containerops.images import BUSYBOX_IMAGE
from containerops.images.base import build_base_images
from tests.conftest import require_docker


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = require_docker()
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox(docker_client: docker.DockerClient) -> str:
    """The busybox base image, built if missing (a second or so)."""
    build_base_images(only=[BUSYBOX_IMAGE])
    return BUSYBOX_IMAGE


@pytest.fixture
def run_id(docker_client: docker.DockerClient) -> Iterator[str]:
    """A fresh run id; every container labelled with it is removed after the test."""
    value = f"t{uuid.uuid4().hex[:12]}"
    yield value
    # As a run's teardown does: a removal that ``destroy`` started may still be going on.
    remove_labelled(docker_client.api, f"{LABEL_RUN}={value}")
