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
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import requests.exceptions

from containerops.component.spec import LoadedSpec, image_name, load_spec
from containerops.executors.base import ExecutorError
from containerops.executors.docker_client import connect
from containerops.home import coops_home
from containerops.images import BASE_IMAGES, ImageBuildError, build_base_images

Progress = Callable[[str], None]

LABEL_COMPONENT = "containerops.component"
#: A file changed less than this before a digest is read again, not taken from the record
#: (a write in the same tick of the filesystem's clock could leave its stat unchanged).
RACY_SECONDS = 2.0
_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", re.IGNORECASE | re.MULTILINE)


class ComponentBuildError(Exception):
    """The image could not be built; the message says why (the builder's last error)."""


@dataclass(frozen=True, slots=True)
class BuiltImage:
    tag: str
    image_id: str
    size: int | None = None  # bytes, as the Engine reports it (None: it did not say)


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
        known = _known_files(tag, folder)
        source = source_digest(folder, [client.images.get(base).id for base in bases], known)
        image = _up_to_date(client, tag, source)
        if image is not None:
            _remember_files(tag, folder, known)
            say(f"{tag} is up to date with {folder} ({image.id[:19]})")
            return BuiltImage(tag=tag, image_id=str(image.id), size=_size(image))
        say(f"building {tag} from {folder}")
        image = _build(client, folder, tag, loaded.spec.ref, say)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise ComponentBuildError(f"the Docker Engine failed while building: {exc}") from None
    finally:
        client.close()
    _remember(tag, source, str(image.id))
    _remember_files(tag, folder, known)
    say(f"built {tag} ({image.id[:19]})")
    return BuiltImage(tag=tag, image_id=str(image.id), size=_size(image))


#: A file's stat as a digest of its bytes was read with: size, mtime and ctime (ns), inode.
FileStat = tuple[int, int, int, int]


def source_digest(
    folder: Path,
    base_ids: list[str],
    known: dict[str, tuple[FileStat, str]] | None = None,
    *,
    now: float | None = None,
) -> str:
    """What a build of ``folder`` depends on: every file's path, mode and bytes, and the
    ids of the images it starts FROM. The same digest and the same image still tagged make
    a new build needless (Docker's cache would answer the same image, after receiving the
    whole folder: seconds for a large one).

    ``known`` (relative path -> (stat, sha256 of its bytes)), from the last digest of this
    folder, spares reading a file whose stat is exactly the same (as git's index does: a
    write changes the ctime, which no program can set back); it is updated with what was
    read. A file changed within ``RACY_SECONDS`` of ``now`` is always read."""
    fresh = (time.time() if now is None else now) - RACY_SECONDS
    seen: dict[str, tuple[FileStat, str]] = {}
    digest = hashlib.sha256("\0".join(base_ids).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        relative = path.relative_to(folder).as_posix()
        info = path.lstat()
        digest.update(f"\0{relative}\0{info.st_mode:o}\0{info.st_size}\0".encode())
        if path.is_symlink():
            digest.update(str(path.readlink()).encode())
            continue
        stat = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
        recorded = (known or {}).get(relative)
        if recorded is not None and recorded[0] == stat and max(stat[1], stat[2]) < fresh * 1e9:
            content = recorded[1]
        else:
            content = _file_digest(path)
        if max(stat[1], stat[2]) < fresh * 1e9:
            seen[relative] = (stat, content)
        digest.update(content.encode())
    if known is not None:
        known.clear()
        known.update(seen)
    return "sha256:" + digest.hexdigest()


def _file_digest(path: Path) -> str:
    with path.open("rb") as data:
        return hashlib.file_digest(data, "sha256").hexdigest()


def _size(image: Any) -> int | None:
    size = image.attrs.get("Size")
    return size if isinstance(size, int) else None


def _record_file(tag: str) -> Path:
    """``COOPS_HOME/builds/<ns>/<name>/<version>.json``: the source digest of the last build."""
    repository, _, version = tag.rpartition(":")
    return coops_home() / "builds" / repository.removeprefix("coops/") / f"{version}.json"


def _up_to_date(client: Any, tag: str, source: str) -> Any | None:
    """The image ``tag`` when it is still the image last built from ``source``."""
    try:
        recorded = json.loads(_record_file(tag).read_text())
        current = client.images.get(tag)
    except (OSError, ValueError, docker.errors.ImageNotFound):
        return None
    if recorded.get("source") == source and recorded.get("image_id") == current.id:
        return current
    return None


def _files_record(tag: str) -> Path:
    """``COOPS_HOME/builds/<ns>/<name>/files.json``: the digests of the component folder's
    files last read, whatever the version (a new version changes only component.yaml)."""
    return _record_file(tag).parent / "files.json"


def _known_files(tag: str, folder: Path) -> dict[str, tuple[FileStat, str]]:
    """What ``_remember_files`` kept of ``folder``; nothing for another folder or a bad record."""
    try:
        recorded = json.loads(_files_record(tag).read_text())
        if recorded.get("folder") != str(folder.resolve()):
            return {}
        return {
            str(name): ((int(a), int(b), int(c), int(d)), str(content))
            for name, ((a, b, c, d), content) in recorded["files"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _remember_files(tag: str, folder: Path, files: dict[str, tuple[FileStat, str]]) -> None:
    record = _files_record(tag)
    document = {"folder": str(folder.resolve()), "files": files}
    with contextlib.suppress(OSError):
        record.parent.mkdir(parents=True, exist_ok=True)
        partial = record.with_name(f".files.{os.getpid()}.json")  # whole or not at all
        partial.write_text(json.dumps(document) + "\n")
        partial.replace(record)


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


def _build(client: Any, folder: Path, tag: str, ref: str, say: Progress) -> Any:
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
    return client.images.get(tag)
