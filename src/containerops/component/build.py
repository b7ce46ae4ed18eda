"""Building a component's image from its folder, with the Docker SDK.

The image is tagged ``coops/<namespace>/<name>:<version>`` and labelled with its
reference, so that ``coops component test`` and ``push`` find exactly what was
built. No image hub is reachable, so the Dockerfile starts FROM our base images,
which are built first when missing; builds keep the network (bridge) because a
component may ``apt-get install`` from Debian's mirror.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import requests.exceptions

from containerops.component.spec import LoadedSpec, image_name, load_spec
from containerops.executors.base import ExecutorError
from containerops.executors.docker.client import connect
from containerops.home import coops_home
from containerops.images import BASE_IMAGES, ImageBuildError, build_base_images

Progress = Callable[[str], None]

LABEL_COMPONENT = "containerops.component"
_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", re.IGNORECASE | re.MULTILINE)


class ComponentBuildError(Exception):
    """The image could not be built; the message says why (the builder's last error)."""


@dataclass(frozen=True, slots=True)
class BuiltImage:
    tag: str
    image_id: str


def base_images_of(dockerfile: str) -> list[str]:
    """The images a Dockerfile starts FROM (build stages named ``AS x`` included once)."""
    return list(dict.fromkeys(_FROM.findall(dockerfile)))


def build_component(
    folder: Path | str, progress: Progress | None = None, *, loaded: LoadedSpec | None = None
) -> BuiltImage:
    """``docker build`` the component in ``folder``; raises ``SpecInvalid`` or ``ComponentBuildError``."""
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
    try:
        bases = _ensure_bases(client, dockerfile, say)
        tag = image_name(loaded.spec)
        source = source_digest(folder, [client.images.get(base).id for base in bases])
        image_id = _up_to_date(client, tag, source)
        if image_id is not None:
            say(f"{tag} is up to date with {folder} ({image_id[:19]})")
            return BuiltImage(tag=tag, image_id=image_id)
        say(f"building {tag} from {folder}")
        image_id = _build(client, folder, tag, loaded.spec.ref, say)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise ComponentBuildError(f"the Docker Engine failed while building: {exc}") from None
    finally:
        client.close()
    _remember(tag, source, image_id)
    say(f"built {tag} ({image_id[:19]})")
    return BuiltImage(tag=tag, image_id=image_id)


def source_digest(folder: Path, base_ids: list[str]) -> str:
    """What a build of ``folder`` depends on: every file's path, mode and bytes, and the
    ids of the images it starts FROM. The same digest and the same image still tagged make
    a new build needless (Docker's cache would answer the same image, after receiving the
    whole folder: seconds for a large one)."""
    digest = hashlib.sha256("\0".join(base_ids).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        relative = path.relative_to(folder).as_posix()
        info = path.lstat()
        digest.update(f"\0{relative}\0{info.st_mode:o}\0{info.st_size}\0".encode())
        if path.is_symlink():
            digest.update(str(path.readlink()).encode())
            continue
        with path.open("rb") as data:
            for block in iter(lambda: data.read(2**20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


def _record_file(tag: str) -> Path:
    """``COOPS_HOME/builds/<ns>/<name>/<version>.json``: the source digest of the last build."""
    repository, _, version = tag.rpartition(":")
    return coops_home() / "builds" / repository.removeprefix("coops/") / f"{version}.json"


def _up_to_date(client: Any, tag: str, source: str) -> str | None:
    """The id of ``tag`` when it is still the image last built from ``source``."""
    try:
        recorded = json.loads(_record_file(tag).read_text())
        current = client.images.get(tag).id
    except (OSError, ValueError, docker.errors.ImageNotFound):
        return None
    if recorded.get("source") == source and recorded.get("image_id") == current:
        return str(current)
    return None


def _remember(tag: str, source: str, image_id: str) -> None:
    record = _record_file(tag)
    with contextlib.suppress(OSError):
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"source": source, "image_id": image_id}) + "\n")


def _ensure_bases(client: Any, dockerfile: Path, say: Progress) -> list[str]:
    """The images the Dockerfile starts FROM (not its own stages), built when they are ours."""
    stages: set[str] = set()
    text = dockerfile.read_text(encoding="utf-8", errors="replace")
    for match in re.finditer(r"^\s*FROM\s+\S+\s+AS\s+(\S+)", text, re.IGNORECASE | re.MULTILINE):
        stages.add(match.group(1).lower())
    wanted: list[str] = []
    bases: list[str] = []
    for image in base_images_of(text):
        if image.lower() in stages:
            continue
        bases.append(image)
        if image in BASE_IMAGES:
            wanted.append(image)
            continue
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            raise ComponentBuildError(
                f"{dockerfile}: FROM {image}: no such image here, and no image hub is reachable; "
                f"start FROM one of our base images ({', '.join(BASE_IMAGES)})"
            ) from None
    if wanted:
        try:
            build_base_images(only=wanted, progress=say)
        except ImageBuildError as exc:
            raise ComponentBuildError(str(exc)) from None
    return bases


def _build(client: Any, folder: Path, tag: str, ref: str, say: Progress) -> str:
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
    return str(client.images.get(tag).id)
