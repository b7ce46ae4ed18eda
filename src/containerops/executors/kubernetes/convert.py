"""From a job attempt to the Kubernetes objects that run it, and from its pod's status to
how the job ended: pure, so that every manifest is tested (and validated against the
Kubernetes OpenAPI schemas) without an API server.

One attempt is one ``batch/v1`` Job: ``backoffLimit: 0`` (coops retries, not the Job
controller), ``activeDeadlineSeconds`` from the job's timeout, ``ttlSecondsAfterFinished``
so that a Job an engine lost is still removed. Variables holding a run's secrets go into
a Secret the Job owns, referenced by ``secretKeyRef``, never written in the Job. The run's
workspace is a ReadWriteMany PersistentVolumeClaim. The job's ``CO_OUTPUT`` file is the
container's termination message (``terminationMessagePath``), which the kubelet copies
into the pod's status: outputs come back without reading the container's filesystem
(at most :data:`TERMINATION_MESSAGE_LIMIT` bytes, the kubelet's limit).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any

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

Manifest = dict[str, Any]

#: The name of the one container of a job's pod.
CONTAINER = "job"
#: Where the job's ``CO_OUTPUT`` file is: the container's termination message.
OUTPUT_PATH = "/tmp/coops-output"
#: The most of a termination message the kubelet keeps (bytes).
TERMINATION_MESSAGE_LIMIT = 4096
#: The uid/gid our base images run jobs as: the workspace volume is made theirs (fsGroup).
JOB_GROUP = 1000
#: Seconds a cancelled job's process gets between SIGTERM and SIGKILL.
GRACE_SECONDS = 5
#: The label every Job's pods get from the Job controller (Kubernetes 1.27 and later).
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"

_MAX_NAME = 63  # a DNS-1123 label: Job names become their pods' label values
_NAME_CHARS = re.compile(r"[^a-z0-9-]+")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where and how a run's Jobs are made: the cluster-wide settings of the executor."""

    namespace: str
    #: The COOPS_HOME whose run it is: which ``coops cleanup`` the objects belong to.
    home: str
    #: The run's workspace claim; None: the job gets no workspace.
    workspace_claim: str | None = None
    #: An existing ``kubernetes.io/dockerconfigjson`` Secret for pulling from the registry.
    pull_secret: str | None = None
    #: Seconds a finished Job is kept before Kubernetes removes it (if coops did not).
    ttl_seconds: int = 3600


def job_name(spec: JobSpec) -> str:
    """``coops-<stage-action-job>-<attempt>-<hash>``: a DNS-1123 label of at most 63
    characters, readable in ``kubectl get jobs``, unique per run and attempt (the hash is
    of the run id, the path and the attempt; the labels say them in full)."""
    raw = f"{spec.run_id}/{spec.path}/{spec.attempt}"
    digest = hashlib.sha256(raw.encode()).hexdigest()[:10]
    tail = f"-{spec.attempt}-{digest}"
    middle = _NAME_CHARS.sub("-", spec.path.lower().replace(".", "-").replace("_", "-")).strip("-")
    middle = middle[: _MAX_NAME - len("coops-") - len(tail)].strip("-")
    return f"coops-{middle}{tail}" if middle else f"coops{tail}"


def secret_name(spec: JobSpec) -> str:
    """The Secret that holds an attempt's secret variables: its Job's name, which fits."""
    return job_name(spec)


def claim_name(run_id: str) -> str:
    """The run's workspace PersistentVolumeClaim."""
    return f"coops-workspace-{hashlib.sha256(run_id.encode()).hexdigest()[:16]}"


def label_value(value: str) -> str:
    """``value`` when it is a valid label value, else a hash of it (of the same meaning:
    the annotations keep the value itself)."""
    if len(value) <= _MAX_NAME and _LABEL_VALUE.match(value):
        return value
    return "h-" + hashlib.sha256(value.encode()).hexdigest()[:40]


def run_labels(run_id: str, home: str) -> dict[str, str]:
    """The labels of everything of a run: enough to find (and remove) it all."""
    return {
        LABEL_MANAGED: "true",
        LABEL_RUN: label_value(run_id),
        LABEL_HOME: label_value(home),
    }


def attempt_labels(spec: JobSpec, home: str) -> dict[str, str]:
    labels = {key: label_value(value) for key, value in spec.labels.items()}
    labels.update(run_labels(spec.run_id, home))
    labels[LABEL_JOB] = label_value(spec.path)
    labels[LABEL_ATTEMPT] = str(spec.attempt)
    return labels


def _annotations(spec: JobSpec, home: str) -> dict[str, str]:
    """The values the labels may only hash, in full."""
    return {LABEL_RUN: spec.run_id, LABEL_JOB: spec.path, LABEL_HOME: home}


def escape(text: str) -> str:
    """``text`` as Kubernetes passes it on literally: it expands ``$(NAME)`` in a
    container's command, args and env values, and ``$$`` stands for ``$``."""
    return text.replace("$", "$$")


def secret_variables(spec: JobSpec) -> dict[str, str]:
    """The variables of ``spec`` that go into its Secret rather than into the Job."""
    return {name: spec.env[name] for name in sorted(spec.secret_env) if name in spec.env}


def job_manifest(spec: JobSpec, placement: Placement, *, image: str) -> Manifest:
    """The Job of one attempt of ``spec``."""
    name = job_name(spec)
    labels = attempt_labels(spec, placement.home)
    container: Manifest = {
        "name": CONTAINER,
        "image": image,
        "env": _env(spec, name),
        "resources": resources(spec),
        "terminationMessagePath": OUTPUT_PATH,
        "terminationMessagePolicy": "File",
        "securityContext": {"allowPrivilegeEscalation": False, "privileged": False},
    }
    if spec.command is not None:
        # Docker's CMD is Kubernetes' args: the image's entrypoint stays.
        container["args"] = [escape(part) for part in spec.command]
    pod: Manifest = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": GRACE_SECONDS,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"fsGroup": JOB_GROUP},
        "containers": [container],
    }
    if spec.node_labels:
        pod["nodeSelector"] = dict(spec.node_labels)
    if placement.pull_secret:
        pod["imagePullSecrets"] = [{"name": placement.pull_secret}]
    if placement.workspace_claim is not None:
        container["volumeMounts"] = [{"name": "workspace", "mountPath": WORKSPACE_PATH}]
        pod["volumes"] = [
            {"name": "workspace", "persistentVolumeClaim": {"claimName": placement.workspace_claim}}
        ]
    job_spec: Manifest = {
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": placement.ttl_seconds,
        "template": {"metadata": {"labels": labels}, "spec": pod},
    }
    if spec.timeout:
        job_spec["activeDeadlineSeconds"] = max(1, math.ceil(spec.timeout))
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": placement.namespace,
            "labels": labels,
            "annotations": _annotations(spec, placement.home),
        },
        "spec": job_spec,
    }


def _env(spec: JobSpec, secret: str) -> list[Manifest]:
    env: list[Manifest] = []
    hidden = secret_variables(spec)
    for key, value in spec.env.items():
        if key in hidden:
            ref = {"name": secret, "key": key}
            env.append({"name": key, "valueFrom": {"secretKeyRef": ref}})
        else:
            env.append({"name": key, "value": escape(value)})
    env.append({"name": OUTPUT_ENV, "value": OUTPUT_PATH})
    env.append({"name": WORKSPACE_ENV, "value": WORKSPACE_PATH})
    return env


def resources(spec: JobSpec) -> Manifest:
    """The job's limits, requested as they are limited (a Guaranteed pod when both are given)."""
    amounts: dict[str, str] = {}
    if spec.cpu:
        amounts["cpu"] = f"{max(1, round(spec.cpu * 1000))}m"
    if spec.memory:
        amounts["memory"] = str(spec.memory)
    return {"requests": dict(amounts), "limits": dict(amounts)} if amounts else {}


def secret_manifest(spec: JobSpec, placement: Placement) -> Manifest | None:
    """The Secret holding the attempt's secret variables; None when it has none. Made
    before its Job (whose pod needs it) and then given to it (:func:`owner_reference`)."""
    values = secret_variables(spec)
    if not values:
        return None
    for key in values:
        if not _SECRET_KEY.match(key):
            raise ValueError(f"variable {key!r} cannot be a key of a Kubernetes Secret")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(spec),
            "namespace": placement.namespace,
            "labels": attempt_labels(spec, placement.home),
            "annotations": _annotations(spec, placement.home),
        },
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in values.items()},
    }


def owner_reference(job: Manifest) -> Manifest:
    """What makes an object the Job's (``job``: as the API server returned it, with its
    uid): the garbage collector removes it with the Job."""
    metadata = job["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": False,
        "blockOwnerDeletion": True,
    }


def claim_manifest(run_id: str, placement: Placement, *, storage_class: str | None, size: str) -> Manifest:
    """The run's workspace: one ReadWriteMany claim, mounted by every job of the run on any node."""
    spec: Manifest = {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": claim_name(run_id),
            "namespace": placement.namespace,
            "labels": run_labels(run_id, placement.home),
            "annotations": {LABEL_RUN: run_id, LABEL_HOME: placement.home},
        },
        "spec": spec,
    }


#: Reasons a container waits with that will not go away by waiting: the job fails at once.
STUCK_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)


def container_status(pod: Manifest) -> Manifest | None:
    """The status of the job's container in ``pod`` (a pod as the API returns it), if any."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == CONTAINER:
            return dict(status)
    return None


def terminated(pod: Manifest) -> Manifest | None:
    """The ``terminated`` state of the job's container, once it has ended."""
    status = container_status(pod)
    state = (status or {}).get("state") or {}
    return dict(state["terminated"]) if state.get("terminated") else None


def stuck(pod: Manifest) -> str | None:
    """Why the pod's container will never start (an image that cannot be pulled, a
    missing secret...), in words for the user; None while it may still start."""
    status = container_status(pod)
    waiting = ((status or {}).get("state") or {}).get("waiting") or {}
    reason = waiting.get("reason")
    if reason in STUCK_REASONS:
        message = waiting.get("message") or ""
        return f"the job's container cannot start: {reason}" + (f" ({message})" if message else "")
    # An unschedulable pod is waited for: a node may yet come (autoscaling, a drain ending).
    return None


def unschedulable(pod: Manifest) -> str | None:
    """What the scheduler says while no node can take the pod (no node with the job's
    labels, not enough free memory...); None once scheduled, or before it has tried."""
    for condition in (pod.get("status") or {}).get("conditions") or []:
        scheduled = condition.get("type") == "PodScheduled" and condition.get("status") == "False"
        if scheduled and condition.get("reason") == "Unschedulable":
            return str(condition.get("message") or "no node can run it")
    return None


def exit_status(state: Manifest, memory: int | None) -> ExitStatus:
    """How a job ended, from its container's ``terminated`` state (``memory``: its limit)."""
    oom = state.get("reason") == "OOMKilled"
    reason = None
    if oom:
        reason = f"out of memory (limit {human_size(memory)})" if memory else "out of memory"
    return ExitStatus(exit_code=int(state.get("exitCode", -1)), oom_killed=oom, reason=reason)


def job_failure(job: Manifest, timeout: float | None) -> str | None:
    """Why the Job failed without its container ending by itself (its deadline passed...)."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") != "Failed" or condition.get("status") != "True":
            continue
        if condition.get("reason") == "DeadlineExceeded":
            return f"timeout after {timeout or 0:g} s"
        return f"the Kubernetes Job failed: {condition.get('reason')} ({condition.get('message') or ''})"
    return None


def output_message(state: Manifest) -> bytes | None:
    """The job's ``CO_OUTPUT`` file, from its container's termination message; None if empty."""
    message = state.get("message")
    return message.encode() if message else None
