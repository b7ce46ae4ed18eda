"""The Docker executor: every job attempt is one container on the local Docker Engine.

The Docker SDK is synchronous. Short calls (create, start, inspect, remove) run
through ``asyncio.to_thread``; the two calls that block for a job's whole life (the
log stream and the wait) run in threads of their own, so that many parallel jobs
never exhaust the event loop's small default thread pool (6 threads on 2 cores),
which the rest of the engine needs too. Those long calls are written so that a
cancelled engine task leaves no thread blocked for ever: the log stream's socket is
shut down, and the wait polls with a timeout and looks at a cancellation flag.

Containers are not auto-removed: the engine reads every log line and the exit state
first, then calls :meth:`DockerExecutor.destroy`.

The jobs of a run share a workspace, the Docker volume ``coops-workspace-<run>``
(labelled like the run's containers), mounted at ``/workspace`` in each of them.
A new volume's root belongs to root, and our jobs run as uid 1000: at setup a
container that is created but never started mounts the volume over the busybox
base image's ``/home/coops`` (empty, owned by uid 1000), and Docker's copy-up
gives the empty volume that folder's owner and mode, at the cost of a create
(the remove goes on in the background) instead of running a ``chown``
container. Job containers mount it with ``nocopy`` so that no image's own
``/workspace`` changes it afterwards.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection
from concurrent.futures import Future
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions
from docker.types import Mount

from containerops.executors.base import (
    LABEL_ATTEMPT,
    LABEL_HOME,
    LABEL_JOB,
    LABEL_MANAGED,
    LABEL_RUN,
    WORKSPACE_PATH,
    Executor,
    ExecutorError,
    ExitStatus,
    JobHandle,
    JobSpec,
    LogLine,
    RunContext,
)
from containerops.executors.docker.client import connect
from containerops.executors.docker.convert import container_config, container_name, workspace_volume
from containerops.executors.docker.logs import READ_SIZE, ChunkedBody, parse_timestamp, pump
from containerops.home import coops_home

__all__ = [
    "DockerExecutor",
    "DockerJobHandle",
    "cleanup_all",
    "container_name",
    "home_label",
    "human_size",
    "workspace_volume",
]

T = TypeVar("T")

#: Seconds one wait request may block before it looks again at the cancellation flag.
WAIT_POLL_SECONDS = 5.0
#: Log batches (one per read from the Engine) that may wait for the consumer; past
#: that the reader thread stops reading, so a slow consumer never makes memory grow.
LOG_QUEUE_BATCHES = 64
#: What the SDK raises when the Engine refuses or cannot be reached.
_ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)
#: Seconds a followed log stream may stay silent after its container exited before
#: the executor stops waiting for the Engine to end it (see ``_LogFollower``).
LOG_IDLE_AFTER_EXIT = 0.1
#: How long the final log read waits for the container to stop after its stream ended.
CATCH_UP_WAIT_SECONDS = 10.0
#: How long destroy waits for a removal that another caller started.
REMOVAL_WAIT_SECONDS = 30.0
#: The image and folder whose owner and mode a new workspace takes (see the module doc).
WORKSPACE_SEED_IMAGE = "containerops/base:busybox"
WORKSPACE_SEED_FOLDER = "/home/coops"


class DockerJobHandle(JobHandle):
    """A started job: its spec and its container."""

    def __init__(self, spec: JobSpec, container_id: str, name: str) -> None:
        super().__init__(spec)
        self.container_id = container_id
        self.name = name

    def __repr__(self) -> str:
        return f"DockerJobHandle({self.name!r}, {self.container_id[:12]})"


class DockerExecutor(Executor):
    """Runs each job in a container, unprivileged and with the spec's limits."""

    name = "docker"

    def __init__(self, network_mode: str | None = None) -> None:
        #: The network mode of every job container (``--network``, COOPS_DOCKER_NETWORK).
        self.network_mode = network_mode or os.environ.get("COOPS_DOCKER_NETWORK") or "bridge"
        self._client: docker.DockerClient | None = None
        self._connect_lock = threading.Lock()
        #: run id -> the run's workspace volume
        self._workspaces: dict[str, str] = {}

    # --- lifecycle ---------------------------------------------------------------------

    async def setup(self, run: RunContext) -> None:
        """Connect now, so that a stopped Engine fails the run before any job starts;
        create the run's workspace."""
        await asyncio.to_thread(self._api)
        self._workspaces[run.run_id] = await asyncio.to_thread(self._create_workspace, run.run_id)

    async def start(self, spec: JobSpec) -> JobHandle:
        future = asyncio.ensure_future(asyncio.to_thread(self._start, spec))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The container may still be created after we were cancelled; nobody
            # would hold its handle, so remove it as soon as it exists.
            future.add_done_callback(self._discard_late_start)
            raise

    def logs(self, handle: JobHandle) -> AsyncIterator[LogLine]:
        return self._logs(_docker_handle(handle))

    async def wait(self, handle: JobHandle) -> ExitStatus:
        job = _docker_handle(handle)
        cancelled = threading.Event()
        try:
            return await _in_own_thread(f"coops-wait-{job.name}", self._wait, job, cancelled)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def destroy(self, handle: JobHandle) -> None:
        container_id = _docker_handle(handle).container_id
        await asyncio.to_thread(lambda: _remove(self._api(), container_id))

    async def teardown(self, run: RunContext) -> None:
        await asyncio.to_thread(lambda: _remove_labelled(self._api(), f"{LABEL_RUN}={run.run_id}"))
        if run.keep_workspace:
            return
        volume = self._workspaces.pop(run.run_id, None)
        if volume is not None:
            await asyncio.to_thread(_remove_volume, self._api(), volume)

    def workspace(self, run: RunContext) -> str | None:
        volume = self._workspaces.get(run.run_id)
        if volume is None:
            return None
        return f"docker volume {volume} (use it with: docker run -v {volume}:{WORKSPACE_PATH} ...)"

    def close(self) -> None:
        """Close the connection pool (the next call reconnects)."""
        with self._connect_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # --- blocking parts (worker threads) ----------------------------------------------

    def _api(self) -> Any:
        """The low-level API client, connecting on first use (raises ExecutorError)."""
        with self._connect_lock:
            if self._client is None:
                self._client = connect()
            return self._client.api

    def _create_workspace(self, run_id: str) -> str:
        """The run's workspace volume, owned by uid 1000 (see the module doc)."""
        api = self._api()
        volume = workspace_volume(run_id)
        labels = {LABEL_MANAGED: "true", LABEL_RUN: run_id, LABEL_HOME: home_label()}
        try:
            api.create_volume(name=volume, labels=labels)
            seed = api.create_container(
                WORKSPACE_SEED_IMAGE,
                command=["true"],
                labels=labels,
                host_config=api.create_host_config(
                    mounts=[Mount(WORKSPACE_SEED_FOLDER, volume, type="volume")], network_mode="none"
                ),
            )
        except docker.errors.ImageNotFound as exc:
            _remove_volume(api, volume)
            raise ExecutorError(
                f"the run's workspace needs {WORKSPACE_SEED_IMAGE}: build it with `coops images build-base`"
            ) from exc
        except docker.errors.APIError as exc:
            _remove_volume(api, volume)
            raise ExecutorError(f"cannot create the run's workspace {volume}: {_explain(exc)}") from exc
        # The copy-up is done once the container exists: its removal need not hold up the
        # run (teardown removes it too, by the run's label, if it is still there).
        threading.Thread(target=_remove_quietly, args=(api, str(seed["Id"])), daemon=True).start()
        return volume

    def _start(self, spec: JobSpec) -> DockerJobHandle:
        api = self._api()
        config = container_config(
            spec,
            image=self._ensure_image(spec.image),
            workspace=self._workspaces.get(spec.run_id),
            network_mode=self.network_mode,
            home=home_label(),
        )
        image, name, labels = config.image, config.name, config.labels
        host_config = api.create_host_config(**config.host)

        def create() -> str:
            created = api.create_container(
                image,
                command=config.command,
                name=name,
                environment=config.environment,
                labels=labels,
                host_config=host_config,
                stdin_open=False,
                tty=False,
            )
            return str(created["Id"])

        try:
            try:
                container_id = create()
            except docker.errors.APIError as exc:
                if exc.status_code != 409 or not self._remove_stale(name, labels):
                    raise
                container_id = create()  # a leftover of the same attempt was in the way
        except docker.errors.APIError as exc:
            raise ExecutorError(f"cannot create the container of job {spec.path}: {_explain(exc)}") from exc
        try:
            api.start(container_id)
        except docker.errors.APIError as exc:
            _remove(api, container_id)
            raise ExecutorError(f"cannot start job {spec.path} in {image}: {_explain(exc)}") from exc
        return DockerJobHandle(spec, container_id, name)

    def _ensure_image(self, image: str | None) -> str:
        """The image must be local; pull only from an explicitly named registry."""
        if not image:
            raise ExecutorError("the docker executor needs an image for every job")
        api = self._api()
        try:
            api.inspect_image(image)
            return image
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            raise ExecutorError(f"invalid image {image!r}: {_explain(exc)}") from exc
        if not _names_registry(image):
            raise ExecutorError(
                f"image {image} not found locally; build it (coops images build-base) or pull it"
            )
        try:
            repository, tag = _split_reference(image)
            api.pull(repository, tag=tag)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            why = _explain(exc)
            raise ExecutorError(f"image {image} not found locally and pulling it failed: {why}") from exc
        return image

    def _remove_stale(self, name: str, labels: dict[str, str]) -> bool:
        """Remove the container called ``name`` if it is ours and of the same attempt."""
        api = self._api()
        try:
            theirs = (api.inspect_container(name).get("Config") or {}).get("Labels") or {}
        except docker.errors.NotFound:
            return True
        keys = (LABEL_MANAGED, LABEL_RUN, LABEL_JOB, LABEL_ATTEMPT)
        same = all(theirs.get(key) == labels[key] for key in keys)
        if same:
            _remove(api, name)
        return same

    def _discard_late_start(self, future: asyncio.Future[DockerJobHandle]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        container_id = future.result().container_id
        threading.Thread(target=_remove_quietly, args=(self._api(), container_id), daemon=True).start()

    def _wait(self, job: DockerJobHandle, cancelled: threading.Event) -> ExitStatus:
        api = self._api()
        while True:
            try:
                api.wait(job.container_id, timeout=WAIT_POLL_SECONDS)
                break
            except docker.errors.NotFound as exc:
                raise ExecutorError(f"the container of job {job.spec.path} disappeared") from exc
            except requests.exceptions.RequestException as exc:
                if cancelled.is_set():
                    raise ExecutorError("wait cancelled") from exc
                if not _timed_out(exc):
                    why = f"lost the Docker Engine while job {job.spec.path} ran: {exc}"
                    raise ExecutorError(why) from exc
        try:
            state = api.inspect_container(job.container_id)["State"]
        except docker.errors.NotFound as exc:
            raise ExecutorError(f"the container of job {job.spec.path} disappeared") from exc
        oom = bool(state.get("OOMKilled"))
        reason = None
        if oom:
            limit = job.spec.memory
            reason = f"out of memory (limit {human_size(limit)})" if limit else "out of memory"
        return ExitStatus(exit_code=int(state.get("ExitCode", -1)), oom_killed=oom, reason=reason)

    # --- logs --------------------------------------------------------------------------

    async def _logs(self, job: DockerJobHandle) -> AsyncIterator[LogLine]:
        """Run :func:`pump` in a thread and hand its batches over through a bounded queue.

        Lines cross threads in batches (one per read), so a job printing hundreds of
        thousands of lines costs one loop wake-up per read of up to 256 KiB, not one
        per line.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[list[LogLine] | BaseException | None] = asyncio.Queue()
        credits = threading.BoundedSemaphore(LOG_QUEUE_BATCHES)
        stop = threading.Event()
        opening = asyncio.ensure_future(asyncio.to_thread(self._open_log_stream, job))
        try:
            response = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # An opened stream nobody reads would stay open as long as the container runs.
            opening.add_done_callback(_close_opened_stream)
            raise

        def put(item: list[LogLine] | BaseException | None) -> bool:
            while not credits.acquire(timeout=0.5):
                if stop.is_set():
                    return False
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is closed: nobody listens
                return False
            return True

        follower = _LogFollower(self, job, response, put, stop)
        follower.start()
        try:
            while True:
                item = await queue.get()
                credits.release()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                for line in item:
                    yield line
        finally:
            stop.set()
            _shutdown(response)
            follower.ended.set()

    def _open_log_stream(self, job: DockerJobHandle, since: str | None = None) -> Any:
        """Start ``GET /containers/{id}/logs`` (both streams, timestamped; followed
        unless ``since`` is given).

        The SDK's own ``logs()`` would drop the stream id of each frame (or need one
        connection per stream, losing their order) and read frame by frame; this uses
        the same request helpers but returns the raw response to be read in large blocks.
        """
        api = self._api()
        params: dict[str, str | int] = {"stdout": 1, "stderr": 1, "timestamps": 1, "tail": "all"}
        if since is None:
            params["follow"] = 1
        else:
            params["since"] = since
        url = api._url("/containers/{0}/logs", job.container_id)
        try:
            response = api._get(url, params=params, stream=since is None, timeout=None)
            api._raise_for_status(response)
        except docker.errors.NotFound as exc:
            raise ExecutorError(f"the container of job {job.spec.path} disappeared") from exc
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise ExecutorError(f"cannot read the logs of job {job.spec.path}: {_explain(exc)}") from exc
        return response

    def _catch_up(self, job: DockerJobHandle, newest: bytes) -> bytes:
        """The entries from timestamp ``newest`` on, read once the container has stopped.

        Docker 20.10 may end a followed log stream before its last entry; by the time
        the container is no longer running, its logger is closed and every entry is in
        the log file, so an unfollowed read finds it (see :mod:`.logs`).
        """
        api = self._api()
        with contextlib.suppress(*_ENGINE_ERRORS):
            api.wait(job.container_id, timeout=CATCH_UP_WAIT_SECONDS)
        since = None
        if newest:
            try:
                moment = parse_timestamp(newest)
            except ValueError:
                return b""
            since = f"{calendar.timegm(moment.timetuple())}.{moment.microsecond * 1000:09d}"
        try:
            return bytes(self._open_log_stream(job, since=since or "0").content)
        except (ExecutorError, *_ENGINE_ERRORS):
            return b""  # the container is gone: what was read is all there is


class _LogFollower:
    """The threads behind one ``logs()`` call: a reader, and a watcher that ends a
    followed stream the Engine forgets to end.

    Docker 20.10 sometimes keeps a followed log stream open after the container has
    exited (always, it seems, when the container exits as the request arrives; about
    one job in ten otherwise), and sometimes ends it before the last entry. The watcher
    waits for the container to stop; once the reader has then waited for data for
    :data:`LOG_IDLE_AFTER_EXIT` seconds it shuts the socket down. Either way the reader
    finishes with an unfollowed catch-up read, so no line is lost or repeated; cutting
    too early costs only a larger catch-up read, which is why the delay can be short.
    """

    def __init__(
        self,
        executor: DockerExecutor,
        job: DockerJobHandle,
        response: Any,
        put: Callable[[list[LogLine] | BaseException | None], bool],
        stop: threading.Event,
    ) -> None:
        self._executor = executor
        self._job = job
        self._response = response
        self._body = _body_reader(response)
        self._put = put
        self._stop = stop
        self._cut = threading.Event()
        #: Set when the reader is done (or the consumer left): the watcher may stop.
        self.ended = threading.Event()
        #: When the reader entered its current blocking read (None: not reading).
        self._reading_since: float | None = None

    def start(self) -> None:
        name = self._job.name
        threading.Thread(target=self._read_all, name=f"coops-logs-{name}", daemon=True).start()
        threading.Thread(target=self._watch, name=f"coops-logwatch-{name}", daemon=True).start()

    def _read(self) -> bytes:
        self._reading_since = time.monotonic()
        try:
            return self._body()
        except Exception:
            if self._cut.is_set() or self._stop.is_set():
                return b""
            raise
        finally:
            self._reading_since = None

    def _read_all(self) -> None:
        job, stop = self._job, self._stop
        try:
            pump(self._read, self._put, stop, lambda newest: self._executor._catch_up(job, newest))
        except Exception as exc:
            if not stop.is_set():
                self._put(ExecutorError(f"reading the logs of job {job.spec.path} failed: {exc}"))
        finally:
            self.ended.set()
            self._response.close()
            if not stop.is_set():
                self._put(None)

    def _watch(self) -> None:
        api = self._executor._api()
        while not self.ended.is_set():
            try:
                api.wait(self._job.container_id, timeout=WAIT_POLL_SECONDS)
                break
            except docker.errors.NotFound:
                break
            except _ENGINE_ERRORS:
                if not self.ended.wait(0.5):
                    continue
        while not self.ended.wait(LOG_IDLE_AFTER_EXIT / 4):
            since = self._reading_since  # a reader held up by a slow consumer is not idle
            if since is not None and time.monotonic() - since > LOG_IDLE_AFTER_EXIT:
                self._cut.set()
                _shutdown(self._response)
                return


# --- module helpers --------------------------------------------------------------------


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
                _remove(client.api, container["Id"])
                removed += 1
        for volume in client.api.volumes(filters={"label": labels}).get("Volumes") or []:
            if (volume.get("Labels") or {}).get(LABEL_RUN) not in keep:
                _remove_volume(client.api, volume["Name"])
        return removed
    finally:
        client.close()


def stop_run(run_id: str) -> int:
    """Remove the containers and workspace volume of run ``run_id``; how many containers."""
    client = connect()
    try:
        removed = _remove_labelled(client.api, f"{LABEL_RUN}={run_id}")
        _remove_volume(client.api, workspace_volume(run_id))
        return removed
    finally:
        client.close()


def _remove_volume(api: Any, volume: str) -> None:
    """Remove a workspace volume; gone already is fine."""
    try:
        api.remove_volume(volume, force=True)
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as exc:
        raise ExecutorError(f"cannot remove the workspace {volume}: {_explain(exc)}") from exc


def human_size(size: int) -> str:
    """``33554432`` -> ``32 MiB``; for the out-of-memory reason shown to users."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _docker_handle(handle: JobHandle) -> DockerJobHandle:
    if not isinstance(handle, DockerJobHandle):
        raise ExecutorError(f"not a docker job handle: {handle!r}")
    return handle


def _remove(api: Any, container: str) -> None:
    """Kill and remove ``container`` with its anonymous volumes; gone already is fine."""
    try:
        api.remove_container(container, v=True, force=True)
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as exc:
        if exc.status_code != 409 or "in progress" not in _explain(exc):
            raise ExecutorError(f"cannot remove container {container[:12]}: {_explain(exc)}") from exc
        # Someone else (teardown, a second destroy) is removing it: wait until it is gone,
        # so that "destroyed" always means "no container left".
        deadline = time.monotonic() + REMOVAL_WAIT_SECONDS
        while time.monotonic() < deadline:
            try:
                api.inspect_container(container)
            except docker.errors.NotFound:
                return
            time.sleep(0.1)


def _remove_quietly(api: Any, container: str) -> None:
    with contextlib.suppress(ExecutorError, *_ENGINE_ERRORS):
        _remove(api, container)


def _remove_labelled(api: Any, label: str | list[str]) -> int:
    removed = 0
    for container in api.containers(all=True, filters={"label": label}):
        _remove(api, container["Id"])
        removed += 1
    return removed


def _body_reader(response: Any) -> Callable[[], bytes]:
    """Read the streamed body in large blocks (see :class:`.logs.ChunkedBody`).

    Reaches under ``requests``/``urllib3`` to the ``http.client`` response, as the
    Docker SDK itself does for attach; falls back to urllib3's ``read1`` if the layout
    ever differs.
    """
    inner = getattr(response.raw, "_fp", None)
    fp = getattr(inner, "fp", None)
    chunked = getattr(inner, "chunked", None)
    if fp is not None and hasattr(fp, "read1") and isinstance(chunked, bool):
        return ChunkedBody(fp, chunked=chunked).read
    return lambda: bytes(response.raw.read1(READ_SIZE))


def _close_opened_stream(opening: asyncio.Future[Any]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        _shutdown(opening.result())


def _shutdown(response: Any) -> None:
    """Wake the log reader thread if it still blocks on the socket."""
    try:
        response.raw.shutdown()
    except Exception:
        with contextlib.suppress(Exception):
            response.close()


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower()


def _names_registry(image: str) -> bool:
    """Whether ``image`` names a registry host (``registry.example:5000/app``, ``localhost/x``)."""
    first, slash, _ = image.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def _split_reference(image: str) -> tuple[str, str | None]:
    if "@" in image:
        return image, None
    repository, colon, tag = image.rpartition(":")
    if colon and "/" not in tag:
        return repository, tag
    return image, None


def _explain(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).strip()


async def _in_own_thread(name: str, fn: Callable[..., T], *args: Any) -> T:
    """Run blocking ``fn`` in a new daemon thread (not the loop's shared pool)."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Future[T]) -> None:
        if result.done():
            return
        exc = outcome.exception()
        if exc is not None:
            result.set_exception(exc)
        else:
            result.set_result(outcome.result())

    def run() -> None:
        outcome: Future[T] = Future()
        try:
            outcome.set_result(fn(*args))
        except BaseException as exc:
            outcome.set_exception(exc)
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await result
