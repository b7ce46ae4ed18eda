"""``coops images build-server``: the image the server and workers run from on a cluster,
built for real on the python base image, and a server started from it answering."""

from __future__ import annotations

from pathlib import Path

import docker
import httpx
import pytest

from containerops.images import ImageBuildError
from containerops.images.server import SERVER_IMAGE, build_server_image, source_digest
from tests.cli.test_cli import coops
from tests.conftest import ROOT
from tests.images.conftest import first_answer
from tests.server.conftest import free_port


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_the_server_image_runs_coops_server(client: docker.DockerClient, tmp_path: Path) -> None:
    result = coops("images", "build-server", home=tmp_path, check=0)
    assert f"✔ {SERVER_IMAGE}" in result.stderr
    port = free_port()
    container = client.containers.run(
        SERVER_IMAGE,
        ["coops", "server", "--host", "127.0.0.1", "--port", str(port), "--executor", "dummy"],
        detach=True,
        network_mode="host",
    )
    try:
        answer = first_answer(f"http://127.0.0.1:{port}/healthz", 60)
        assert answer is not None and answer.status_code == 200, container.logs().decode()[-2000:]
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "<html" in page.text.lower()  # the web UI is in the image
        assert container.attrs["Config"]["User"] == "1000:1000"
    finally:
        container.remove(force=True)
    # Nothing changed: up to date, no pip, no build.
    said: list[str] = []
    again = build_server_image(progress=said.append)
    assert not again.built and said[-1] == f"{SERVER_IMAGE} is up to date"


def test_a_folder_that_is_no_checkout_is_refused_with_why(tmp_path: Path) -> None:
    with pytest.raises(ImageBuildError, match="--source"):
        build_server_image(tmp_path)


def test_the_digest_follows_the_source_not_its_caches(tmp_path: Path) -> None:
    (tmp_path / "src" / "containerops" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "src" / "containerops" / "a.py").write_text("A = 1\n")
    first = source_digest(tmp_path)
    (tmp_path / "src" / "containerops" / "__pycache__" / "a.pyc").write_bytes(b"\0")
    assert source_digest(tmp_path) == first
    (tmp_path / "src" / "containerops" / "a.py").write_text("A = 2\n")
    assert source_digest(tmp_path) != first
    assert len(source_digest(ROOT)) == 64
