"""``coops registry gc``: blobs no recorded version references are found (dry run), then
removed, on a real registry of the test's own, while what a push is doing is left alone."""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from containerops.images import BUSYBOX_IMAGE
from containerops.repository import gc, registry
from containerops.repository.catalog import Catalog
from containerops.store import Store
from containerops.store.components import PushRecord
from tests.cli.test_cli import coops
from tests.repository.conftest import free_port


@pytest.fixture
def own_registry(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delenv("COOPS_REGISTRY", raising=False)
    status = registry.start(free_port())
    try:
        yield status.address
    finally:
        registry.stop()


def push(client: docker.DockerClient, image: str, address: str, repository: str) -> tuple[str, str]:
    client.api.tag(image, f"{address}/{repository}", "1.0.0")
    for chunk in client.api.push(f"{address}/{repository}", tag="1.0.0", stream=True, decode=True):
        assert "error" not in chunk, chunk
    client.api.remove_image(f"{address}/{repository}:1.0.0", noprune=True)
    held = registry.manifest_digest(repository, "1.0.0", address)
    assert held is not None
    return held


def age_everything(seconds: float) -> None:
    then = time.time() - seconds
    for path in (registry.folder() / "storage").rglob("*"):
        os.utime(path, (then, then), follow_symlinks=False)


def upload_blob(address: str, repository: str, data: bytes) -> str:
    """A layer uploaded as a push does before its manifest: no tag names it yet."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = httpx.post(f"http://{address}/v2/{repository}/blobs/uploads/")
    assert started.status_code == 202
    location = started.headers["Location"]
    if location.startswith("/"):
        location = f"http://{address}{location}"
    separator = "&" if "?" in location else "?"
    done = httpx.put(f"{location}{separator}digest={digest}", content=data)
    assert done.status_code == 201, done.text
    return digest


@pytest.mark.docker
def test_gc_removes_only_what_no_version_references_and_spares_a_push_in_progress(
    own_registry: str, store: Store, docker_ready: None, tmp_path: Path
) -> None:
    address = own_registry
    client = docker.from_env()
    dockerfile = f"FROM {BUSYBOX_IMAGE}\nRUN echo {tmp_path.name} > /tmp/stale\n"
    stale_image, _ = client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), rm=True, tag=f"coops-test/gc-{tmp_path.name.lower()}:stale"
    )
    try:
        kept_digest, kept_id = push(client, BUSYBOX_IMAGE, address, "acme/kept")
        Catalog(store).record(
            PushRecord("acme", "kept", "1.0.0", kept_digest, kept_id, {}, ""), kind="organization"
        )
        stale_digest, stale_id = push(client, stale_image.id, address, "acme/stale")
        age_everything(7200)
        in_flight = upload_blob(address, "acme/next", os.urandom(4096))

        looked = gc.collect(store, dry_run=True, grace=3600)
        assert looked.tags == ["acme/stale:1.0.0"]
        # the stale image's own manifest, config and layer; busybox's layer is kept's too
        assert set(looked.blobs) >= {stale_digest, stale_id} and len(looked.blobs) == 3
        assert kept_digest not in looked.blobs and in_flight not in looked.blobs and looked.young == 1
        assert registry.manifest_digest("acme/stale", "1.0.0", address) == (stale_digest, stale_id)

        # the CLI: a dry run first, then --apply
        env = {"COOPS_HOME": os.environ["COOPS_HOME"]}
        shown = coops("registry", "gc", home=Path(env["COOPS_HOME"]), check=0)
        assert "dry run: would remove 3 blobs" in shown.stderr and "acme/stale:1.0.0" in shown.stderr
        assert registry.manifest_digest("acme/stale", "1.0.0", address) is not None
        coops("registry", "gc", "--apply", home=Path(env["COOPS_HOME"]), check=0)

        assert registry.manifest_digest("acme/stale", "1.0.0", address) is None
        config = httpx.head(f"http://{address}/v2/acme/stale/blobs/{stale_id}")
        assert config.status_code == 404
        assert httpx.head(f"http://{address}/v2/acme/next/blobs/{in_flight}").status_code == 200
        # the recorded version pulls by digest on an Engine without it
        pulled = client.api.pull(f"{address}/acme/kept", tag=kept_digest)
        assert "error" not in pulled.lower()
        client.api.remove_image(f"{address}/acme/kept@{kept_digest}", noprune=True)
        assert registry.manifest_digest("acme/kept", "1.0.0", address) == (kept_digest, kept_id)
        # and the removed image can be pushed again, whole
        assert push(client, stale_image.id, address, "acme/stale") == (stale_digest, stale_id)
        assert gc.collect(store, dry_run=True, grace=3600).blobs == []
    finally:
        client.images.remove(stale_image.id, force=True)
        client.close()


def test_gc_refuses_a_registry_it_did_not_start_or_one_with_a_cache(store: Store) -> None:
    with pytest.raises(registry.RegistryError, match="no registry was started from this COOPS_HOME"):
        gc.collect(store)
    registry.folder().mkdir(parents=True)
    (registry.folder() / "config.yml").write_text('{"storage": {"cache": {"blobdescriptor": "inmemory"}}}')
    with pytest.raises(registry.RegistryError, match="restart it"):
        gc.collect(store)
