"""The Kubernetes executor (``--executor kubernetes``): every job attempt is one ``batch/v1``
Job in the cluster that the kubeconfig (or the pod's service account) names.

The manifests are :mod:`.convert`'s (pure, schema-checked in the tests); this module sends
them and follows what comes of them:

- setup: the run's workspace, a ReadWriteMany PersistentVolumeClaim;
- start: the attempt's Secret (its secret variables), its Job, then the Secret given to
  the Job (``ownerReferences``) so that the garbage collector removes it with the Job;
- logs: the pods of the Job are watched until its container runs, then its log followed;
- wait: the pod is watched (list, then watch; on 410 Gone, listed again) until the
  container ends: its exit code, ``OOMKilled``, and the termination message (the job's
  ``CO_OUTPUT`` file) come from its status; an image that cannot be pulled, or a Job
  that failed on its own (its deadline), ends the wait with why;
- destroy: the Job is deleted with foreground propagation (its pod, then it) and waited
  for; teardown deletes what is left of the run by its labels, and its workspace.

The client is synchronous: short calls run in the executor's own threads, the watches
and log streams in threads of their own, each of which looks at a stop flag at least
every :data:`~.client.WATCH_SECONDS` seconds, so that a cancelled job leaves none for long.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import urllib3
from kubernetes import client as k8s

from containerops.executors.base import (
    LABEL_RUN,
    Executor,
    ExecutorError,
    ExitStatus,
    JobHandle,
    JobSpec,
    LogLine,
    RunContext,
    after_lines,
    lines_of,
)
from containerops.executors.kubernetes.cleanup import stop_run
from containerops.executors.kubernetes.client import (
    Api,
    ApiError,
    Manifest,
    connect,
    explained,
    follow,
    list_objects,
    path,
)
from containerops.executors.kubernetes.convert import (
    CONTAINER,
    Placement,
    claim_manifest,
    claim_name,
    container_status,
    exit_status,
    job_failure,
    job_manifest,
    job_name,
    label_value,
    output_message,
    owner_reference,
    secret_manifest,
    secret_name,
    secret_variables,
    stuck,
    terminated,
    unschedulable,
)
from containerops.executors.kubernetes.logs import READ_SIZE, Put, StampedLines, from_thread, in_thread
from containerops.executors.kubernetes.settings import Settings
from containerops.home import coops_home
from containerops.timestamps import utcnow

__all__ = ["KubernetesExecutor", "KubernetesJobHandle", "Settings", "stop_run"]

T = TypeVar("T")

#: The label the Job controller gives a Job's pods: the Job's uid, so no other Job's pod matches.
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
#: Threads for the short calls: enough for the widest fan-out to start (or stop) at once.
CALL_THREADS = 32
#: The patch type that merges into an object (its lists by their keys, as ownerReferences by uid).
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
#: How long destroy waits for a deleted Job (and so its pod) to be gone.
DESTROY_WAIT_SECONDS = 60.0


class KubernetesJobHandle(JobHandle):
    """A started attempt: its Job (name, namespace, uid) and, once seen, how its container ended."""

    def __init__(self, spec: JobSpec, name: str, namespace: str, uid: str, secret: str | None) -> None:
        super().__init__(spec)
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.secret = secret
        #: Lines of the log already stored (an adopted attempt's): not read again.
        self.skip = 0
        #: The container's ``terminated`` state once the wait has seen it.
        self.ended: Manifest | None = None
        self._stream: Any = None
        self._lock = threading.Lock()

    @property
    def selector(self) -> str:
        return f"{CONTROLLER_UID}={self.uid}"

    def streaming(self, response: Any) -> None:
        with self._lock:
            self._stream = response

    def end_stream(self) -> None:
        """Shut the followed log stream, so that a reader blocked on it returns."""
        with self._lock:
            response, self._stream = self._stream, None
        if response is not None:
            try:
                response.shutdown()
            except (AttributeError, OSError, RuntimeError, ValueError):  # released already, or an old urllib3
                response.close()

    def __repr__(self) -> str:
        return f"KubernetesJobHandle({self.namespace}/{self.name})"


def kubernetes_handle(handle: JobHandle) -> KubernetesJobHandle:
    if not isinstance(handle, KubernetesJobHandle):
        raise ExecutorError(f"not a kubernetes job handle: {handle!r}")
    return handle


class KubernetesExecutor(Executor):
    """Runs each job attempt as a Kubernetes Job."""

    name = "kubernetes"
    #: A job's Kubernetes Job runs on without the coops that made it: another can follow it.
    adopts = True

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        api: k8s.ApiClient | None = None,
        namespace: str = "default",
    ) -> None:
        """``api``: a client made elsewhere (tests), with ``namespace`` its default one;
        without it the kubeconfig or service account is read at first use."""
        self.settings = settings or Settings.from_environment()
        self._api = api
        self._configured = namespace
        self._lock = threading.Lock()
        self._runs: dict[str, Placement] = {}
        self._threads: ThreadPoolExecutor | None = None

    # --- lifecycle ---------------------------------------------------------------------

    async def setup(self, run: RunContext) -> None:
        """Connect now (a cluster out of reach fails the run before any job) and make the
        run's workspace claim."""
        self._runs[run.run_id] = await self._call(self._setup, run)

    async def start(self, spec: JobSpec) -> JobHandle:
        return await self._call(self._start, spec)

    def logs(self, handle: JobHandle) -> AsyncIterator[LogLine]:
        return lines_of(self.log_batches(handle))

    def log_batches(self, handle: JobHandle) -> AsyncIterator[list[LogLine]]:
        job = kubernetes_handle(handle)
        work = functools.partial(self._read_logs, job)
        batches = from_thread(work, f"coops-k8s-logs-{job.name}", job.end_stream)
        return after_lines(batches, job.skip) if job.skip else batches

    async def adopt(self, spec: JobSpec, stored: Sequence[str]) -> JobHandle | None:
        """The attempt's Job (its name is the run's, the job's and the attempt's), running
        or ended, its log read on after the ``stored`` lines; None when it is gone."""
        job = await self._call(self._find, spec)
        if job is not None:
            job.skip = len(stored)
        return job

    async def wait(self, handle: JobHandle) -> ExitStatus:
        job = kubernetes_handle(handle)
        stop = threading.Event()
        try:
            return await in_thread(functools.partial(self._wait, job, stop), f"coops-k8s-wait-{job.name}")
        except asyncio.CancelledError:
            stop.set()
            raise

    async def output_file(self, handle: JobHandle) -> bytes | None:
        ended = kubernetes_handle(handle).ended
        return None if ended is None else output_message(ended)

    async def destroy(self, handle: JobHandle) -> None:
        job = kubernetes_handle(handle)
        job.end_stream()
        await self._call(self._destroy, job)

    async def teardown(self, run: RunContext) -> None:
        placement = self._runs.pop(run.run_id, None)
        if placement is not None:
            await self._call(self._teardown, run, placement)

    def workspace(self, run: RunContext) -> str | None:
        placement = self._runs.get(run.run_id)
        if placement is None or placement.workspace_claim is None:
            return None
        return f"PersistentVolumeClaim {placement.workspace_claim} in namespace {placement.namespace}"

    def close(self) -> None:
        """Let the call threads go (the next call starts them again)."""
        with self._lock:
            threads, self._threads = self._threads, None
        if threads is not None:
            threads.shutdown(wait=False)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """A short blocking call of the client, in the executor's own threads."""
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(CALL_THREADS, thread_name_prefix="coops-k8s")
            threads = self._threads
        return await asyncio.get_running_loop().run_in_executor(threads, functools.partial(fn, *args))

    # --- blocking parts (threads) -------------------------------------------------------

    def _client(self) -> Api:
        with self._lock:
            if self._api is None:
                self._api, self._configured = connect()
            return Api(self._api)

    def _placement(self, run_id: str, flow_uri: str = "") -> Placement:
        self._client()
        return Placement(
            namespace=self.settings.namespace_for(flow_uri, self._configured),
            home=str(coops_home().resolve()),
            pull_secret=self.settings.pull_secret,
            ttl_seconds=self.settings.ttl_seconds,
        )

    def _setup(self, run: RunContext) -> Placement:
        api = self._client()
        bare = self._placement(run.run_id, run.flow_uri)
        claim = claim_manifest(
            run.run_id, bare, storage_class=self.settings.storage_class, size=self.settings.workspace_size
        )
        try:
            api.call("POST", path("persistentvolumeclaims", bare.namespace), body=claim)
        except ApiError as exc:
            if exc.status != 409:  # 409: made by an earlier engine of the same run, kept
                raise ExecutorError(
                    f"cannot create the run's workspace claim in namespace {bare.namespace}: {exc}"
                ) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise ExecutorError(f"cannot reach the Kubernetes API server: {exc}") from exc
        return Placement(
            bare.namespace, bare.home, claim_name(run.run_id), bare.pull_secret, bare.ttl_seconds
        )

    def _start(self, spec: JobSpec) -> KubernetesJobHandle:
        api = self._client()
        if not spec.image:
            raise ExecutorError("the kubernetes executor needs an image for every job")
        placement = self._runs.get(spec.run_id) or self._placement(spec.run_id)
        namespace = placement.namespace
        try:
            secret = secret_manifest(spec, placement)
        except ValueError as exc:
            raise ExecutorError(f"job {spec.path}: {exc}") from exc
        manifest = job_manifest(spec, placement, image=spec.image)
        name = manifest["metadata"]["name"]
        with explained(f"cannot create the Kubernetes Job of job {spec.path}"):
            if secret is not None:
                _create_anew(api, "secrets", namespace, secret)
            job = _create_anew(api, "jobs", namespace, manifest)
            if secret is not None:
                owned = {"metadata": {"ownerReferences": [owner_reference(job)]}}
                api.call("PATCH", path("secrets", namespace, name), body=owned, content_type=STRATEGIC_MERGE)
        uid = str(job["metadata"]["uid"])
        return KubernetesJobHandle(spec, name, namespace, uid, None if secret is None else name)

    def _find(self, spec: JobSpec) -> KubernetesJobHandle | None:
        api = self._client()
        namespace = (self._runs.get(spec.run_id) or self._placement(spec.run_id)).namespace
        name = job_name(spec)
        with explained(f"cannot look for the Kubernetes Job of job {spec.path}"):
            try:
                found = api.call("GET", path("jobs", namespace, name))
            except ApiError as exc:
                if exc.status == 404:
                    return None
                raise
        if "deletionTimestamp" in found["metadata"]:
            return None  # on its way out: gone for this purpose
        secret = secret_name(spec) if secret_variables(spec) else None
        return KubernetesJobHandle(spec, name, namespace, str(found["metadata"]["uid"]), secret)

    def _pods(self, job: KubernetesJobHandle, stop: Callable[[], bool]) -> Iterator[tuple[str, Manifest]]:
        """The events of the Job's pod (``TICK`` after a listing and between watches): a Job
        that failed without its container's end to tell (its deadline passed before the
        container ran) or that vanished ends them with why."""
        api = self._client()
        for kind, pod in follow(api, "pods", job.namespace, job.selector, stop):
            if kind in ("TICK", "DELETED"):
                failure = self._job_failure(api, job)
                if failure is not None:
                    # The container may have ended meanwhile: its end says more than the Job.
                    items, _ = list_objects(api, "pods", job.namespace, job.selector)
                    ended = [p for p in items if terminated(p) and "deletionTimestamp" not in p["metadata"]]
                    if not ended:
                        raise ExecutorError(failure)
                    yield "MODIFIED", ended[0]
                    return
            yield kind, pod

    def _job_failure(self, api: Api, job: KubernetesJobHandle) -> str | None:
        """Why the Job failed, None while it has not (raises if it is gone)."""
        try:
            current = api.call("GET", path("jobs", job.namespace, job.name))
        except ApiError as exc:
            if exc.status == 404:
                raise ExecutorError(f"the Kubernetes Job of job {job.spec.path} was deleted") from exc
            raise
        return job_failure(current, job.spec.timeout)

    def _running_pod(self, job: KubernetesJobHandle, stop: threading.Event, put: Put) -> str | None:
        """The name of the Job's pod once its container has started (or ended). While no
        node can take it, the job's log says what the scheduler says (once per message):
        it waits, as Kubernetes does, for a node to come (autoscaling, a label, a drain's end)."""
        said = None
        for kind, pod in self._pods(job, stop.is_set):
            if kind in ("ADDED", "MODIFIED"):
                state = (container_status(pod) or {}).get("state") or {}
                if state.get("running") or state.get("terminated"):
                    return str(pod["metadata"]["name"])
                why = stuck(pod)
                if why is not None:
                    raise ExecutorError(why)
                waiting = unschedulable(pod)
                if waiting is not None and waiting != said:
                    put([LogLine("stderr", f"[coops] waiting for a node: {waiting}", utcnow())])
                    said = waiting
        return None

    def _read_logs(self, job: KubernetesJobHandle, put: Put, stop: threading.Event) -> None:
        with explained(f"reading the log of job {job.spec.path}"):
            self._follow_log(job, put, stop)

    def _follow_log(self, job: KubernetesJobHandle, put: Put, stop: threading.Event) -> None:
        pod = self._running_pod(job, stop, put)
        if pod is None:
            return
        api = self._client()
        lines = StampedLines()
        while not stop.is_set():
            query = [("container", CONTAINER), ("follow", "true"), ("timestamps", "true")]
            if lines.last is not None:
                query.append(("sinceSeconds", str(max(1, int((utcnow() - lines.last).total_seconds()) + 2))))
            try:
                response = api.open("GET", path("pods", job.namespace, pod, "log"), query=query)
            except ApiError as exc:
                if exc.status == 404:
                    return  # the pod is gone (deleted): nothing more to read
                raise ExecutorError(f"cannot read the log of job {job.spec.path}: {exc}") from exc
            job.streaming(response)
            try:
                for block in response.stream(READ_SIZE, decode_content=True):
                    batch = lines.feed(block, utcnow())
                    if batch:
                        put(batch)
            except (urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError, OSError):
                pass  # cut off: read on from where it was, below
            finally:
                response.release_conn()
            batch = lines.close(utcnow())
            if batch:
                put(batch)
            if stop.is_set() or self._container_ended(api, job, pod):
                return
            lines = StampedLines(after=lines.last)

    def _container_ended(self, api: Api, job: KubernetesJobHandle, pod: str) -> bool:
        try:
            current = api.call("GET", path("pods", job.namespace, pod))
        except ApiError as exc:
            if exc.status == 404:
                return True
            raise
        return terminated(current) is not None or (current.get("status") or {}).get("phase") in (
            "Succeeded",
            "Failed",
        )

    def _wait(self, job: KubernetesJobHandle, stop: threading.Event) -> ExitStatus:
        with explained(f"waiting for job {job.spec.path}"):
            return self._watch_end(job, stop)

    def _watch_end(self, job: KubernetesJobHandle, stop: threading.Event) -> ExitStatus:
        api = self._client()
        for kind, pod in self._pods(job, stop.is_set):
            if kind not in ("ADDED", "MODIFIED"):
                continue
            state = terminated(pod)
            if state is not None:
                if "deletionTimestamp" in (pod.get("metadata") or {}):
                    # Killed by a deletion: by the Job's deadline, which the Job then says.
                    failure = self._job_failure(api, job)
                    if failure is not None:
                        raise ExecutorError(failure)
                job.ended = state
                return exit_status(state, job.spec.memory)
            why = stuck(pod)
            if why is not None:
                raise ExecutorError(why)
            status = pod.get("status") or {}
            if status.get("phase") == "Failed":
                said = ": ".join(part for part in (status.get("reason"), status.get("message")) if part)
                raise ExecutorError(f"the pod of job {job.spec.path} failed: {said or 'no reason given'}")
        raise ExecutorError("wait cancelled")

    def _destroy(self, job: KubernetesJobHandle) -> None:
        api = self._client()
        with explained(f"cannot delete the Kubernetes Job {job.name}"):
            _gone(api, "jobs", job.namespace, job.name)
            if job.secret is not None:  # the garbage collector removes it too: not a moment later
                _gone(api, "secrets", job.namespace, job.secret)
            _await_gone(api, "jobs", job.namespace, job.name)

    def _teardown(self, run: RunContext, placement: Placement) -> None:
        api = self._client()
        selected = [("labelSelector", f"{LABEL_RUN}={label_value(run.run_id)}")]
        namespace = placement.namespace
        with explained("cannot remove the run's Kubernetes objects"):
            api.call(
                "DELETE", path("jobs", namespace), query=[*selected, ("propagationPolicy", "Foreground")]
            )
            api.call("DELETE", path("secrets", namespace), query=selected)
            if not run.keep_workspace and placement.workspace_claim is not None:
                _gone(api, "persistentvolumeclaims", namespace, placement.workspace_claim)


def _create_anew(api: Api, resource: str, namespace: str, body: Manifest) -> Manifest:
    """Create ``body``; one of the same name left by an earlier engine of the same attempt
    (the name is the run's, the job's and the attempt's) is deleted and waited for first."""
    try:
        return api.call("POST", path(resource, namespace), body=body)
    except ApiError as exc:
        if exc.status != 409:
            raise
    name = body["metadata"]["name"]
    _gone(api, resource, namespace, name)
    _await_gone(api, resource, namespace, name)
    return api.call("POST", path(resource, namespace), body=body)


def _gone(api: Api, resource: str, namespace: str, name: str) -> None:
    """Delete ``name`` (what it owns first: foreground propagation); already gone is fine."""
    try:
        api.call("DELETE", path(resource, namespace, name), body={"propagationPolicy": "Foreground"})
    except ApiError as exc:
        if exc.status != 404:
            raise


def _await_gone(api: Api, resource: str, namespace: str, name: str) -> None:
    """Wait (at most :data:`DESTROY_WAIT_SECONDS`) until ``name`` no longer exists."""
    deadline = time.monotonic() + DESTROY_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            api.call("GET", path(resource, namespace, name))
        except ApiError as exc:
            if exc.status == 404:
                return
            raise
        time.sleep(0.2)
