"""From a job's spec to the container that runs it, and from the stopped container's
state to how the job ended: pure, so that what a job gets (limits, labels, mounts,
environment, name, which image is pulled) and what its end is called are tested
without a Docker Engine.

The executor passes ``host`` to the SDK's ``create_host_config`` and the rest to
``create_container``; nothing here talks to a daemon.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from docker.types import LogConfig, Mount

from containerops.contract.output_file import OUTPUT_ENV
from containerops.executors.base import (
    LABEL_ATTEMPT,
    LABEL_HOME,
    LABEL_JOB,
    LABEL_MANAGED,
    LABEL_RUN,
    WORKSPACE_ENV,
    WORKSPACE_PATH,
    ExitStatus,
    JobSpec,
)

#: Processes a job may run at once: stops a fork bomb from taking the machine down.
PIDS_LIMIT = 4096
_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_.-]+")
_MAX_NAME = 200


#: Where a job's output file is, inside its container (read back with ``docker cp``'s API).
OUTPUT_PATH = "/tmp/coops-output"


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """What one job attempt's container is created with."""

    name: str
    image: str
    command: list[str] | None
    environment: dict[str, str]
    labels: dict[str, str]
    host: dict[str, Any]


def container_config(
    spec: JobSpec, *, image: str, workspace: str | None, network_mode: str, home: str
) -> ContainerConfig:
    """The container of ``spec``: unprivileged, without new privileges, memory without
    swap (so the OOM killer really kills), a process limit, the run's workspace volume
    mounted at /workspace, and labels that say whose it is (run, job, attempt, home)."""
    environment = {**spec.env, OUTPUT_ENV: OUTPUT_PATH}
    mounts: list[Mount] = []
    if workspace is not None:
        mounts.append(Mount(WORKSPACE_PATH, workspace, type="volume", no_copy=True))
        environment[WORKSPACE_ENV] = WORKSPACE_PATH
    labels = {
        **spec.labels,
        LABEL_MANAGED: "true",
        LABEL_RUN: spec.run_id,
        LABEL_JOB: spec.path,
        LABEL_ATTEMPT: str(spec.attempt),
        LABEL_HOME: home,
    }
    host = {
        "network_mode": network_mode,
        "mem_limit": spec.memory,
        "memswap_limit": spec.memory,
        "nano_cpus": round(spec.cpu * 1e9) if spec.cpu else None,
        "pids_limit": PIDS_LIMIT,
        "privileged": False,
        "security_opt": ["no-new-privileges"],
        # json-file: the log reader relies on how it marks lines cut at 16 KiB.
        "log_config": LogConfig(type=LogConfig.types.JSON),
        "mounts": mounts or None,
    }
    return ContainerConfig(container_name(spec), image, spec.command, environment, labels, host)


def container_name(spec: JobSpec) -> str:
    """``coops-<run>-<stage-action-job>-<attempt>``, in Docker's allowed characters.

    Readable in ``docker ps``; unique per attempt (the labels, not the name, are
    what the executor searches by). Overlong names are cut and made unique by a hash.
    """
    raw = f"coops-{spec.run_id}-{spec.path.replace('.', '-')}-{spec.attempt}"
    name = _NAME_CHARS.sub("-", raw)
    if len(name) > _MAX_NAME:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:12]
        name = f"{name[: _MAX_NAME - 13]}-{digest}"
    return name


def workspace_volume(run_id: str) -> str:
    """The name of a run's workspace volume."""
    return f"coops-workspace-{_NAME_CHARS.sub('-', run_id)}"


def exit_status(state: dict[str, Any], memory: int | None) -> ExitStatus:
    """How a job ended, from its stopped container's ``State`` (``memory``: its limit)."""
    oom = bool(state.get("OOMKilled"))
    reason = None
    if oom:
        reason = f"out of memory (limit {human_size(memory)})" if memory else "out of memory"
    return ExitStatus(exit_code=int(state.get("ExitCode", -1)), oom_killed=oom, reason=reason)


def human_size(size: int) -> str:
    """``33554432`` -> ``32 MiB``; for the out-of-memory reason shown to users."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def names_registry(image: str) -> bool:
    """Whether ``image`` names a registry host (``registry.example:5000/app``, ``localhost/x``):
    only such an image is pulled when it is not local."""
    first, slash, _ = image.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def split_reference(image: str) -> tuple[str, str | None]:
    """``repo:tag`` -> (``repo``, ``tag``) for a pull; a digest or no tag -> (image, None)."""
    if "@" in image:
        return image, None
    repository, colon, tag = image.rpartition(":")
    if colon and "/" not in tag:
        return repository, tag
    return image, None
