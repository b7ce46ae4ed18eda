"""``coops images build-registry``: the swarm stack's registry image, built for real on the
python base image from this machine's docker-registry, and a registry started from it
answering as uid 1000."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from containerops.images import ImageBuildError
from containerops.images.registry import REGISTRY_IMAGE, build_registry_image
from tests.cli.test_cli import coops
from tests.images.conftest import first_answer
from tests.server.conftest import free_port


@pytest.mark.docker
def test_the_registry_image_serves_the_registry_api(client: docker.DockerClient, tmp_path: Path) -> None:
    result = coops("images", "build-registry", home=tmp_path, check=0)
    assert f"✔ {REGISTRY_IMAGE}" in result.stderr
    port = free_port()
    container = client.containers.run(
        REGISTRY_IMAGE,
        detach=True,
        network_mode="host",
        environment={"REGISTRY_HTTP_ADDR": f"127.0.0.1:{port}"},  # the config's own: :5000
    )
    try:
        answer = first_answer(f"http://127.0.0.1:{port}/v2/_catalog", 30)
        assert answer is not None and answer.json() == {"repositories": []}, container.logs().decode()[-2000:]
        container.reload()
        assert container.attrs["Config"]["User"] == "1000:1000"
    finally:
        container.remove(force=True)
    said: list[str] = []
    again = build_registry_image(progress=said.append)
    assert not again.built and said[-1] == f"{REGISTRY_IMAGE} is up to date"


def test_a_machine_without_docker_registry_is_told_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ImageBuildError, match="apt-get install docker-registry"):
        build_registry_image(binary=tmp_path / "docker-registry")
