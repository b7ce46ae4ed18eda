"""A small Kubernetes API server on 127.0.0.1 for the executor's tests: no API server can
be installed here, so this one speaks the real protocol (the official client talks to it
unchanged) for the subset the Kubernetes executor uses, with the semantics the Kubernetes
API documentation gives:

- ``batch/v1`` Jobs and ``v1`` Pods, Secrets and PersistentVolumeClaims in namespaces:
  create (409 ``AlreadyExists``), get (404 ``NotFound``), list and deletecollection with
  equality label selectors, merge patch (strategic merge too, its lists replaced whole),
  delete with ``propagationPolicy`` (``Foreground``: the owner gets a ``deletionTimestamp``
  and the ``foregroundDeletion`` finalizer and is removed once its dependents are;
  ``Background``; ``Orphan``, the default for Jobs);
- ``resourceVersion`` on every object and list; watch (``?watch=true``) from a version,
  or from the current state (synthetic ADDED events) without one; ``timeoutSeconds`` ends
  a watch; a version older than the server keeps (:meth:`Cluster.compact`) gets an ERROR
  event with a 410 ``Expired`` Status; :meth:`Cluster.drop_watches` ends every open watch
  early (as a restarting API server does), :meth:`Cluster.cut_logs` every followed log;
- the owner's garbage collector: deleting an object deletes what names it in its
  ``ownerReferences``;
- a Job controller: one pod per Job, labelled ``batch.kubernetes.io/controller-uid`` and
  ``batch.kubernetes.io/job-name``, the Job's status and ``Complete``/``Failed``
  conditions, ``activeDeadlineSeconds`` (``DeadlineExceeded``: the pod is deleted);
- a scheduler for one node: a pod whose ``nodeSelector`` the node's labels do not match
  stays Pending (``PodScheduled`` False, ``Unschedulable``) until :meth:`Cluster.label_node`;
- a kubelet: the pod's command (``command`` + ``args``, ``$(VAR)`` expanded, ``$$`` for
  ``$``) runs as a local process with the pod's environment (``secretKeyRef`` read from the
  Secret; missing: ``CreateContainerConfigError``); stdout and stderr are its log (``GET
  .../log`` with ``follow``, ``timestamps``, ``sinceSeconds``; 400 while it waits to
  start); its exit code, and ``OOMKilled`` when the process group's resident memory passes
  the memory limit (the kubelet kills it then, as the kernel's cgroup would), and the
  termination message file come back in the container status. Paths of mounted claims
  and of the termination message are mapped to folders of the server's own; an image
  whose name starts with ``missing/`` cannot be pulled (``ErrImagePull``).

Not implemented (the executor does not use them): authentication, field selectors,
strategic merge of lists, ``ttlSecondsAfterFinished``, more than one container.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

Obj = dict[str, Any]

KINDS = {
    "jobs": ("batch/v1", "Job"),
    "pods": ("v1", "Pod"),
    "secrets": ("v1", "Secret"),
    "persistentvolumeclaims": ("v1", "PersistentVolumeClaim"),
}
_PATH = re.compile(
    r"^/(?:api/v1|apis/batch/v1)/namespaces/(?P<ns>[^/]+)/(?P<res>[a-z]+)(?:/(?P<name>[^/]+))?(?P<log>/log)?$"
)
_VAR = re.compile(r"\$\$|\$\(([-._a-zA-Z0-9]+)\)")
PAGE = 4096  # the kubelet's limit of a termination message


def _resources(*entries: tuple[str, str, bool]) -> list[Obj]:
    verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    return [
        {"name": name, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": verbs}
        for name, kind, namespaced in entries
    ]


#: Discovery (``/api``, ``/apis`` and each group version's resources), legacy form: what
#: kubectl reads to map a manifest's kind to its resource. It lists the kinds that
#: deploy/kubernetes holds too, so that ``kubectl apply --dry-run=client`` can run on it
#: (objects of those other kinds are only ever "not found" here).
DISCOVERY: dict[str, Obj] = {
    "/api": {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    },
    "/apis": {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": group,
                "versions": [{"groupVersion": f"{group}/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": f"{group}/v1", "version": "v1"},
            }
            for group in ("apps", "batch", "rbac.authorization.k8s.io")
        ],
    },
    "/api/v1": {
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": _resources(
            ("pods", "Pod", True),
            ("pods/log", "Pod", True),
            ("secrets", "Secret", True),
            ("persistentvolumeclaims", "PersistentVolumeClaim", True),
            ("serviceaccounts", "ServiceAccount", True),
            ("services", "Service", True),
            ("namespaces", "Namespace", False),
        ),
    },
    "/apis/apps/v1": {
        "kind": "APIResourceList",
        "groupVersion": "apps/v1",
        "resources": _resources(("deployments", "Deployment", True)),
    },
    "/apis/batch/v1": {
        "kind": "APIResourceList",
        "groupVersion": "batch/v1",
        "resources": _resources(("jobs", "Job", True)),
    },
    "/apis/rbac.authorization.k8s.io/v1": {
        "kind": "APIResourceList",
        "groupVersion": "rbac.authorization.k8s.io/v1",
        "resources": _resources(("roles", "Role", True), ("rolebindings", "RoleBinding", True)),
    },
    "/version": {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64"},
}


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def matches(obj: Obj, selector: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (part.strip() for part in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def merge(target: Obj, patch: Obj) -> Obj:
    """JSON merge patch (RFC 7386)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' expansion of ``$(VAR)`` (left as written when VAR is unknown); ``$$`` is ``$``."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VAR.sub(one, text)


class Cluster:
    """The objects, their history of changes, and the controllers that act on them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.version = 0
        self.oldest = 0  # watches from before this version get 410 Gone
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.history: list[tuple[int, str, str, str, Obj]] = []
        self.logs: dict[str, list[tuple[str, bytes]]] = {}  # pod uid -> (time, line)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}  # pod uid -> its process
        self.killed: list[str] = []  # names of pods whose process was killed by a deletion
        self.watch_epoch = 0
        self.log_epoch = 0
        self.node_labels: dict[str, str] = {"kubernetes.io/hostname": "node-1"}  # the one node's
        self.requests: list[str] = []  # "LIST pods", "WATCH pods", "POST jobs", "GET pods/log"...
        self.gone_sent = 0  # 410 Gone events sent to watches

    # --- the store ----------------------------------------------------------------------

    def _record(self, resource: str, kind: str, obj: Obj) -> None:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.history.append((self.version, resource, obj["metadata"]["namespace"], kind, copy.deepcopy(obj)))
        self.changed.notify_all()

    def compact(self) -> None:
        """Forget the history: a watch from any version seen so far gets 410 Gone."""
        with self.lock:
            self.oldest = self.version + 1
            self.history.clear()

    def cut_logs(self) -> None:
        """End every followed log stream now, its container still running (the kubelet or
        a proxy on the way restarted); clients follow again."""
        with self.lock:
            self.log_epoch += 1
            self.changed.notify_all()

    def drop_watches(self) -> None:
        """End every open watch now (the server restarted); clients watch again."""
        with self.lock:
            self.watch_epoch += 1
            self.changed.notify_all()

    def create(self, resource: str, namespace: str, body: Obj) -> Obj:
        with self.lock:
            meta = body.setdefault("metadata", {})
            name = meta.get("name")
            if not name and meta.get("generateName"):
                name = meta["generateName"] + secrets.token_hex(3)[:5]
            if not name:
                raise ApiError(422, "Invalid", f"{resource}: metadata.name: Required value")
            if (resource, namespace, name) in self.objects:
                raise ApiError(409, "AlreadyExists", f'{resource} "{name}" already exists')
            api_version, kind = KINDS[resource]
            body["apiVersion"], body["kind"] = api_version, kind
            meta.update(name=name, namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=now())
            if resource == "secrets" and "stringData" in body:
                data = body.setdefault("data", {})
                for key, value in body.pop("stringData").items():
                    data[key] = base64.b64encode(value.encode()).decode()
            if resource == "persistentvolumeclaims":
                body["status"] = {"phase": "Bound", "accessModes": body["spec"].get("accessModes", [])}
            self.objects[(resource, namespace, name)] = body
            self._record(resource, "ADDED", body)
            created = copy.deepcopy(body)
        if resource == "jobs" and not (body.get("spec") or {}).get("suspend"):
            threading.Thread(target=self._control_job, args=(namespace, name), daemon=True).start()
        return created

    def get(self, resource: str, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self.objects.get((resource, namespace, name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{resource} "{name}" not found')
            return copy.deepcopy(obj)

    def list(self, resource: str, namespace: str, selector: str) -> Obj:
        with self.lock:
            items = [
                copy.deepcopy(obj)
                for (res, ns, _), obj in self.objects.items()
                if res == resource and ns == namespace and matches(obj, selector)
            ]
            api_version, kind = KINDS[resource]
            return {
                "apiVersion": api_version,
                "kind": f"{kind}List",
                "metadata": {"resourceVersion": str(self.version)},
                "items": items,
            }

    def patch(self, resource: str, namespace: str, name: str, patch: Obj) -> Obj:
        with self.lock:
            obj = self.objects.get((resource, namespace, name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{resource} "{name}" not found')
            patch = copy.deepcopy(patch)
            (patch.get("metadata") or {}).pop("resourceVersion", None)
            merge(obj, patch)
            self._record(resource, "MODIFIED", obj)
            return copy.deepcopy(obj)

    def update_status(self, resource: str, namespace: str, name: str, status: Obj) -> None:
        with self.lock:
            obj = self.objects.get((resource, namespace, name))
            if obj is not None:
                merge(obj.setdefault("status", {}), status)
                self._record(resource, "MODIFIED", obj)

    def delete(self, resource: str, namespace: str, name: str, propagation: str | None = None) -> Obj:
        """Delete as the API server does (see the module doc); returns the object as it was."""
        with self.lock:
            obj = self.objects.get((resource, namespace, name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{resource} "{name}" not found')
            policy = propagation or ("Orphan" if resource == "jobs" else "Background")
            meta = obj["metadata"]
            if resource == "pods" and name in {p for p in self._running_pods()}:
                meta.setdefault("deletionTimestamp", now())
                self._record(resource, "MODIFIED", obj)
                threading.Thread(target=self._kill_pod, args=(namespace, name), daemon=True).start()
                return copy.deepcopy(obj)
            if policy == "Foreground" and self._dependents(meta["uid"]):
                if "deletionTimestamp" not in meta:
                    meta["deletionTimestamp"] = now()
                    meta["finalizers"] = [*meta.get("finalizers", []), "foregroundDeletion"]
                    self._record(resource, "MODIFIED", obj)
                    threading.Thread(
                        target=self._foreground, args=(resource, namespace, name), daemon=True
                    ).start()
                return copy.deepcopy(obj)
            return self._remove(resource, namespace, name, policy)

    def _running_pods(self) -> Iterator[str]:
        for (res, _, name), obj in self.objects.items():
            if res == "pods" and obj["metadata"]["uid"] in self.processes:
                yield name

    def _remove(self, resource: str, namespace: str, name: str, policy: str) -> Obj:
        obj = self.objects.pop((resource, namespace, name))
        self._record(resource, "DELETED", obj)
        uid = obj["metadata"]["uid"]
        for key in self._dependents(uid):
            dependent = self.objects[key]
            if policy == "Orphan":
                refs = [r for r in dependent["metadata"].get("ownerReferences", []) if r.get("uid") != uid]
                dependent["metadata"]["ownerReferences"] = refs
                self._record(key[0], "MODIFIED", dependent)
            else:  # the garbage collector
                with contextlib.suppress(ApiError):
                    self.delete(*key, propagation="Background")
        return copy.deepcopy(obj)

    def _dependents(self, uid: str) -> list[tuple[str, str, str]]:
        return [
            key
            for key, obj in self.objects.items()
            if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])
        ]

    def _foreground(self, resource: str, namespace: str, name: str) -> None:
        with self.lock:
            uid = self.objects[(resource, namespace, name)]["metadata"]["uid"]
            for key in self._dependents(uid):
                with contextlib.suppress(ApiError):
                    self.delete(*key, propagation="Foreground")
            while self._dependents(uid):
                self.changed.wait(0.5)
            if (resource, namespace, name) in self.objects:
                self._remove(resource, namespace, name, "Background")

    def watch(
        self, resource: str, namespace: str, selector: str, version: str | None, timeout: float
    ) -> Iterator[Obj]:
        """The events of a watch (see the module doc), until ``timeout`` or a dropped watch."""
        deadline = time.monotonic() + timeout
        with self.lock:
            epoch = self.watch_epoch
            if not version or version == "0":
                start = self.version
                initial = [
                    {"type": "ADDED", "object": copy.deepcopy(obj)}
                    for (res, ns, _), obj in self.objects.items()
                    if res == resource and ns == namespace and matches(obj, selector)
                ]
            else:
                start = int(version)
                initial = []
                if start < self.oldest - 1:
                    gone = ApiError(410, "Expired", f"too old resource version: {start} ({self.oldest})")
                    initial = [{"type": "ERROR", "object": gone.status()}]
                    self.gone_sent += 1
        yield from initial
        if initial and initial[0]["type"] == "ERROR":
            return
        seen = start
        while True:
            with self.lock:
                while True:
                    fresh = [entry for entry in self.history if entry[0] > seen]
                    left = deadline - time.monotonic()
                    if fresh or left <= 0 or self.watch_epoch != epoch:
                        break
                    self.changed.wait(min(left, 1.0))
                if not fresh:
                    return
                seen = fresh[-1][0]
            for _, res, ns, kind, obj in fresh:
                if res == resource and ns == namespace and matches(obj, selector):
                    yield {"type": kind, "object": obj}

    # --- the Job controller ---------------------------------------------------------------

    def _control_job(self, namespace: str, name: str) -> None:
        try:
            job = self.get("jobs", namespace, name)
        except ApiError:
            return
        uid = job["metadata"]["uid"]
        template = copy.deepcopy(job["spec"]["template"])
        labels = {
            **(template.get("metadata") or {}).get("labels", {}),
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
        owner = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": name,
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
        pod = {
            "metadata": {
                "name": f"{name}-{secrets.token_hex(3)[:5]}",
                "labels": labels,
                "ownerReferences": [owner],
            },
            "spec": template["spec"],
            "status": {
                "phase": "Pending",
                "containerStatuses": [
                    {
                        "name": c["name"],
                        "ready": False,
                        "restartCount": 0,
                        "image": c["image"],
                        "state": {"waiting": {"reason": "ContainerCreating"}},
                    }
                    for c in template["spec"]["containers"]
                ],
            },
        }
        created = self.create("pods", namespace, pod)
        self.update_status("jobs", namespace, name, {"active": 1, "startTime": now()})
        deadline = job["spec"].get("activeDeadlineSeconds")
        if deadline:
            timer = threading.Timer(deadline, self._deadline, args=(namespace, name, uid))
            timer.daemon = True
            timer.start()
        self._kubelet(namespace, created["metadata"]["name"], job)

    def _deadline(self, namespace: str, name: str, uid: str) -> None:
        with self.lock:
            job = self.objects.get(("jobs", namespace, name))
            if job is None or job["metadata"]["uid"] != uid or (job.get("status") or {}).get("conditions"):
                return
            self.update_status(
                "jobs",
                namespace,
                name,
                {
                    "active": 0,
                    "failed": 1,
                    "conditions": [
                        {
                            "type": "Failed",
                            "status": "True",
                            "reason": "DeadlineExceeded",
                            "message": "Job was active longer than specified deadline",
                            "lastTransitionTime": now(),
                        }
                    ],
                },
            )
            for key in self._dependents(uid):
                if key[0] == "pods":
                    with contextlib.suppress(ApiError):
                        self.delete(*key)

    def _job_ended(self, namespace: str, pod: Obj, code: int) -> None:
        for ref in pod["metadata"].get("ownerReferences") or []:
            with self.lock:
                job = self.objects.get(("jobs", namespace, ref["name"]))
                if job is None or (job.get("status") or {}).get("conditions"):
                    continue
                if code == 0:
                    condition = {"type": "Complete", "status": "True"}
                    counts = {"succeeded": 1}
                else:
                    condition = {
                        "type": "Failed",
                        "status": "True",
                        "reason": "BackoffLimitExceeded",
                        "message": "Job has reached the specified backoff limit",
                    }
                    counts = {"failed": 1}
                self.update_status(
                    "jobs",
                    namespace,
                    ref["name"],
                    {
                        "active": 0,
                        **counts,
                        "completionTime": now(),
                        "conditions": [{**condition, "lastTransitionTime": now()}],
                    },
                )

    # --- the kubelet ----------------------------------------------------------------------

    def _set_container(self, namespace: str, name: str, state: Obj, phase: str) -> None:
        with self.lock:
            pod = self.objects.get(("pods", namespace, name))
            if pod is None:
                return
            pod["status"]["phase"] = phase
            pod["status"]["containerStatuses"][0]["state"] = state
            pod["status"]["containerStatuses"][0]["ready"] = "running" in state
            self._record("pods", "MODIFIED", pod)

    def label_node(self, **labels: str) -> None:
        """Add labels to the one node: pods waiting for them are scheduled."""
        with self.lock:
            self.node_labels.update(labels)
            self.changed.notify_all()

    def _schedule(self, namespace: str, name: str) -> bool:
        """Wait until the node's labels match the pod's ``nodeSelector`` (meanwhile the pod
        is Pending with an Unschedulable PodScheduled condition, as the scheduler says);
        False if the pod was deleted first."""
        said = False
        with self.lock:
            while True:
                pod = self.objects.get(("pods", namespace, name))
                if pod is None or "deletionTimestamp" in pod["metadata"]:
                    return False
                wanted = pod["spec"].get("nodeSelector") or {}
                if all(self.node_labels.get(key) == value for key, value in wanted.items()):
                    pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "True"}]
                    pod["spec"]["nodeName"] = "node-1"
                    self._record("pods", "MODIFIED", pod)
                    return True
                if not said:
                    pod["status"]["conditions"] = [
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "reason": "Unschedulable",
                            "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node "
                            "affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is "
                            "not helpful for scheduling.",
                        }
                    ]
                    self._record("pods", "MODIFIED", pod)
                    said = True
                self.changed.wait(1.0)

    def _kubelet(self, namespace: str, name: str, job: Obj) -> None:
        if not self._schedule(namespace, name):
            return
        pod = self.get("pods", namespace, name)
        uid = pod["metadata"]["uid"]
        spec = pod["spec"]
        container = spec["containers"][0]
        if container["image"].startswith("missing/"):
            self._set_container(
                namespace,
                name,
                {
                    "waiting": {
                        "reason": "ErrImagePull",
                        "message": f"pull access denied for {container['image']}",
                    }
                },
                "Pending",
            )
            return
        folder = self.root / "pods" / uid
        folder.mkdir(parents=True)
        paths: dict[str, str] = {}
        claims = {
            v["name"]: v["persistentVolumeClaim"]["claimName"]
            for v in spec.get("volumes") or []
            if "persistentVolumeClaim" in v
        }
        for mount in container.get("volumeMounts") or []:
            claim = claims[mount["name"]]
            try:
                self.get("persistentvolumeclaims", namespace, claim)
            except ApiError:
                self._set_container(namespace, name, {"waiting": {"reason": "ContainerCreating"}}, "Pending")
                return  # unschedulable until it exists: left pending, as Kubernetes does
            host = self.root / "claims" / namespace / claim
            host.mkdir(parents=True, exist_ok=True)
            paths[mount["mountPath"]] = str(host)
        message_path = container.get("terminationMessagePath", "/dev/termination-log")
        message_file = folder / "termination-log"
        message_file.touch()
        paths[message_path] = str(message_file)

        def mapped(text: str) -> str:
            for inside, outside in paths.items():
                text = text.replace(inside, outside)
            return text

        env: dict[str, str] = {}
        for entry in container.get("env") or []:
            if "valueFrom" in entry:
                ref = entry["valueFrom"]["secretKeyRef"]
                try:
                    secret = self.get("secrets", namespace, ref["name"])
                except ApiError:
                    self._set_container(
                        namespace,
                        name,
                        {
                            "waiting": {
                                "reason": "CreateContainerConfigError",
                                "message": f'secret "{ref["name"]}" not found',
                            }
                        },
                        "Pending",
                    )
                    return
                env[entry["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
            else:
                env[entry["name"]] = mapped(expand(entry.get("value", ""), env))
        argv = [
            mapped(expand(part, env)) for part in [*container.get("command", []), *container.get("args", [])]
        ]
        process = subprocess.Popen(
            argv,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with self.lock:
            self.processes[uid] = process
            self.logs[uid] = []
        started = now()
        self._set_container(namespace, name, {"running": {"startedAt": started}}, "Running")
        limit = int(((container.get("resources") or {}).get("limits") or {}).get("memory") or 0)
        oom = threading.Event()
        if limit:
            threading.Thread(target=self._oom_killer, args=(process, limit, oom), daemon=True).start()
        assert process.stdout is not None
        for line in process.stdout:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
            with self.lock:
                self.logs[uid].append((stamp, line))
                self.changed.notify_all()
        code = process.wait()
        if code < 0:
            code = 128 - code
        with self.lock:
            self.processes.pop(uid, None)
        reason = "OOMKilled" if oom.is_set() else ("Completed" if code == 0 else "Error")
        terminated = {
            "exitCode": code,
            "reason": reason,
            "startedAt": started,
            "finishedAt": now(),
            "containerID": f"fake://{uid}",
        }
        message = message_file.read_bytes()[:PAGE].decode(errors="replace")
        if message:
            terminated["message"] = message
        self._set_container(
            namespace, name, {"terminated": terminated}, "Succeeded" if code == 0 else "Failed"
        )
        with self.lock:
            current = self.objects.get(("pods", namespace, name))
            deleting = current is not None and "deletionTimestamp" in current["metadata"]
            if deleting:
                self._remove("pods", namespace, name, "Background")
        if not deleting:
            self._job_ended(namespace, pod, code)

    def _oom_killer(self, process: subprocess.Popen[bytes], limit: int, oom: threading.Event) -> None:
        """Kill the process group when its resident memory passes ``limit``, as the cgroup would."""
        while process.poll() is None:
            if group_rss(process.pid) > limit:
                oom.set()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                return
            time.sleep(0.02)

    def _kill_pod(self, namespace: str, name: str) -> None:
        with self.lock:
            pod = self.objects.get(("pods", namespace, name))
            if pod is None:
                return
            process = self.processes.get(pod["metadata"]["uid"])
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
            self.killed.append(name)
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def log(self, namespace: str, name: str, query: dict[str, str]) -> Iterator[bytes]:
        pod = self.get("pods", namespace, name)
        uid = pod["metadata"]["uid"]
        state = pod["status"]["containerStatuses"][0]["state"]
        if "waiting" in state:
            reason = state["waiting"].get("reason")
            raise ApiError(
                400, "BadRequest", f'container "job" in pod "{name}" is waiting to start: {reason}'
            )
        follow = query.get("follow") == "true"
        stamps = query.get("timestamps") == "true"
        since = query.get("sinceSeconds")
        after = (
            ""
            if since is None
            else (
                datetime.fromtimestamp(time.time() - int(since), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
                + "000Z"
            )
        )
        sent = 0
        epoch = self.log_epoch
        while True:
            with self.lock:
                lines = self.logs.get(uid, [])
                while follow and sent == len(lines) and uid in self.processes and epoch == self.log_epoch:
                    self.changed.wait(1.0)
                if epoch != self.log_epoch:
                    return  # cut off (cut_logs): the client follows again
                fresh, sent = lines[sent:], len(lines)
                running = uid in self.processes
            for stamp, line in fresh:
                if stamp >= after:
                    yield (f"{stamp} ".encode() if stamps else b"") + line
            if not follow or (not running and not fresh):
                return


def group_rss(pgid: int) -> int:
    """Resident bytes of every process of group ``pgid``."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid:
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return total


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        super().finish()

    def _route(self) -> tuple[re.Match[str], dict[str, str]]:
        parts = urlsplit(self.path)
        match = _PATH.match(parts.path)
        if match is None or match["res"] not in KINDS:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource {parts.path}")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return match, query

    def _body(self) -> Obj:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else {}

    def _send(self, code: int, obj: Obj) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, chunks: Iterator[bytes], content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in chunks:
                if chunk:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _handle(self, method: str) -> None:
        cluster = self.server.cluster
        path = urlsplit(self.path).path.rstrip("/")
        if method == "GET" and path in DISCOVERY:
            self._send(200, DISCOVERY[path])
            return
        try:
            match, query = self._route()
            ns, res, name = match["ns"], match["res"], match["name"]
            verb = method
            if method == "GET" and not name:
                verb = "WATCH" if query.get("watch") in ("true", "1") else "LIST"
            elif method == "DELETE" and not name:
                verb = "DELETECOLLECTION"
            cluster.requests.append(f"{verb} {res}{'/log' if match['log'] else ''}")
            if method == "GET" and match["log"]:
                self._stream(cluster.log(ns, name, query), "text/plain")
            elif method == "GET" and name:
                self._send(200, cluster.get(res, ns, name))
            elif method == "GET" and query.get("watch") in ("true", "1"):
                events = cluster.watch(
                    res,
                    ns,
                    query.get("labelSelector", ""),
                    query.get("resourceVersion"),
                    float(query.get("timeoutSeconds") or 60),
                )
                self._stream((json.dumps(e).encode() + b"\n" for e in events), "application/json")
            elif method == "GET":
                self._send(200, cluster.list(res, ns, query.get("labelSelector", "")))
            elif method == "POST" and not name:
                self._send(201, cluster.create(res, ns, self._body()))
            elif method == "PATCH" and name:
                kind = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if kind not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                    # JSON patch (a list of operations) and server-side apply: not implemented
                    raise ApiError(
                        415,
                        "UnsupportedMediaType",
                        f"the body of the request was in an unknown format: {kind}",
                    )
                self._send(200, cluster.patch(res, ns, name, self._body()))
            elif method == "DELETE" and name:
                options = self._body()
                self._send(
                    200,
                    cluster.delete(
                        res, ns, name, options.get("propagationPolicy") or query.get("propagationPolicy")
                    ),
                )
            elif method == "DELETE":
                options = self._body()
                policy = options.get("propagationPolicy") or query.get("propagationPolicy")
                listed = cluster.list(res, ns, query.get("labelSelector", ""))
                for item in listed["items"]:
                    with contextlib.suppress(ApiError):
                        cluster.delete(res, ns, item["metadata"]["name"], policy)
                self._send(200, listed)
            else:
                raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed here")
        except ApiError as error:
            self._send(error.code, error.status())

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    cluster: Cluster
    connections: set[socket.socket]


class KubeAPI:
    """The server, on 127.0.0.1 at a free port, serving in a thread until :meth:`stop`."""

    def __init__(self, root: Path | None = None) -> None:
        self._folder = None if root is not None else tempfile.TemporaryDirectory(prefix="kubeapi-")
        self.cluster = Cluster(root or Path(self._folder.name))  # type: ignore[union-attr]
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.cluster = self.cluster
        self._server.connections = set()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close every connection (as a server that went away), then
        kill what the kubelet still runs."""
        self._server.shutdown()
        self._server.server_close()
        for connection in list(self._server.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.cluster.drop_watches()
        with self.cluster.lock:
            processes = list(self.cluster.processes.values())
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        if self._folder is not None:
            self._folder.cleanup()
