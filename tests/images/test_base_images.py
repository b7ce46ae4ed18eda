"""The base images, built for real on the local Docker Engine (no registry involved).

The first build of the python image runs mmdebstrap against a Debian mirror (about
a minute); later runs find both images up to date in milliseconds.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from containerops.images import (
    BUSYBOX_IMAGE,
    DIGEST_LABEL,
    PYTHON_IMAGE,
    ImageBuildError,
)
from containerops.images.base import BuiltImage, _apt_source_uris, build_base_images, debian_mirror
from containerops.images.recipes import busybox_digest, busybox_digest_of, busybox_rootfs_tar
from tests.cli.test_cli import coops
from tests.conftest import require_docker


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    connected = require_docker()
    yield connected
    connected.close()


@pytest.fixture(scope="module")
def built(client: docker.DockerClient) -> list[BuiltImage]:
    started = time.monotonic()
    images = build_base_images(progress=lambda line: print(f"[{time.monotonic() - started:6.1f}s] {line}"))
    for image in images:
        print(f"{image.tag}: {image.size / 2**20:.1f} MiB, {image.seconds:.1f} s, built={image.built}")
    return images


def output(client: docker.DockerClient, image: str, *command: str, user: str = "") -> str:
    out = client.containers.run(image, list(command), remove=True, network_mode="host", user=user)
    return bytes(out).decode()


@pytest.mark.docker
@pytest.mark.timeout(1200)
def test_both_images_exist_with_their_recipe(client: docker.DockerClient, built: list[BuiltImage]) -> None:
    assert [image.tag for image in built] == [BUSYBOX_IMAGE, PYTHON_IMAGE]
    for image in built:
        labels = client.images.get(image.tag).labels
        assert labels[DIGEST_LABEL] == image.digest
        assert image.size > 0


@pytest.mark.docker
@pytest.mark.timeout(1200)
def test_second_build_is_a_no_op(built: list[BuiltImage]) -> None:
    said: list[str] = []
    again = build_base_images(progress=said.append)
    assert said == [f"{BUSYBOX_IMAGE} is up to date", f"{PYTHON_IMAGE} is up to date"]
    assert [(image.image_id, image.built) for image in again] == [(image.image_id, False) for image in built]


@pytest.mark.docker
@pytest.mark.timeout(1200)
def test_busybox_image(client: docker.DockerClient, built: list[BuiltImage]) -> None:
    assert output(client, BUSYBOX_IMAGE, "sh", "-c", "echo ok") == "ok\n"
    assert (
        output(client, BUSYBOX_IMAGE, "id", "coops") == "uid=1000(coops) gid=1000(coops) groups=1000(coops)\n"
    )
    assert output(client, BUSYBOX_IMAGE, "whoami", user="coops") == "coops\n"
    # unprivileged by default, at home
    assert (
        output(client, BUSYBOX_IMAGE, "sh", "-c", "id -u; pwd; echo $HOME")
        == "1000\n/home/coops\n/home/coops\n"
    )
    assert (
        output(client, BUSYBOX_IMAGE, "stat", "-c", "%a %U", "/tmp", "/home/coops")
        == "1777 root\n755 coops\n"
    )
    assert (
        output(client, BUSYBOX_IMAGE, "sh", "-c", "readlink /bin/sh; readlink /usr/bin/env")
        == "/bin/busybox\n" * 2
    )
    assert client.images.get(BUSYBOX_IMAGE).attrs["Config"]["Cmd"] == ["sh"]


@pytest.mark.docker
@pytest.mark.timeout(1200)
def test_python_image(client: docker.DockerClient, built: list[BuiltImage]) -> None:
    script = 'from containerops import sdk; sdk.set_output("A", "b c=d")'
    assert output(client, PYTHON_IMAGE, "python3", "-c", script) == "[COUT] A = b c=d\n"
    assert output(client, PYTHON_IMAGE, "python3", "-c", script, user="coops") == "[COUT] A = b c=d\n"
    assert output(client, PYTHON_IMAGE, "sh", "-c", "id -u; pwd") == "1000\n/home/coops\n"
    assert output(client, PYTHON_IMAGE, "git", "--version").startswith("git version ")
    assert output(client, PYTHON_IMAGE, "curl", "--version").startswith("curl ")
    assert (
        output(client, PYTHON_IMAGE, "id", "coops") == "uid=1000(coops) gid=1000(coops) groups=1000(coops)\n"
    )
    # Trimmed: no package lists, no manuals.
    trimmed = "find /var/lib/apt/lists /usr/share/doc /usr/share/man -type f ! -name copyright ! -name lock"
    assert output(client, PYTHON_IMAGE, "sh", "-c", f"{trimmed} 2>/dev/null | wc -l") == "0\n"
    config = client.images.get(PYTHON_IMAGE).attrs["Config"]
    assert config["Cmd"] == ["/bin/bash"]
    assert {"PYTHONPATH=/opt/containerops", "LANG=C.UTF-8"} <= set(config["Env"])


@pytest.mark.docker
@pytest.mark.timeout(1200)
def test_force_rebuilds(built: list[BuiltImage]) -> None:
    (forced,) = build_base_images(force=True, only=[BUSYBOX_IMAGE])
    assert forced.built and forced.digest == built[0].digest
    said: list[str] = []
    (again,) = build_base_images(only=[BUSYBOX_IMAGE], progress=said.append)
    assert not again.built and again.image_id == forced.image_id
    assert said == [f"{BUSYBOX_IMAGE} is up to date"]


@pytest.mark.docker
@pytest.mark.timeout(1200)
def test_coops_images_build_base(
    client: docker.DockerClient, built: list[BuiltImage], tmp_path: Path
) -> None:
    """The command itself, as a process: both images up to date, each said with its size."""
    before = [client.images.get(image.tag).id for image in built]  # a test before may have rebuilt one
    done = coops("images", "build-base", home=tmp_path / "home", check=0)
    lines = [line for line in done.stderr.splitlines() if line.startswith("✔")]
    assert [re.sub(r"\d+\.\d MiB$", "N MiB", line) for line in lines] == [
        f"✔ {BUSYBOX_IMAGE}  up to date  N MiB",
        f"✔ {PYTHON_IMAGE}  up to date  N MiB",
    ]
    assert [client.images.get(image.tag).id for image in built] == before


# --- without Docker ----------------------------------------------------------------------


def test_busybox_rootfs_is_reproducible_and_complete() -> None:
    data = busybox_rootfs_tar()
    assert busybox_rootfs_tar() == data  # its hash is the recipe digest
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {member.name: member for member in tar.getmembers()}
        passwd = tar.extractfile("etc/passwd")
        assert passwd is not None
        assert b"coops:x:1000:1000:" in passwd.read()
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "/bin/busybox"
    assert members["usr/bin/env"].issym()
    assert members["bin/busybox"].isfile() and members["bin/busybox"].mode == 0o755
    assert members["tmp"].mode == 0o1777
    assert members["home/coops"].uid == 1000
    assert "linuxrc" not in members


def test_missing_busybox_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(ImageBuildError, match=r"apt-get install busybox-static"):
        busybox_rootfs_tar(tmp_path / "busybox")


def test_unknown_base_image_is_refused() -> None:
    with pytest.raises(ImageBuildError, match=r"unknown base image 'containerops/base:ruby'"):
        build_base_images(only=["containerops/base:ruby"])


def test_mirror_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COOPS_DEBIAN_MIRROR", "http://mirror.example/debian/")
    assert debian_mirror() == "http://mirror.example/debian"


def test_mirror_from_apt_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb http://security.example/debian-security bookworm-security main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one-line.example/debian bookworm main contrib\n"
    )
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://disabled.example/debian\nSuites: bookworm\n"
        "Components: main\nEnabled: no\n\n"
        "Types: deb deb-src\nURIs: http://deb822.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
    )
    (tmp_path / "sources.list.d" / "other.list").write_text("deb https://vendor.example/apt stable main\n")
    found = list(_apt_source_uris(tmp_path, "bookworm"))
    assert found == ["http://one-line.example/debian", "http://deb822.example/debian"]


def test_the_busybox_recipe_digest_is_kept_until_the_binary_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the busybox base is up to date is asked at every push: its digest is kept with
    the binary's stat, and the tar (and busybox's list of applets) made again only when the
    binary is another file or was written since."""
    monkeypatch.setenv("COOPS_HOME", str(tmp_path / "home"))
    binary = tmp_path / "busybox"
    shutil.copy2("/bin/busybox", binary)
    made = busybox_digest_of(busybox_rootfs_tar(binary))
    assert busybox_digest(binary) == made
    kept = tmp_path / "home" / "builds" / "base-busybox.json"
    document = json.loads(kept.read_text())
    assert document["digest"] == made
    kept.write_text(json.dumps({**document, "digest": "sha256:kept"}))  # the kept one is used
    assert busybox_digest(binary) == "sha256:kept"
    replacement = tmp_path / "replacement"  # the same bytes and mtime in another file (as
    shutil.copy2(binary, replacement)  # apt installs one): another inode, so made again
    replacement.replace(binary)
    assert busybox_digest(binary) == made
    binary.write_bytes(binary.read_bytes() + b"\0")  # another binary: another digest
    assert busybox_digest(binary) == busybox_digest_of(busybox_rootfs_tar(binary)) != made
