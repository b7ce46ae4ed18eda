"""Building a component's image from its folder, with the Docker SDK.

The image is tagged ``coops/<namespace>/<name>:<version>`` and labelled with its
reference, so that ``coops component test`` and ``push`` find exactly what was
built. No image hub is reachable, so the Dockerfile starts FROM our base images,
which are built first when missing; builds keep the network (bridge) because a
component may ``apt-get install`` from Debian's mirror. Whether a build is needed at all
is :mod:`.built`'s (no SDK).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker.errors
import requests.exceptions

from containerops.component.built import (
    BuiltImage,
    ComponentBuildError,
    current_image,
    known_files,
    outside_images_of,
    remember,
    remember_files,
    up_to_date,
)
from containerops.component.spec import LoadedSpec, image_name, load_spec
from containerops.executors import engine_api
from containerops.executors.base import ExecutorError
from containerops.executors.docker_client import connect
from containerops.images import BASE_IMAGES, ImageBuildError
from containerops.images.base import build_base_images

Progress = Callable[[str], None]

LABEL_COMPONENT = "containerops.component"


def build_component(
    folder: Path | str, progress: Progress | None = None, *, loaded: LoadedSpec | None = None
) -> BuiltImage:
    """``docker build`` the component in ``folder``, unless the image last built from it is
    still up to date (``built.found_built`` asks that without the SDK, for a caller that may
    not need to build); raises ``SpecInvalid`` or ``ComponentBuildError``."""
    say: Progress = progress or (lambda _line: None)
    loaded = loaded or load_spec(folder)
    folder = loaded.folder
    dockerfile = folder / "Dockerfile"
    if not dockerfile.is_file():
        raise ComponentBuildError(f"{dockerfile}: missing; a component folder needs a Dockerfile")
    try:
        client = connect()
    except ExecutorError as exc:
        raise ComponentBuildError(str(exc)) from None
    tag = image_name(loaded.spec)
    known = known_files(tag, folder)
    try:
        bases = _ensure_bases(client, dockerfile, say)
        source, image = current_image(_inspector(client), bases, tag, folder, known)
        if source is None:
            raise ComponentBuildError(f"{dockerfile}: a base image was removed while building; build again")
        if image is not None:
            say(up_to_date(tag, folder, image))
        else:
            say(f"building {tag} from {folder}")
            image = _build(client, folder, tag, loaded.spec.ref, say)
            remember(tag, source, str(image["Id"]))
            say(f"built {tag} ({str(image['Id'])[:19]})")
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise ComponentBuildError(f"the Docker Engine failed while building: {exc}") from None
    finally:
        client.close()
    remember_files(tag, folder, known)
    return BuiltImage.of(tag, image)


def _inspector(client: Any) -> engine_api.Inspect:
    def inspect(name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = client.api.inspect_image(name)
        except docker.errors.ImageNotFound:
            return None
        return found

    return inspect


def _ensure_bases(client: Any, dockerfile: Path, say: Progress) -> list[str]:
    """The images the Dockerfile starts FROM (not its own stages), built when they are ours."""
    bases = outside_images_of(dockerfile.read_text(encoding="utf-8", errors="replace"))
    for image in bases:
        if image in BASE_IMAGES:
            continue
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            raise ComponentBuildError(
                f"{dockerfile}: FROM {image}: no such image here, and no image hub is reachable; "
                f"start FROM one of our base images ({', '.join(BASE_IMAGES)})"
            ) from None
    wanted = [image for image in bases if image in BASE_IMAGES]
    if wanted:
        try:
            build_base_images(only=wanted, progress=say)
        except ImageBuildError as exc:
            raise ComponentBuildError(str(exc)) from None
    return bases


def _build(client: Any, folder: Path, tag: str, ref: str, say: Progress) -> dict[str, Any]:
    error: str | None = None
    for chunk in client.api.build(
        path=str(folder),
        tag=tag,
        labels={LABEL_COMPONENT: ref},
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
    ):
        if "error" in chunk:
            error = str(chunk.get("error")).strip()
        text = str(chunk.get("stream", "")).rstrip()
        for line in text.splitlines():
            if line.strip():
                say(f"  {line}")
    if error is not None:
        raise ComponentBuildError(f"building {tag} failed: {error}")
    built: dict[str, Any] = client.api.inspect_image(tag)
    return built
