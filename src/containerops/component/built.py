"""What was built from a component's folder, and whether it still is, without the Docker SDK.

An image is up to date with its folder when it is the image last built from the same
source digest (every file's path, mode and bytes, and the ids of the images it starts
FROM) and those base images are up to date with their recipes. Checking that is a few
image inspections, so :func:`found_built` asks a plainly reachable Engine with httpx: a
push of a component already built (``coops component push --server``) then loads neither
the SDK nor the builder (``build``), a tenth of a second of its start-up.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from containerops.component.spec import LoadedSpec, image_name
from containerops.executors import engine_api
from containerops.executors.base import ExecutorError
from containerops.home import coops_home
from containerops.images.recipes import BASE_IMAGES, ImageBuildError, built_from, current_digest

Progress = Callable[[str], None]

#: A file changed less than this before a digest is read again, not taken from the record
#: (a write in the same tick of the filesystem's clock could leave its stat unchanged).
RACY_SECONDS = 2.0
_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", re.IGNORECASE | re.MULTILINE)
_STAGE = re.compile(r"^\s*FROM\s+\S+\s+AS\s+(\S+)", re.IGNORECASE | re.MULTILINE)


class ComponentBuildError(Exception):
    """The image could not be built; the message says why (the builder's last error)."""


@dataclass(frozen=True, slots=True)
class BuiltImage:
    tag: str
    image_id: str
    size: int | None = None  # bytes, as the Engine reports it (None: it did not say)

    @classmethod
    def of(cls, tag: str, inspected: dict[str, Any]) -> BuiltImage:
        """From the Engine's inspection of the image."""
        size = inspected.get("Size")
        return cls(tag=tag, image_id=str(inspected["Id"]), size=size if isinstance(size, int) else None)


def base_images_of(dockerfile: str) -> list[str]:
    """The images a Dockerfile starts FROM (build stages named ``AS x`` included once)."""
    return list(dict.fromkeys(_FROM.findall(dockerfile)))


def outside_images_of(dockerfile: str) -> list[str]:
    """The images a Dockerfile starts FROM that are not its own stages."""
    stages = {stage.lower() for stage in _STAGE.findall(dockerfile)}
    return [image for image in base_images_of(dockerfile) if image.lower() not in stages]


def found_built(loaded: LoadedSpec, say: Progress) -> BuiltImage | None:
    """The image last built from ``loaded``'s folder, asked of a plainly reachable Engine,
    when it and the base images it starts from are up to date; None otherwise (or when
    anything is amiss: a build then does the work, or says what is wrong)."""
    if not engine_api.reachable_plainly():
        return None
    folder = loaded.folder
    tag = image_name(loaded.spec)
    try:
        bases = outside_images_of((folder / "Dockerfile").read_text(encoding="utf-8", errors="replace"))
        known = known_files(tag, folder)
        with engine_api.engine_client() as engine:
            inspect = functools.cache(engine_api.inspector(engine))  # each base: one call
            ours = [base for base in bases if base in BASE_IMAGES]
            if not all(built_from(inspect(base), current_digest(base)) for base in ours):
                return None
            image = current_image(inspect, bases, tag, folder, known)[1]
    except (OSError, ExecutorError, ImageBuildError):
        return None
    if image is None:
        return None
    remember_files(tag, folder, known)
    say(up_to_date(tag, folder, image))
    return BuiltImage.of(tag, image)


def up_to_date(tag: str, folder: Path, image: dict[str, Any]) -> str:
    """What is said of an image that needs no build."""
    return f"{tag} is up to date with {folder} ({str(image['Id'])[:19]})"


def current_image(
    inspect: engine_api.Inspect,
    bases: list[str],
    tag: str,
    folder: Path,
    known: dict[str, tuple[FileStat, str]],
) -> tuple[str | None, dict[str, Any] | None]:
    """(the folder's source digest, the image ``tag`` when it is still the image last built
    from it). The digest is None when a base image is missing (a build finds out why)."""
    ids = []
    for base in bases:
        inspected = inspect(base)
        if inspected is None:
            return None, None
        ids.append(str(inspected["Id"]))
    source = source_digest(folder, ids, known)
    try:
        recorded = json.loads(_record_file(tag).read_text())
    except (OSError, ValueError):
        return source, None
    image = inspect(tag)
    if image is not None and recorded.get("source") == source and recorded.get("image_id") == image["Id"]:
        return source, image
    return source, None


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


def _record_file(tag: str) -> Path:
    """``COOPS_HOME/builds/<ns>/<name>/<version>.json``: the source digest of the last build."""
    repository, _, version = tag.rpartition(":")
    return coops_home() / "builds" / repository.removeprefix("coops/") / f"{version}.json"


def remember(tag: str, source: str, image_id: str) -> None:
    """Keep what ``tag`` was built from (:func:`current_image` reads it)."""
    record = _record_file(tag)
    with contextlib.suppress(OSError):
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"source": source, "image_id": image_id}) + "\n")


def _files_record(tag: str) -> Path:
    """``COOPS_HOME/builds/<ns>/<name>/files.json``: the digests of the component folder's
    files last read, whatever the version (a new version changes only component.yaml)."""
    return _record_file(tag).parent / "files.json"


def known_files(tag: str, folder: Path) -> dict[str, tuple[FileStat, str]]:
    """What :func:`remember_files` kept of ``folder``; nothing for another folder or a bad record."""
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


def remember_files(tag: str, folder: Path, files: dict[str, tuple[FileStat, str]]) -> None:
    record = _files_record(tag)
    document = {"folder": str(folder.resolve()), "files": files}
    with contextlib.suppress(OSError):
        record.parent.mkdir(parents=True, exist_ok=True)
        partial = record.with_name(f".files.{os.getpid()}.json")  # whole or not at all
        partial.write_text(json.dumps(document) + "\n")
        partial.replace(record)
