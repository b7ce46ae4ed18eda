"""The workspace a run's jobs share: one job writes, a later one reads; it is gone
at the end, or kept (and said where) with ``keep_workspace``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import docker
import pytest

from containerops.engine import Engine, RunState
from containerops.executors import get_executor
from containerops.executors.base import LABEL_RUN
from containerops.executors.docker import workspace_volume
from containerops.model.loader import parse_flow
from containerops.store import Store

WRITE = 'echo "made by $(id -u)" > "$CO_WORKSPACE/note"; echo "at $CO_WORKSPACE"'
READ = 'cat "$CO_WORKSPACE/note"; ls -ld "$CO_WORKSPACE"'


def flow(executor: str) -> str:
    image = "endpoint: containerops/base:busybox, " if executor == "docker" else ""
    return f"""
uri: test/workspace/{executor}
stages:
  - name: one
    actions:
      - name: write
        jobs:
          - {{name: it, {image}command: [sh, -c, '{WRITE}']}}
  - name: two
    sequencing: parallel
    actions:
      - name: read
        jobs:
          - {{name: it, {image}command: [sh, -c, '{READ}']}}
      - name: read-too
        jobs:
          - {{name: it, {image}command: [sh, -c, '{READ}']}}
"""


def run(store: Store, executor: str, keep: bool) -> RunState:
    loaded = parse_flow(flow(executor), "workspace.yaml")
    engine = Engine(store, get_executor(executor, network_mode="host"), keep_workspace=keep)
    engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)
    return asyncio.run(engine.run())


def read_volume(client: docker.DockerClient, volume: str, name: str) -> bytes:
    """The file ``name`` of a workspace volume, read by a container of its own."""
    return bytes(
        client.containers.run(
            "containerops/base:busybox",
            ["cat", f"/workspace/{name}"],
            volumes=[f"{volume}:/workspace"],
            remove=True,
        )
    )


def lines(store: Store, state: RunState, path: str) -> list[str]:
    return [row.line for row in store.log_lines(state.id, job_path=path)]


@pytest.mark.docker
@pytest.mark.parametrize("keep", [False, True])
def test_docker_jobs_share_a_volume_owned_by_the_job_user(
    store: Store, docker_ready: None, docker_client: docker.DockerClient, keep: bool
) -> None:
    state = run(store, "docker", keep)
    assert state.status == "success", [(j.path, j.reason) for j in state.jobs.values()]
    assert lines(store, state, "one.write.it") == ["at /workspace"]
    for reader in ("two.read.it", "two.read-too.it"):
        note, listing = lines(store, state, reader)
        assert note == "made by 1000"
        assert listing.startswith("drwx") and " coops " in listing and listing.endswith("/workspace")
    volume = workspace_volume(state.uid)
    volumes = docker_client.volumes.list(filters={"label": f"{LABEL_RUN}={state.uid}"})
    if not keep:
        assert volumes == [] and state.workspace is None
        return
    try:
        assert [v.name for v in volumes] == [volume]
        assert state.workspace is not None and volume in state.workspace
        assert read_volume(docker_client, volume, "note") == b"made by 1000\n"
    finally:
        for leftover in volumes:
            leftover.remove(force=True)


@pytest.mark.parametrize("keep", [False, True])
def test_local_jobs_share_a_temporary_folder(store: Store, keep: bool) -> None:
    state = run(store, "local", keep)
    assert state.status == "success", [(j.path, j.reason) for j in state.jobs.values()]
    (written,) = lines(store, state, "one.write.it")
    folder = Path(written.removeprefix("at "))
    assert folder.name.startswith(f"coops-workspace-{state.uid[:12]}")
    assert lines(store, state, "two.read.it")[0].startswith("made by ")
    assert lines(store, state, "two.read-too.it")[0] == lines(store, state, "two.read.it")[0]
    if not keep:
        assert not folder.exists() and state.workspace is None
        return
    try:
        assert state.workspace == str(folder)
        assert (folder / "note").read_text().startswith("made by ")
    finally:
        import shutil

        shutil.rmtree(folder)
