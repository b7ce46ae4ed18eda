"""From a job's spec to the Swarm service that runs it, from the swarm's nodes to whether
any can, and from a task's status to how the job ended: pure, so that what a service
gets (mode, restart, limits and reservations, labels, placement, secrets, mounts) and
what its end is called are tested without a swarm.

Nothing here talks to a daemon; the executor passes :class:`ServiceConfig` to the SDK.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from docker.types import (
    ContainerSpec,
    DriverConfig,
    Mount,
    Placement,
    Resources,
    RestartPolicy,
    SecretReference,
    ServiceMode,
    TaskTemplate,
)

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
from containerops.executors.docker.convert import human_size

#: Swarm names (services, secrets) are DNS labels: 63 characters at most.
MAX_NAME = 63
_NAME_CHARS = re.compile(r"[^a-zA-Z0-9]+")

#: The file, under /run/secrets, that holds a job's secret variables.
SECRET_FILE = "coops-env"
#: Loads the secret variables, then becomes the job's own command ("$@").
SECRET_LOADER = f'set -a; . /run/secrets/{SECRET_FILE}; set +a; exec "$@"'

#: Set in every job's environment to the ID of the node that runs it (a swarm template).
NODE_ENV = "CO_SWARM_NODE"
#: The first Docker Engine whose replicated-job services leave nothing behind when removed:
#: 20.10 keeps their tasks, and a running one's container, on the node (moby/moby#44312,
#: #42789), so before it a job is a one-task ``replicated`` service that is never restarted.
JOB_MODE_SINCE = (24, 0)
#: How long a cancelled job's process has after SIGTERM before it is killed (as the docker
#: executor, which removes at once, a cancel does not wait on a job that ignores it).
STOP_GRACE_NANOSECONDS = 1_000_000_000
#: The folder of a run's workspace where jobs write their ``CO_OUTPUT`` files: the shared
#: workspace is the only place this machine can read them from, wherever the job ran.
OUTPUTS_FOLDER = ".coops-outputs"
#: A node label that names the node in messages (see :func:`node_name`).
NODE_NAME_LABEL = "coops.node"
#: Task states after which nothing more happens to the task.
TERMINAL = frozenset({"complete", "failed", "shutdown", "rejected", "orphaned", "remove"})
#: The exit code of a job that has none (its node was lost, the swarm could not start it).
NO_EXIT_CODE = -1


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """What one job attempt's service is created with (``APIClient.create_service``)."""

    name: str
    task_template: TaskTemplate
    mode: ServiceMode
    labels: dict[str, str]
    #: The secret variables' file, to create as a Docker secret first (None: no secret).
    secret_data: bytes | None = None
    secret_name: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def job_labels(spec: JobSpec, home: str) -> dict[str, str]:
    """The labels of the service, its containers and its secret: whose they are."""
    return {
        LABEL_MANAGED: "true",
        LABEL_RUN: spec.run_id,
        LABEL_JOB: spec.path,
        LABEL_ATTEMPT: str(spec.attempt),
        LABEL_HOME: home,
    }


def service_config(
    spec: JobSpec,
    *,
    image: str,
    home: str,
    workspace: str | None,
    image_command: tuple[list[str], list[str]] = ([], []),
    secret_id: str | None = None,
    job_mode: bool = True,
) -> ServiceConfig:
    """The service of ``spec``: a ``replicated-job`` of one task that is never restarted
    (retries are the engine's), or with ``job_mode`` False (Engines before
    :data:`JOB_MODE_SINCE`) a ``replicated`` service of one task never restarted, which
    ends the same way; its limits also reserved (so the scheduler places it
    only where they fit), constrained to nodes with the job's labels, its workspace the
    shared folder ``workspace`` (bind-mounted: the same path on every node).

    Variables that hold secrets (``spec.secret_env``) are not in the service's env: they
    go in a Docker secret (``secret_data``), which a small shell loader reads before it
    runs what the container would have run: the image's entrypoint, then the job's
    command or else the image's (``image_command``: its Entrypoint and Cmd). ``secret_id``
    is that secret once created.
    """
    labels = {**spec.labels, **job_labels(spec, home)}
    secrets = {k: v for k, v in spec.env.items() if k in spec.secret_env}
    env = {k: v for k, v in spec.env.items() if k not in spec.secret_env}
    mounts: list[Mount] = []
    if workspace is not None:
        mounts.append(Mount(WORKSPACE_PATH, workspace, type="bind"))
        env[WORKSPACE_ENV] = WORKSPACE_PATH
        env[OUTPUT_ENV] = f"{WORKSPACE_PATH}/{OUTPUTS_FOLDER}/{service_name(spec)}"
    written = {key: literal(value) for key, value in env.items()}
    written[NODE_ENV] = "{{.Node.ID}}"
    command: list[str] | None = None
    args = spec.command
    references: list[SecretReference] = []
    name = service_name(spec)
    secret_name = None
    secret_data = None
    if secrets:
        secret_name = name
        secret_data = env_file(secrets)
        command = ["/bin/sh", "-c", SECRET_LOADER, "sh"]
        entrypoint, default = image_command
        args = [*entrypoint, *(spec.command or default)]
        if secret_id is not None:
            references.append(SecretReference(secret_id, secret_name, filename=SECRET_FILE, mode=0o444))
    nano = round(spec.cpu * 1e9) if spec.cpu else None
    container = ContainerSpec(
        image,
        command=command,
        args=args,
        env=written,
        labels=labels,
        mounts=mounts or None,
        secrets=references or None,
        stop_grace_period=STOP_GRACE_NANOSECONDS,
    )
    template = TaskTemplate(
        container,
        resources=Resources(
            cpu_limit=nano, mem_limit=spec.memory, cpu_reservation=nano, mem_reservation=spec.memory
        ),
        restart_policy=RestartPolicy(condition="none", max_attempts=0),
        placement=Placement(constraints=constraints(spec.node_labels)) if spec.node_labels else None,
        log_driver=DriverConfig("json-file"),
    )
    return ServiceConfig(
        name=name,
        task_template=template,
        mode=ServiceMode("replicated-job") if job_mode else ServiceMode("replicated", replicas=1),
        labels=labels,
        secret_data=secret_data,
        secret_name=secret_name,
        env=env,
    )


def job_mode(engine_version: str) -> bool:
    """Whether an Engine of ``engine_version`` (``20.10.24+dfsg1``) runs jobs as
    ``replicated-job`` services (see :data:`JOB_MODE_SINCE`)."""
    parts = [int(part) if part.isdigit() else 0 for part in engine_version.split("+")[0].split(".")[:2]]
    return tuple(parts + [0] * (2 - len(parts))) >= JOB_MODE_SINCE


def service_name(spec: JobSpec) -> str:
    """``coops-<run>-<stage-action-job>-<attempt>`` in a DNS label's characters, cut and
    made unique by a hash when longer than 63."""
    raw = f"coops-{spec.run_id}-{spec.path}-{spec.attempt}"
    name = _NAME_CHARS.sub("-", raw).strip("-")
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:12]
        name = f"{name[: MAX_NAME - 13].rstrip('-')}-{digest}"
    return name


def literal(value: str) -> str:
    """``value`` as itself in a service's env, which Swarm reads as a Go template: each
    ``{{`` is written as the action that prints it."""
    return value.replace("{{", '{{"{{"}}')


def constraints(node_labels: Mapping[str, str]) -> list[str]:
    """Placement constraints: the node has every label, with that value."""
    return [f"node.labels.{key} == {value}" for key, value in sorted(node_labels.items())]


def env_file(variables: Mapping[str, str]) -> bytes:
    """``NAME='value'`` lines a POSIX shell sources (any value, several lines too)."""
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in variables.items()).encode()


def unsatisfiable(spec: JobSpec, nodes: Iterable[Mapping[str, Any]]) -> str | None:
    """Why no node of the swarm could ever run ``spec`` (labels, cpu, memory), or None.

    Only ready nodes that take tasks count. A job that fits some node but has to wait
    for capacity is not refused: the scheduler keeps it pending until there is room.
    """
    described: list[str] = []
    for node in nodes:
        node_spec = node.get("Spec") or {}
        labels = node_spec.get("Labels") or {}
        resources = (node.get("Description") or {}).get("Resources") or {}
        cpus = int(resources.get("NanoCPUs") or 0) / 1e9
        memory = int(resources.get("MemoryBytes") or 0)
        state = (node.get("Status") or {}).get("State")
        availability = node_spec.get("Availability")
        name = node_name(node)
        missing = [f"{k}={v}" for k, v in sorted(spec.node_labels.items()) if labels.get(k) != v]
        problems = []
        if state != "ready":
            problems.append(str(state))
        if availability != "active":
            problems.append(str(availability))
        if missing:
            problems.append(f"no label {', '.join(missing)}")
        if spec.cpu and cpus < spec.cpu:
            problems.append(f"{cpus:g} cpu")
        if spec.memory and memory < spec.memory:
            problems.append(f"{human_size(memory)} memory")
        if not problems:
            return None
        described.append(f"{name}: {', '.join(problems)}")
    wants = [f"{k}={v}" for k, v in sorted(spec.node_labels.items())]
    needs = []
    if wants:
        needs.append(f"labels {', '.join(wants)}")
    if spec.cpu:
        needs.append(f"{spec.cpu:g} cpu")
    if spec.memory:
        needs.append(f"{human_size(spec.memory)} memory")
    wanted = "; ".join(needs) or "a ready, active node"
    return f"no node of the swarm can run job {spec.path} (it needs {wanted}): " + (
        "; ".join(described) or "the swarm has no nodes"
    )


def node_name(node: Mapping[str, Any]) -> str:
    """A node in messages: its label ``coops.node`` when it has one (nodes may share a
    hostname), else its hostname, else its ID."""
    labels = (node.get("Spec") or {}).get("Labels") or {}
    hostname = (node.get("Description") or {}).get("Hostname")
    return str(labels.get(NODE_NAME_LABEL) or hostname or str(node.get("ID", "?"))[:12])


def task_outcome(task: Mapping[str, Any], memory: int | None) -> ExitStatus | None:
    """How the job ended, from its task (None while it has not): the container's exit code,
    "rejected" with the node's reason (an image it cannot pull...), or an orphaned task
    (its node gone for long) as a lost node.

    Swarm does not report the kernel's OOM kill; under a memory limit, exit code 137
    (SIGKILL) is taken for it, as nothing else of ours kills a task's process.
    """
    status = task.get("Status") or {}
    state = status.get("State")
    if state not in TERMINAL:
        return None
    code = (status.get("ContainerStatus") or {}).get("ExitCode")
    err = str(status.get("Err") or status.get("Message") or state)
    if state == "complete":
        return ExitStatus(exit_code=int(code or 0))
    if state == "orphaned":
        return node_lost("its node stopped answering")
    if state == "rejected" or code is None:
        return ExitStatus(exit_code=NO_EXIT_CODE, reason=f"the swarm could not run the job: {err}")
    exit_code = int(code)
    if exit_code == 137 and memory:
        return ExitStatus(exit_code=exit_code, oom_killed=True)
    return ExitStatus(exit_code=exit_code)


def node_lost(why: str, node: str | None = None) -> ExitStatus:
    where = f" ({node})" if node else ""
    return ExitStatus(exit_code=NO_EXIT_CODE, reason=f"node lost{where}: {why} while the job ran")
