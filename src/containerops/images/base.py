"""Build the base images jobs run in, locally, without any image registry.

No hub is reachable from where ContainerOps runs, so ``FROM debian`` or
``FROM busybox`` cannot work: every image is made from what the machine has.

* ``containerops/base:busybox`` is Debian's static busybox on an empty root
  filesystem: 2 MB, builds in a second, enough for shell-script components and
  for the executor's own tests.
* ``containerops/base:python`` is a minimal Debian bookworm (made by mmdebstrap from
  a Debian mirror, which *is* reachable) with python3, git, curl and the component
  SDK at ``/opt/containerops/containerops/sdk.py``.

Building is idempotent: each image carries a label with a hash of its recipe
inputs (``containerops.base.digest``) and is rebuilt only when that hash changes or
when ``force`` is given. The python image is made in two steps, a Debian root
filesystem (``containerops/base:python-rootfs``, minutes) and a thin layer with the
SDK on top (seconds), so that a change to ``sdk.py`` never re-runs mmdebstrap.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

from containerops.executors.base import ExecutorError
from containerops.executors.docker_client import connect
from containerops.images.recipes import (
    BASE_IMAGES,
    BUSYBOX_DOCKERFILE,
    BUSYBOX_IMAGE,
    BUSYBOX_PATH,
    CLEANUP_HOOK,
    DEBIAN_SUITE,
    DIGEST_LABEL,
    DPKG_TRIM,
    PYTHON_DOCKERFILE,
    PYTHON_IMAGE,
    PYTHON_PACKAGES,
    PYTHON_ROOTFS_IMAGE,
    ROOTFS_CHANGES,
    SDK_SOURCE,
    ImageBuildError,
    built_from,
    busybox_digest,
    busybox_digest_of,
    busybox_rootfs_tar,
    python_digest,
    python_rootfs_digest,
    recipe_hash,
)

DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """One base image after :func:`build_base_images`."""

    tag: str
    image_id: str
    #: The recipe hash stored in the image's ``containerops.base.digest`` label.
    digest: str
    #: False when the image was already up to date and nothing was built.
    built: bool
    #: Size of the image in bytes, as the Docker Engine reports it.
    size: int
    #: Wall-clock time spent on this image (checking or building).
    seconds: float


def build_base_images(
    *,
    force: bool = False,
    progress: Progress | None = None,
    only: Collection[str] | None = None,
) -> list[BuiltImage]:
    """Make sure the base images exist and match their recipes; build what is missing.

    ``force`` rebuilds everything from scratch (including the Debian root filesystem).
    ``only`` limits the work to some of :data:`BASE_IMAGES` (the executor tests need
    only the busybox image and should not wait minutes for mmdebstrap).
    ``progress`` receives one human-readable line per step.
    Raises :class:`ImageBuildError` with a plain explanation on failure.
    """
    say: Progress = progress or (lambda _line: None)
    wanted = list(BASE_IMAGES) if only is None else [tag for tag in BASE_IMAGES if tag in only]
    unknown = set(only or ()) - set(BASE_IMAGES)
    if unknown:
        raise ImageBuildError(
            f"unknown base image {sorted(unknown)[0]!r}; choose from {', '.join(BASE_IMAGES)}"
        )
    try:
        client = connect()
    except ExecutorError as exc:
        raise ImageBuildError(str(exc)) from exc
    try:
        builders = {BUSYBOX_IMAGE: _build_busybox, PYTHON_IMAGE: _build_python}
        return [builders[tag](client, force=force, say=say) for tag in wanted]
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise ImageBuildError(f"the Docker Engine failed while building base images: {exc}") from exc
    finally:
        client.close()


# --- busybox -------------------------------------------------------------------------


def _build_busybox(client: docker.DockerClient, *, force: bool, say: Progress) -> BuiltImage:
    started = time.monotonic()
    digest = busybox_digest()
    current = None if force else _up_to_date(client, BUSYBOX_IMAGE, digest)
    if current is not None:
        say(f"{BUSYBOX_IMAGE} is up to date")
        return _built(current, BUSYBOX_IMAGE, digest, built=False, started=started)
    say(f"building {BUSYBOX_IMAGE} from {BUSYBOX_PATH}")
    rootfs = busybox_rootfs_tar()
    digest = busybox_digest_of(rootfs)  # what is built, should the binary change meanwhile
    replaced = _image_id(client, BUSYBOX_IMAGE)
    with tempfile.TemporaryDirectory(prefix="coops-busybox-") as ctx:
        Path(ctx, "Dockerfile").write_text(BUSYBOX_DOCKERFILE)
        Path(ctx, "rootfs.tar").write_bytes(rootfs)
        image = _docker_build(client, ctx, BUSYBOX_IMAGE, digest, say, nocache=force)
    _drop_replaced(client, [replaced], keep=image.id)
    say(f"built {BUSYBOX_IMAGE} ({_mib(image)})")
    return _built(image, BUSYBOX_IMAGE, digest, built=True, started=started)


# --- python --------------------------------------------------------------------------


def _build_python(client: docker.DockerClient, *, force: bool, say: Progress) -> BuiltImage:
    started = time.monotonic()
    rootfs_digest = python_rootfs_digest()
    digest = python_digest()
    current = None if force else _up_to_date(client, PYTHON_IMAGE, digest)
    if current is not None:
        say(f"{PYTHON_IMAGE} is up to date")
        return _built(current, PYTHON_IMAGE, digest, built=False, started=started)
    replaced = [_image_id(client, PYTHON_IMAGE)]
    rootfs = None if force else _up_to_date(client, PYTHON_ROOTFS_IMAGE, rootfs_digest)
    if rootfs is None:
        replaced.append(_image_id(client, PYTHON_ROOTFS_IMAGE))
        rootfs = _import_debian_rootfs(client, rootfs_digest, say)
    else:
        say(f"{PYTHON_ROOTFS_IMAGE} is up to date; adding the SDK layer only")
    say(f"building {PYTHON_IMAGE}")
    with tempfile.TemporaryDirectory(prefix="coops-python-") as ctx:
        # FROM the image id, not the tag: the layer must sit on exactly this rootfs.
        Path(ctx, "Dockerfile").write_text(PYTHON_DOCKERFILE.format(rootfs=rootfs.id))
        shutil.copyfile(SDK_SOURCE, Path(ctx, "sdk.py"))
        Path(ctx, "__init__.py").write_text('"""ContainerOps component SDK (see sdk.py)."""\n')
        image = _docker_build(client, ctx, PYTHON_IMAGE, digest, say, nocache=force)
    _drop_replaced(client, replaced, keep=image.id, also_keep=rootfs.id)
    say(f"built {PYTHON_IMAGE} ({_mib(image)})")
    return _built(image, PYTHON_IMAGE, digest, built=True, started=started)


def _import_debian_rootfs(client: docker.DockerClient, digest: str, say: Progress) -> Any:
    """Run mmdebstrap into a tar and ``docker import`` it as :data:`PYTHON_ROOTFS_IMAGE`."""
    if shutil.which("mmdebstrap") is None:
        raise ImageBuildError(
            "mmdebstrap not found: the python base image is made with it; "
            "install it with: apt-get install mmdebstrap"
        )
    mirror = debian_mirror()
    say(f"creating a Debian {DEBIAN_SUITE} root filesystem with mmdebstrap from {mirror} (takes minutes)")
    with tempfile.TemporaryDirectory(prefix="coops-rootfs-") as tmp:
        tar = Path(tmp, "rootfs.tar")
        command = [
            "mmdebstrap",
            "--variant=minbase",
            "--include=" + ",".join(PYTHON_PACKAGES),
            *(f"--dpkgopt={option}" for option in DPKG_TRIM),
            f"--customize-hook={CLEANUP_HOOK}",
            DEBIAN_SUITE,
            str(tar),
            f"deb {mirror} {DEBIAN_SUITE} main",
            f"deb {mirror} {DEBIAN_SUITE}-updates main",
        ]
        _run_streaming(command, say, prefix="mmdebstrap: ")
        say(f"importing the root filesystem ({tar.stat().st_size / 2**20:.0f} MiB) as {PYTHON_ROOTFS_IMAGE}")
        repository, _, tag = PYTHON_ROOTFS_IMAGE.rpartition(":")
        changes = [*ROOTFS_CHANGES, f"LABEL {DIGEST_LABEL}={digest}"]
        client.api.import_image_from_file(str(tar), repository=repository, tag=tag, changes=changes)
    return client.images.get(PYTHON_ROOTFS_IMAGE)


def _run_streaming(command: list[str], say: Progress, *, prefix: str) -> None:
    """Run ``command``, passing each output line to ``say``; raise with its tail on failure."""
    tail: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            if line:
                say(prefix + line)
                tail = [*tail[-19:], line]
    if proc.returncode != 0:
        detail = "\n".join(tail)
        raise ImageBuildError(f"{command[0]} failed with exit code {proc.returncode}:\n{detail}")


def debian_mirror() -> str:
    """The Debian mirror to bootstrap from: ``COOPS_DEBIAN_MIRROR``, else the one this
    machine's apt uses for the suite (it is known to be reachable), else deb.debian.org."""
    explicit = os.environ.get("COOPS_DEBIAN_MIRROR", "").strip()
    if explicit:
        return explicit.rstrip("/")
    for uri in _apt_source_uris(Path("/etc/apt"), DEBIAN_SUITE):
        return uri.rstrip("/")
    return DEFAULT_DEBIAN_MIRROR


def _apt_source_uris(apt_dir: Path, suite: str) -> Iterator[str]:
    """URIs of the apt sources (one-line and deb822 formats) that serve ``suite`` main."""
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*"))]
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if path.suffix == ".sources":
            yield from _deb822_uris(text, suite)
        elif path.name == "sources.list" or path.suffix == ".list":
            yield from _one_line_uris(text, suite)


def _one_line_uris(text: str, suite: str) -> Iterator[str]:
    for line in text.splitlines():
        line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0])
        words = line.split()
        if len(words) >= 4 and words[0] == "deb" and words[2] == suite and "main" in words[3:]:
            yield words[1]


def _deb822_uris(text: str, suite: str) -> Iterator[str]:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if (
            "deb" in fields.get("types", "").split()
            and suite in fields.get("suites", "").split()
            and "main" in fields.get("components", "").split()
            and fields.get("enabled", "yes").lower() != "no"
        ):
            yield from fields.get("uris", "").split()


# --- images on the python base ----------------------------------------------------------


def build_on_python_base(
    tag: str,
    recipe: Callable[[str], tuple[str, ...]],
    fill: Callable[[Path, str], None],
    *,
    force: bool = False,
    progress: Progress | None = None,
    network_mode: str = "none",
) -> BuiltImage:
    """Build ``tag`` on :data:`PYTHON_IMAGE` (built first when missing), only when its
    recipe changed: ``recipe(base_id)`` gives what the image is made from (its digest, a
    label); ``fill(folder, base_id)`` writes the build context (the Dockerfile and files)."""
    say: Progress = progress or (lambda _message: None)
    started = time.monotonic()
    build_base_images(only=[PYTHON_IMAGE], progress=say)
    client = connect()
    try:
        base_id = str(client.images.get(PYTHON_IMAGE).id)
        digest = recipe_hash(base_id, *recipe(base_id))
        current = None if force else _up_to_date(client, tag, digest)
        if current is not None:
            say(f"{tag} is up to date")
            return _built(current, tag, digest, built=False, started=started)
        replaced = _image_id(client, tag)
        with tempfile.TemporaryDirectory(prefix="coops-image-") as context:
            fill(Path(context), base_id)
            say(f"building {tag}")
            image = _docker_build(client, context, tag, digest, say, nocache=force, network_mode=network_mode)
        _drop_replaced(client, [replaced], keep=image.id)
        say(f"built {tag} ({_mib(image)})")
        return _built(image, tag, digest, built=True, started=started)
    finally:
        client.close()


# --- shared --------------------------------------------------------------------------


def _up_to_date(client: docker.DockerClient, tag: str, digest: str) -> Any | None:
    """The image ``tag`` if it exists and was built from the recipe ``digest``."""
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    return image if built_from(image.attrs, digest) else None


def _image_id(client: docker.DockerClient, tag: str) -> str | None:
    try:
        return str(client.images.get(tag).id)
    except docker.errors.ImageNotFound:
        return None


def _drop_replaced(
    client: docker.DockerClient, old: list[str | None], *, keep: str, also_keep: str = ""
) -> None:
    """Remove the images a rebuild replaced, newest first (a 200 MB python image left
    dangling at every rebuild adds up). One still used by a container stays."""
    for image_id in old:
        if image_id and image_id not in (keep, also_keep):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(image_id)


def _docker_build(
    client: docker.DockerClient,
    context: str,
    tag: str,
    digest: str,
    say: Progress,
    *,
    nocache: bool,
    network_mode: str = "none",
) -> Any:
    """``docker build`` through the SDK (the classic builder: no buildx; no network unless
    ``network_mode`` says so), streaming the builder's output to ``say``. ``nocache`` when
    forced: a forced rebuild must not hand back the very layers it was asked to replace."""
    error: str | None = None
    for chunk in client.api.build(
        path=context,
        tag=tag,
        labels={DIGEST_LABEL: digest},
        rm=True,
        forcerm=True,
        pull=False,
        nocache=nocache,
        network_mode=network_mode,
        decode=True,
    ):
        if "error" in chunk:
            error = str(chunk.get("error")).strip()
        text = str(chunk.get("stream", "")).strip()
        if text:
            for line in text.splitlines():
                say(f"  {line}")
    if error is not None:
        raise ImageBuildError(f"building {tag} failed: {error}")
    return client.images.get(tag)


def _built(image: Any, tag: str, digest: str, *, built: bool, started: float) -> BuiltImage:
    return BuiltImage(
        tag=tag,
        image_id=str(image.id),
        digest=digest,
        built=built,
        size=int(image.attrs.get("Size") or 0),
        seconds=time.monotonic() - started,
    )


def _mib(image: Any) -> str:
    return f"{int(image.attrs.get('Size') or 0) / 2**20:.1f} MiB"
