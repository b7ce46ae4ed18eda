"""Removing what runs leave on the Docker Engine: containers and workspace volumes.

Everything is found by the labels every container and volume of ours carries (run,
home), so a process that starts after a crash can remove what a killed one left, and
never touches what belongs to another home (another user, another test session).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection
from typing import Any

import docker.errors

from containerops.executors.base import LABEL_HOME, LABEL_MANAGED, LABEL_RUN, ExecutorError
from containerops.executors.docker.convert import workspace_volume
from containerops.executors.docker_client import ENGINE_ERRORS, connect, explain
from containerops.home import coops_home

#: How long a removal waits for one that another caller started.
REMOVAL_WAIT_SECONDS = 30.0


def home_label() -> str:
    """The value of LABEL_HOME for runs of this process's COOPS_HOME."""
    return str(coops_home().resolve())


def cleanup_all(keep: Collection[str] = ()) -> int:
    """Remove every container (and workspace volume, kept ones too) that runs of this COOPS_HOME
    left, but those of the runs in ``keep`` (uids of runs a live process still runs).

    For ``coops cleanup``: after a crash nothing else knows these containers.
    Containers of other homes (another user, another test session) are not
    ours to remove. Returns how many were removed.
    """
    client = connect()
    labels = [f"{LABEL_MANAGED}=true", f"{LABEL_HOME}={home_label()}"]
    try:
        removed = 0
        for container in client.api.containers(all=True, filters={"label": labels}):
            if (container.get("Labels") or {}).get(LABEL_RUN) not in keep:
                remove_container(client.api, container["Id"])
                removed += 1
        for volume in client.api.volumes(filters={"label": labels}).get("Volumes") or []:
            if (volume.get("Labels") or {}).get(LABEL_RUN) not in keep:
                remove_volume(client.api, volume["Name"])
        return removed
    finally:
        client.close()


def stop_run(run_id: str, *, keep_workspace: bool = False) -> int:
    """Remove the containers and (unless ``keep_workspace``) the workspace volume of run
    ``run_id``; how many containers."""
    client = connect()
    try:
        removed = remove_labelled(client.api, f"{LABEL_RUN}={run_id}")
        if not keep_workspace:
            remove_volume(client.api, workspace_volume(run_id))
        return removed
    finally:
        client.close()


def stop_labelled(label: str) -> int:
    """Remove the containers labelled ``label`` (``KEY=VALUE``); how many."""
    client = connect()
    try:
        return remove_labelled(client.api, label)
    finally:
        client.close()


def remove_volume(api: Any, volume: str) -> None:
    """Remove a workspace volume; gone already is fine."""
    try:
        api.remove_volume(volume, force=True)
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as exc:
        raise ExecutorError(f"cannot remove the workspace {volume}: {explain(exc)}") from exc


def remove_container(api: Any, container: str) -> None:
    """Kill and remove ``container`` with its anonymous volumes; gone already is fine."""
    try:
        api.remove_container(container, v=True, force=True)
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as exc:
        if exc.status_code != 409 or "in progress" not in explain(exc):
            raise ExecutorError(f"cannot remove container {container[:12]}: {explain(exc)}") from exc
        # Someone else (teardown, a second destroy) is removing it: wait until it is gone,
        # so that "destroyed" always means "no container left".
        deadline = time.monotonic() + REMOVAL_WAIT_SECONDS
        while time.monotonic() < deadline:
            try:
                api.inspect_container(container)
            except docker.errors.NotFound:
                return
            time.sleep(0.1)


def remove_quietly(api: Any, container: str) -> None:
    with contextlib.suppress(ExecutorError, *ENGINE_ERRORS):
        remove_container(api, container)


def remove_labelled(api: Any, label: str | list[str]) -> int:
    removed = 0
    for container in api.containers(all=True, filters={"label": label}):
        remove_container(api, container["Id"])
        removed += 1
    return removed
