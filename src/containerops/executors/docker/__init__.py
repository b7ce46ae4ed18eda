"""The Docker executor: every job attempt is one container on the local Docker Engine.

The Docker SDK is synchronous. Short calls (create, start, inspect, remove) run in the
executor's own pool of ``CALL_THREADS`` threads (:mod:`.calls`), not the event loop's
default one (6 threads on 2 cores): a matrix at ``max_parallel: 20`` starts, and a
``fail_fast`` removes, 20 containers at once, as ``xargs -P 20`` of ``docker run`` would.
The two calls that
block for a job's whole life (the log stream and the wait) run in threads of their own,
written so that a cancelled engine task leaves no thread blocked for ever: the log
stream's socket is shut down, and the wait polls with a timeout and looks at a
cancellation flag.

Containers are not auto-removed: the engine reads every log line and the exit state
first, then calls :meth:`DockerExecutor.destroy`, which starts the removal and returns:
the next job of a chain starts while the last one's container goes (tens of milliseconds a
job), and the run's teardown waits for every removal it started, then removes by the run's
label whatever is left, so a run still ends with nothing of it on the Engine (Woodpecker
likewise removes a workflow's step containers when the workflow ends).

The parts, each in its module: the pure conversion from job spec to container config
(:mod:`.convert`), reading a job's output through the attach opened before its container
starts (:mod:`.attach`), or else following its log stream (:mod:`.follow`) and decoding it
(:mod:`.logs`),
removing what runs leave (:mod:`.cleanup`), and connecting
(:mod:`containerops.executors.docker_client`, outside this package so that building and
pushing images does not load the executor).

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
import contextlib
import io
import os
import tarfile
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions
from docker.types import Mount

from containerops.contract.output_file import MAX_FILE_BYTES
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
    after_lines,
    attempt_labels,
    lines_of,
)
from containerops.executors.docker.attach import Attachment, open_attachment
from containerops.executors.docker.calls import EngineCalls
from containerops.executors.docker.cleanup import (
    cleanup_all,
    home_label,
    remove_container,
    remove_labelled,
    remove_quietly,
    remove_volume,
    stop_run,
)
from containerops.executors.docker.convert import (
    OUTPUT_PATH,
    container_config,
    container_name,
    exit_status,
    names_registry,
    split_reference,
    workspace_volume,
)
from containerops.executors.docker.follow import follow_logs, read_attached
from containerops.executors.docker.handle import DockerJobHandle, docker_handle
from containerops.executors.docker_client import WAIT_POLL_SECONDS, explain

__all__ = [
    "DockerExecutor",
    "DockerJobHandle",
    "cleanup_all",
    "container_name",
    "home_label",
    "stop_run",
    "workspace_volume",
]

T = TypeVar("T")

#: The image and folder whose owner and mode a new workspace takes (see the module doc).
WORKSPACE_SEED_IMAGE = "containerops/base:busybox"
WORKSPACE_SEED_FOLDER = "/home/coops"


class DockerExecutor(Executor):
    """Runs each job in a container, unprivileged and with the spec's limits."""

    name = "docker"

    def __init__(self, network_mode: str | None = None) -> None:
        #: The network mode of every job container (``--network``, COOPS_DOCKER_NETWORK).
        self.network_mode = network_mode or os.environ.get("COOPS_DOCKER_NETWORK") or "bridge"
        self._engine = EngineCalls("coops-docker")
        self._call = self._engine.call
        self._submit = self._engine.submit
        self._api = self._engine.api
        #: run id -> the run's workspace volume
        self._workspaces: dict[str, str] = {}
        #: Images known to be on the Engine (inspected or pulled by this executor).
        self._present_images: set[str] = set()
        #: run id -> the removals of its containers that ``destroy`` started
        self._removals: dict[str, set[asyncio.Future[None]]] = {}

    # --- lifecycle ---------------------------------------------------------------------

    async def setup(self, run: RunContext) -> None:
        """Connect now, so that a stopped Engine fails the run before any job starts;
        create the run's workspace."""
        await self._call(self._api)
        self._workspaces[run.run_id] = await self._call(self._create_workspace, run.run_id)

    async def start(self, spec: JobSpec) -> JobHandle:
        return await self._engine.call_or_undo(self._start, self._discard_late_start, spec)

    async def adopt(self, spec: JobSpec, stored: Sequence[str]) -> JobHandle | None:
        """The container of the attempt (found by its labels: run, job, attempt), running
        or ended, whose log is followed from its line after the ``stored`` ones."""
        found = await self._call(self._find, spec)
        if found is None:
            return None
        container_id, name, state = found
        if state == "created":  # its worker died between creating and starting it: never ran
            return await self._call(self._attach_and_start, spec, container_id, name)
        job = DockerJobHandle(spec, container_id, name)
        job.skip = len(stored)
        return job

    def logs(self, handle: JobHandle) -> AsyncIterator[LogLine]:
        return lines_of(self.log_batches(handle))

    def log_batches(self, handle: JobHandle) -> AsyncIterator[list[LogLine]]:
        job = docker_handle(handle)
        attachment = job.take_attachment()
        if attachment is not None:
            return read_attached(job, attachment)
        if job.skip:
            return after_lines(follow_logs(self._api(), job), job.skip)
        return follow_logs(self._api(), job)

    async def wait(self, handle: JobHandle) -> ExitStatus:
        job = docker_handle(handle)
        cancelled = threading.Event()
        try:
            return await _in_own_thread(f"coops-wait-{job.name}", self._wait, job, cancelled)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def output_file(self, handle: JobHandle) -> bytes | None:
        return await self._call(self._read_output_file, docker_handle(handle))

    async def destroy(self, handle: JobHandle) -> None:
        job = docker_handle(handle)
        attachment = job.take_attachment()  # logs never read: let the connection go
        if attachment is not None:
            attachment.close()
        container_id = job.container_id
        removal = self._submit(lambda: remove_container(self._api(), container_id))
        pending = self._removals.setdefault(job.spec.run_id, set())
        pending.add(removal)
        removal.add_done_callback(pending.discard)

    async def teardown(self, run: RunContext) -> None:
        # A removal that failed leaves its container to the removal by label below.
        await asyncio.gather(*self._removals.pop(run.run_id, ()), return_exceptions=True)
        await self._call(lambda: remove_labelled(self._api(), f"{LABEL_RUN}={run.run_id}"))
        if run.keep_workspace:
            return
        volume = self._workspaces.pop(run.run_id, None)
        if volume is not None:
            await self._call(remove_volume, self._api(), volume)

    def workspace(self, run: RunContext) -> str | None:
        volume = self._workspaces.get(run.run_id)
        if volume is None:
            return None
        return f"docker volume {volume} (use it with: docker run -v {volume}:{WORKSPACE_PATH} ...)"

    def close(self) -> None:
        """Close the connection pool (the next call reconnects) and let the call threads go."""
        self._engine.close()

    # --- blocking parts (worker threads) ----------------------------------------------

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
            remove_volume(api, volume)
            raise ExecutorError(
                f"the run's workspace needs {WORKSPACE_SEED_IMAGE}: build it with `coops images build-base`"
            ) from exc
        except docker.errors.APIError as exc:
            remove_volume(api, volume)
            raise ExecutorError(f"cannot create the run's workspace {volume}: {explain(exc)}") from exc
        # The copy-up is done once the container exists: its removal need not hold up the
        # run (teardown removes it too, by the run's label, if it is still there).
        threading.Thread(target=remove_quietly, args=(api, str(seed["Id"])), daemon=True).start()
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
            raise ExecutorError(f"cannot create the container of job {spec.path}: {explain(exc)}") from exc
        return self._attach_and_start(spec, container_id, name)

    def _attach_and_start(self, spec: JobSpec, container_id: str, name: str) -> DockerJobHandle:
        """Start the created container, attached before it starts, as `docker run` does, so
        that no byte is missed (see .attach); should the Engine refuse, its log file is followed."""
        api = self._api()
        attachment: Attachment | None = None
        with contextlib.suppress(ExecutorError):
            attachment = open_attachment(api, container_id)
        try:
            api.start(container_id)
        except docker.errors.APIError as exc:
            if attachment is not None:
                attachment.close()
            remove_container(api, container_id)
            raise ExecutorError(f"cannot start job {spec.path}: {explain(exc)}") from exc
        return DockerJobHandle(spec, container_id, name, attachment)

    def _find(self, spec: JobSpec) -> tuple[str, str, str] | None:
        """(id, name, state) of the container of ``spec``'s attempt, if it is still there."""
        found = self._api().containers(all=True, filters={"label": attempt_labels(spec)})
        if not found:
            return None
        return str(found[0]["Id"]), str(found[0]["Names"][0]).lstrip("/"), str(found[0]["State"])

    def _read_output_file(self, job: DockerJobHandle) -> bytes | None:
        """The output file, copied out of the stopped container (as ``docker cp`` does)."""
        try:
            chunks, stat = self._api().get_archive(job.container_id, OUTPUT_PATH)
        except docker.errors.NotFound:
            return None  # the job wrote none
        except docker.errors.APIError as exc:
            raise ExecutorError(f"cannot read {OUTPUT_PATH} of job {job.spec.path}: {explain(exc)}") from exc
        if int(stat.get("size", 0)) > MAX_FILE_BYTES:
            return b"\0" * (MAX_FILE_BYTES + 1)  # too large: said so by the reader, not copied
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
            member = archive.next()
            content = archive.extractfile(member) if member is not None and member.isfile() else None
            return content.read(MAX_FILE_BYTES + 1) if content is not None else None

    def _ensure_image(self, image: str | None) -> str:
        """The image must be local; pull only from an explicitly named registry."""
        if not image:
            raise ExecutorError("the docker executor needs an image for every job")
        if image in self._present_images:  # seen by this executor: one inspect per image, not per job
            return image
        api = self._api()
        try:
            api.inspect_image(image)
            self._present_images.add(image)
            return image
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            raise ExecutorError(f"invalid image {image!r}: {explain(exc)}") from exc
        if not names_registry(image):
            raise ExecutorError(
                f"image {image} not found locally; build it (coops images build-base) or pull it"
            )
        try:
            repository, tag = split_reference(image)
            api.pull(repository, tag=tag)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            why = explain(exc)
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
            remove_container(api, name)
        return same

    def _discard_late_start(self, job: DockerJobHandle) -> None:
        threading.Thread(target=remove_quietly, args=(self._api(), job.container_id), daemon=True).start()

    def _wait(self, job: DockerJobHandle, cancelled: threading.Event) -> ExitStatus:
        api = self._api()
        while True:
            try:
                ended = api.wait(job.container_id, timeout=WAIT_POLL_SECONDS)
                break
            except docker.errors.NotFound as exc:
                raise ExecutorError(f"the container of job {job.spec.path} disappeared") from exc
            except requests.exceptions.RequestException as exc:
                if cancelled.is_set():
                    raise ExecutorError("wait cancelled") from exc
                if not _timed_out(exc):
                    why = f"lost the Docker Engine while job {job.spec.path} ran: {exc}"
                    raise ExecutorError(why) from exc
        if not job.spec.memory:  # no limit of ours to have killed it: the exit code says it all
            return ExitStatus(exit_code=int(ended.get("StatusCode", -1)))
        try:
            state = api.inspect_container(job.container_id)["State"]
        except docker.errors.NotFound as exc:
            raise ExecutorError(f"the container of job {job.spec.path} disappeared") from exc
        return exit_status(state, job.spec.memory)


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower()


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
