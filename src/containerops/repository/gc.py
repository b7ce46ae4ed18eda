"""``coops registry gc``: the blobs of the registry no version references, found, then removed.

The registry's own ``garbage-collect`` must not run while a push goes on (it removes
the layers a push has uploaded but whose manifest is not written yet), so this one
works on the registry's storage folder with a mark and a sweep that a push in progress
survives:

- marked (kept): the manifest of every version the store records (yanked ones too: a
  version is never deleted), every tag written within the grace period (a push that
  has not been recorded yet), and the config and layers those manifests name
  (indexes: the manifests they list, and theirs);
- swept: every other blob whose file is older than the grace period (an hour by
  default), so that a layer a push uploaded a moment ago is never taken; tags older
  than it that no version records (an abandoned push, an image pushed by hand) go too,
  with the links of the removed blobs in each repository.

The registry this runs on is one ``coops registry start`` started from this home (its
storage is read and changed directly), without the in-memory cache of blob
descriptors, which would still answer for a removed blob; a registry started with it
by an older coops is refused, asking to restart it. A dry run (the default) says what
would go and changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from containerops.repository import registry
from containerops.store import Store
from containerops.store.components import recorded_images

#: Seconds a new blob or tag is left alone: longer than any push takes.
DEFAULT_GRACE = 3600.0


@dataclass(slots=True)
class Collection:
    """What a collection found (and, unless a dry run, removed)."""

    dry_run: bool
    kept_blobs: int = 0
    blobs: list[str] = field(default_factory=list)  # removed (or to remove): digests
    freed_bytes: int = 0
    tags: list[str] = field(default_factory=list)  # NS/NAME:TAG no version records
    young: int = 0  # unreferenced blobs left for being within the grace period

    def to_json(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "kept_blobs": self.kept_blobs,
            "removed_blobs" if not self.dry_run else "blobs_to_remove": self.blobs,
            "freed_bytes": self.freed_bytes,
            "removed_tags" if not self.dry_run else "tags_to_remove": self.tags,
            "young_unreferenced_blobs": self.young,
        }


def _v2() -> Path:
    return registry.folder() / "storage" / "docker" / "registry" / "v2"


def _blob_file(v2: Path, digest: str) -> Path:
    algorithm, _, hexa = digest.partition(":")
    return v2 / "blobs" / algorithm / hexa[:2] / hexa / "data"


def _link(path: Path) -> str | None:
    with contextlib.suppress(OSError):
        return path.read_text().strip() or None
    return None


def _repositories(v2: Path) -> Iterator[tuple[str, Path]]:
    """``(NS/NAME, folder)`` of every repository in the storage."""
    root = v2 / "repositories"
    for manifests in root.glob("*/*/_manifests"):
        folder = manifests.parent
        yield f"{folder.parent.name}/{folder.name}", folder


def _references(v2: Path, digest: str) -> list[str]:
    """The blobs a manifest names: its config and layers, or an index's manifests."""
    try:
        document = json.loads(_blob_file(v2, digest).read_bytes())
    except (OSError, ValueError):
        return []
    found = [item.get("digest") for item in document.get("layers") or []]
    found += [item.get("digest") for item in document.get("manifests") or []]
    config = document.get("config") or {}
    found.append(config.get("digest"))
    return [d for d in found if isinstance(d, str) and ":" in d]


def _mark(v2: Path, roots: Iterable[str]) -> set[str]:
    marked: set[str] = set()
    pending = list(roots)
    while pending:
        digest = pending.pop()
        if digest in marked:
            continue
        marked.add(digest)
        pending.extend(_references(v2, digest))
    return marked


def check_collectable() -> Path:
    """The storage of the registry this home started; RegistryError when it cannot be collected."""
    config = registry.folder() / "config.yml"
    try:
        settings = json.loads(config.read_text())
    except (OSError, ValueError):
        raise registry.RegistryError(
            f"no registry was started from this COOPS_HOME ({config} is missing): "
            "gc works on the storage of the registry `coops registry start` runs"
        ) from None
    if (settings.get("storage") or {}).get("cache"):
        raise registry.RegistryError(
            "the registry runs with an in-memory cache of blob descriptors, which would still answer "
            "for removed blobs: restart it (coops registry stop, then start) before collecting"
        )
    return _v2()


def collect(store: Store, *, dry_run: bool = True, grace: float = DEFAULT_GRACE) -> Collection:
    """Find (and unless ``dry_run`` remove) what no version references; see the module."""
    v2 = check_collectable()
    result = Collection(dry_run=dry_run)
    now = time.time()
    recorded = recorded_images(store)  # (NS/NAME, version) -> manifest digest
    roots = set(recorded.values())
    stale_tags: list[tuple[str, Path]] = []
    for repository, folder in _repositories(v2):
        for tag in sorted((folder / "_manifests" / "tags").glob("*")):
            current = tag / "current" / "link"
            digest = _link(current)
            if digest is None:
                continue
            if (repository, tag.name) in recorded or _age(current, now) < grace:
                roots.add(digest)
            else:
                stale_tags.append((f"{repository}:{tag.name}", tag))
    marked = _mark(v2, roots)
    doomed: set[str] = set()
    for data in sorted((v2 / "blobs").glob("*/*/*/data")):
        digest = f"{data.parent.parent.parent.name}:{data.parent.name}"
        if digest in marked:
            result.kept_blobs += 1
        elif _age(data, now) < grace:
            result.young += 1
        else:
            doomed.add(digest)
            result.blobs.append(digest)
            with contextlib.suppress(OSError):
                result.freed_bytes += data.stat().st_size
    result.tags = [name for name, _ in stale_tags]
    if dry_run:
        return result
    for _, tag in stale_tags:
        shutil.rmtree(tag, ignore_errors=True)
    for _, folder in _repositories(v2):
        for kind in ("_layers", "_manifests/revisions"):
            for link in (folder / kind).glob("*/*/link"):
                if f"{link.parent.parent.name}:{link.parent.name}" in doomed:
                    shutil.rmtree(link.parent, ignore_errors=True)
    for digest in doomed:
        shutil.rmtree(_blob_file(v2, digest).parent, ignore_errors=True)
    return result


def _age(path: Path, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except OSError:
        return 0.0
