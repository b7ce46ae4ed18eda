"""What each base image is made from, and the digest of that recipe, without the Docker SDK.

Each base image carries the digest of its recipe in a label (:data:`DIGEST_LABEL`), so
whether it is up to date is one inspection of the image: a command that only checks (a
push of a component already built) needs neither the SDK nor the builder (``base``).
The busybox recipe is the root filesystem made from ``/bin/busybox``; its digest is kept
under ``COOPS_HOME/builds`` with the binary's stat, so that the tar (and busybox's list
of applets) is made again only when the binary changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from containerops.home import coops_home

BUSYBOX_IMAGE = "containerops/base:busybox"
PYTHON_IMAGE = "containerops/base:python"
#: The Debian root filesystem under the python image, kept so that only the thin
#: SDK layer is rebuilt when the SDK changes.
PYTHON_ROOTFS_IMAGE = "containerops/base:python-rootfs"
BASE_IMAGES = (BUSYBOX_IMAGE, PYTHON_IMAGE)

#: The label that records which recipe an image was built from.
DIGEST_LABEL = "containerops.base.digest"

#: Bump to force a rebuild of every base image after a change to the recipes below
#: that the hashed inputs would not show.
RECIPE_VERSION = "1"

BUSYBOX_PATH = Path("/bin/busybox")
DEBIAN_SUITE = "bookworm"
PYTHON_PACKAGES = ("python3", "git", "curl", "ca-certificates")
COOPS_UID = 1000
#: Where the SDK lives in the python image (and what PYTHONPATH points at).
SDK_ROOT = "/opt/containerops"
SDK_SOURCE = Path(__file__).resolve().parent.parent / "sdk.py"


class ImageBuildError(Exception):
    """A base image could not be built; the message says why and what to do."""


# --- busybox -------------------------------------------------------------------------

# Jobs run as the unprivileged user coops unless a component's image says otherwise.
BUSYBOX_DOCKERFILE = f"""\
FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/coops
USER {COOPS_UID}:{COOPS_UID}
WORKDIR /home/coops
CMD ["sh"]
"""

_PASSWD = f"root:x:0:0:root:/root:/bin/sh\ncoops:x:{COOPS_UID}:{COOPS_UID}:coops:/home/coops:/bin/sh\n"
_GROUP = f"root:x:0:\ncoops:x:{COOPS_UID}:\n"

_BUSYBOX_DIRS = (
    "bin",
    "dev",
    "etc",
    "home",
    "home/coops",
    "proc",
    "root",
    "sbin",
    "sys",
    "tmp",
    "usr",
    "usr/bin",
    "usr/sbin",
    "var",
    "var/tmp",
)
#: (mode, owner) of the directories that are not root's 0755.
_BUSYBOX_DIR_MODES = {
    "root": (0o700, 0),
    "home/coops": (0o755, COOPS_UID),
    "tmp": (0o1777, 0),
    "var/tmp": (0o1777, 0),
}


def busybox_rootfs_tar(busybox: Path = BUSYBOX_PATH) -> bytes:
    """The busybox root filesystem as a tar archive, byte-for-byte reproducible.

    Built as a tar (owners, modes and symlinks set exactly, mtimes zero) and ADDed
    by a ``FROM scratch`` Dockerfile, because a plain COPY cannot set owners or the
    sticky bit of /tmp. Being reproducible, its hash is the image's recipe digest.
    """
    if not busybox.is_file():
        raise ImageBuildError(
            f"{busybox} not found: the busybox base image needs Debian's static busybox; "
            "install it with: apt-get install busybox-static"
        )
    binary = busybox.read_bytes()
    applets = _busybox_applets(busybox)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in _BUSYBOX_DIRS:
            mode, owner = _BUSYBOX_DIR_MODES.get(name, (0o755, 0))
            tar.addfile(_tarinfo(name, tarfile.DIRTYPE, mode, owner))
        _add_file(tar, "bin/busybox", binary, 0o755)
        _add_file(tar, "etc/passwd", _PASSWD.encode(), 0o644)
        _add_file(tar, "etc/group", _GROUP.encode(), 0o644)
        for applet in applets:
            link = _tarinfo(applet, tarfile.SYMTYPE, 0o777, 0)
            link.linkname = "/bin/busybox"
            tar.addfile(link)
    return out.getvalue()


def busybox_digest_of(rootfs: bytes) -> str:
    """The busybox image's recipe digest, from its root filesystem tar."""
    return recipe_hash(RECIPE_VERSION, BUSYBOX_DOCKERFILE, rootfs)


def busybox_digest(busybox: Path = BUSYBOX_PATH) -> str:
    """:func:`busybox_digest_of` the tar made from ``busybox``, made again only when the
    binary's stat (size, mtime, ctime, inode: a new file changes its ctime) or this
    module's recipe changed since the digest was kept."""
    try:
        info = busybox.stat()
    except OSError:
        return busybox_digest_of(busybox_rootfs_tar(busybox))  # says what is missing
    key = recipe_hash(
        str(busybox),
        str((info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)),
        Path(__file__).read_bytes(),
    )
    kept = coops_home() / "builds" / "base-busybox.json"
    with contextlib.suppress(OSError, ValueError, AttributeError):
        document = json.loads(kept.read_text())
        if document.get("key") == key:
            return str(document["digest"])
    digest = busybox_digest_of(busybox_rootfs_tar(busybox))
    with contextlib.suppress(OSError):
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(f".base-busybox.{os.getpid()}.json")  # whole or not at all
        partial.write_text(json.dumps({"key": key, "digest": digest}) + "\n")
        partial.replace(kept)
    return digest


def _busybox_applets(busybox: Path) -> list[str]:
    """Where each applet belongs (``bin/sh``, ``usr/bin/env`` ...), from busybox itself."""
    try:
        listed = subprocess.run(
            [str(busybox), "--list-full"], check=True, capture_output=True, text=True, timeout=30
        ).stdout.split()
    except (OSError, subprocess.SubprocessError) as exc:
        raise ImageBuildError(f"cannot list the applets of {busybox}: {exc}") from exc
    wanted = {"bin", "sbin", "usr/bin", "usr/sbin"}
    return sorted({path for path in listed if path.rpartition("/")[0] in wanted and path != "bin/busybox"})


def _tarinfo(name: str, kind: bytes, mode: int, owner: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid = info.gid = owner
    info.uname = info.gname = "coops" if owner == COOPS_UID else "root"
    info.mtime = 0
    return info


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = _tarinfo(name, tarfile.REGTYPE, mode, 0)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


# --- python --------------------------------------------------------------------------

#: Docker ``import`` changes for the Debian root filesystem.
ROOTFS_CHANGES = (
    'CMD ["/bin/bash"]',
    f"ENV PYTHONPATH={SDK_ROOT}",
    "ENV LANG=C.UTF-8",
)

#: Keep documentation, manuals and translations out of the image (licences stay).
DPKG_TRIM = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/lintian/*",
)

CLEANUP_HOOK = (
    'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log "$1"/var/cache/debconf/*-old'
)

PYTHON_DOCKERFILE = f"""\
FROM {{rootfs}}
RUN groupadd --gid {COOPS_UID} coops \\
 && useradd --no-log-init --create-home --uid {COOPS_UID} --gid {COOPS_UID} --shell /bin/bash coops
COPY __init__.py sdk.py {SDK_ROOT}/containerops/
ENV PYTHONPATH={SDK_ROOT} LANG=C.UTF-8
USER {COOPS_UID}:{COOPS_UID}
WORKDIR /home/coops
CMD ["/bin/bash"]
"""


def python_rootfs_digest() -> str:
    """The recipe digest of the Debian root filesystem under the python image."""
    return recipe_hash(
        RECIPE_VERSION, DEBIAN_SUITE, *PYTHON_PACKAGES, *DPKG_TRIM, CLEANUP_HOOK, *ROOTFS_CHANGES
    )


def python_digest() -> str:
    """The python image's recipe digest: its root filesystem's, its Dockerfile and the SDK."""
    return recipe_hash(python_rootfs_digest(), PYTHON_DOCKERFILE, SDK_SOURCE.read_bytes())


# --- shared --------------------------------------------------------------------------


def recipe_hash(*parts: str | bytes) -> str:
    sha = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        sha.update(len(data).to_bytes(8, "big"))
        sha.update(data)
    return "sha256:" + sha.hexdigest()


def built_from(inspected: dict[str, Any] | None, digest: str) -> bool:
    """Whether an image (the Engine's inspection of it; None: there is none) carries the
    recipe ``digest`` in its label."""
    labels = ((inspected or {}).get("Config") or {}).get("Labels") or {}
    return bool(labels.get(DIGEST_LABEL) == digest)


def current_digest(tag: str) -> str:
    """The recipe digest the base image ``tag`` (one of :data:`BASE_IMAGES`) must carry."""
    return busybox_digest() if tag == BUSYBOX_IMAGE else python_digest()
