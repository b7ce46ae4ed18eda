"""A component built again from an unchanged folder is not sent to the Docker Engine again
(a large folder took seconds to send for Docker's cache to answer the same image); any
change of a file, of a base image, or a removed image builds it again. ``found_built`` (the
check without the Docker SDK, a push's) agrees with the build at each step."""

from __future__ import annotations

import uuid
from pathlib import Path

import docker
import pytest

from containerops.component.build import build_component
from containerops.component.built import found_built
from containerops.component.spec import load_spec


@pytest.mark.docker
def test_an_unchanged_folder_is_not_built_again(
    tmp_path: Path, coops_home: Path, docker_ready: None, built_images: list[str]
) -> None:
    name = f"u{uuid.uuid4().hex[:8]}"
    folder = tmp_path / name
    folder.mkdir()
    (folder / "component.yaml").write_text(f"namespace: test\nname: {name}\nversion: 0.1.0\n")
    (folder / "run.sh").write_text("echo one\n")
    (folder / "Dockerfile").write_text("FROM containerops/base:busybox\nCOPY run.sh /run.sh\n")
    built_images.append(f"coops/test/{name}:0.1.0")

    said: list[str] = []
    assert found_built(load_spec(folder), said.append) is None  # never built
    first = build_component(folder, said.append)
    assert any(line.startswith("building ") for line in said)
    said.clear()
    again = build_component(folder, said.append)
    assert again == first and any(" is up to date with " in line for line in said), said
    assert not any(line.startswith("building ") for line in said)
    said.clear()
    assert found_built(load_spec(folder), said.append) == first
    assert said == [f"{first.tag} is up to date with {folder} ({first.image_id[:19]})"]

    (folder / "run.sh").write_text("echo two\n")  # a file changed: built again, another image
    said.clear()
    assert found_built(load_spec(folder), said.append) is None and said == []
    changed = build_component(folder, said.append)
    assert any(line.startswith("building ") for line in said) and changed.image_id != first.image_id

    client = docker.from_env()
    client.images.remove(changed.tag, force=True)  # the image is gone: built again
    said.clear()
    assert found_built(load_spec(folder), said.append) is None
    rebuilt = build_component(folder, said.append)
    assert any(line.startswith("building ") for line in said) and rebuilt.tag == changed.tag
    client.close()
