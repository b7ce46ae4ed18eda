"""The Docker Swarm executor: every job attempt is one ``replicated-job`` service (a
one-task ``replicated`` service never restarted on Engines before 24.0, whose job
services leave their tasks behind: see :data:`.convert.JOB_MODE_SINCE`).

coops talks to a swarm manager's Engine (``DOCKER_HOST``, as the docker executor) and
the swarm places each job's single task on a node: where the job's ``labels:`` match
the node's labels and its ``resources`` fit (they are reserved as well as limited).
A job no node could ever run (labels nobody has, more cpu or memory than any node)
is refused at once, saying what each node lacks, instead of pending for ever.

Nodes pull images from the component registry (``registry``: an address every node
reaches and trusts; see the README), by digest: an image the manager has only locally
(a base image) is pushed there first, once per executor. Variables holding secrets go
in a Docker secret per attempt, never in the service's spec (see :mod:`.convert`).
Logs are followed through the manager (:mod:`.follow`); a poller per job reads its
task's end and notices a node that dies under it (:mod:`.handle`). Destroying a job
removes its service (which stops its container wherever it runs) and its secret; a
run's teardown removes whatever of its services and secrets is left.

The run's workspace is a folder per run under ``workspace_root`` (COOPS_SWARM_WORKSPACE),
bind-mounted at /workspace: that root must be the same shared folder on every node and
on this machine (an NFS export mounted at the same path everywhere). Without it, jobs
get no workspace. A job's ``CO_OUTPUT`` file is in the run's workspace folder
(:data:`.convert.OUTPUTS_FOLDER`), the one place this machine reads it from wherever the
job ran; without a workspace jobs get none (they print ``[COUT]`` lines).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
import time
from collections.abc import AsyncIterator, Collection, Sequence
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from containerops.contract.output_file import MAX_FILE_BYTES
from containerops.executors.base import (
    LABEL_HOME,
    LABEL_MANAGED,
    LABEL_RUN,
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
from containerops.executors.docker.calls import EngineCalls
from containerops.executors.docker.cleanup import home_label
from containerops.executors.docker.convert import names_registry, split_reference
from containerops.executors.docker_client import ENGINE_ERRORS, connect, explain
from containerops.executors.swarm.convert import (
    OUTPUTS_FOLDER,
    job_labels,
    job_mode,
    node_name,
    service_config,
    unsatisfiable,
)
from containerops.executors.swarm.follow import follow_service_logs
from containerops.executors.swarm.handle import SwarmJobHandle, swarm_handle

__all__ = ["SwarmExecutor", "SwarmJobHandle", "stop_run"]


#: The uid the base images run jobs as: a run's workspace folder is given to it.
WORKSPACE_UID = 1000
#: How long a secret still held by a removed service's task may refuse its removal.
SECRET_REMOVAL_SECONDS = 10.0
#: How many times a local image's push to the registry is tried (see SwarmExecutor._push).
PUSH_ATTEMPTS = 3


class SwarmExecutor(Executor):
    """Runs each job as a one-task ``replicated-job`` service on a Docker Swarm."""

    name = "swarm"
    #: A job's service runs on without the coops that made it: another can follow it.
    adopts = True

    def __init__(self, registry: str | None = None, workspace_root: str | None = None) -> None:
        #: Where nodes pull images from (host:port, no scheme).
        self.registry = (
            (registry or os.environ.get("COOPS_REGISTRY") or "").removeprefix("http://").rstrip("/")
        )
        root = workspace_root or os.environ.get("COOPS_SWARM_WORKSPACE") or ""
        self.workspace_root = Path(root) if root else None
        self._engine = EngineCalls("coops-swarm")
        self._call = self._engine.call
        self._api = self._engine.api
        self._lock = threading.Lock()
        #: image as written (and its local id) -> the reference nodes pull, by digest
        self._published: dict[tuple[str, str], str] = {}
        #: one lock per image being published: jobs starting together push it once (two
        #: pushes of the same layers at once can make the registry answer one with a 500)
        self._publishing: dict[tuple[str, str], threading.Lock] = {}
        self._workspaces: dict[str, Path] = {}
        #: node id -> its coops.node label or hostname, for messages
        self._node_names: dict[str, str] = {}
        #: Whether the manager's Engine runs jobs as replicated-job services (see setup).
        self._job_mode = True

    # --- lifecycle ---------------------------------------------------------------------

    async def setup(self, run: RunContext) -> None:
        """Check that the Engine is a swarm manager; make the run's workspace folder."""
        self._job_mode = await self._call(self._check_manager)
        if self.workspace_root is not None:
            self._workspaces[run.run_id] = await self._call(self._create_workspace, run.run_id)

    async def start(self, spec: JobSpec) -> JobHandle:
        return await self._engine.call_or_undo(self._start, self._discard_late_start, spec)

    def logs(self, handle: JobHandle) -> AsyncIterator[LogLine]:
        return lines_of(self.log_batches(handle))

    def log_batches(self, handle: JobHandle) -> AsyncIterator[list[LogLine]]:
        job = swarm_handle(handle)
        batches = follow_service_logs(self._api(), job)
        return after_lines(batches, job.skip) if job.skip else batches

    async def adopt(self, spec: JobSpec, stored: Sequence[str]) -> JobHandle | None:
        """The attempt's service (found by its labels), running or ended, its log read on
        after the ``stored`` lines; None when it is gone."""
        job = await self._call(self._find, spec)
        if job is not None:
            job.skip = len(stored)
        return job

    async def wait(self, handle: JobHandle) -> ExitStatus:
        job = swarm_handle(handle)
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not ended.done():
                ended.set_result(None)

        def wake() -> None:  # from the poller's thread: no thread of the loop's pool waits
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(settle)

        job.when_ended(wake)
        await ended
        if job.outcome is not None:
            return job.outcome
        raise job.error or ExecutorError(f"job {job.spec.path} was removed")

    async def output_file(self, handle: JobHandle) -> bytes | None:
        """What the job wrote to ``CO_OUTPUT``: a file in the run's shared workspace."""
        job = swarm_handle(handle)
        folder = self._workspaces.get(job.spec.run_id)
        if folder is None:
            return None
        return await asyncio.to_thread(read_output, folder / OUTPUTS_FOLDER / job.name)

    async def destroy(self, handle: JobHandle) -> None:
        job = swarm_handle(handle)
        job.close()
        await self._call(self._remove, job.service_id, job.secret_id)

    async def teardown(self, run: RunContext) -> None:
        await self._call(remove_labelled, self._api(), f"{LABEL_RUN}={run.run_id}")
        folder = self._workspaces.pop(run.run_id, None)
        if folder is not None and not run.keep_workspace:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    def workspace(self, run: RunContext) -> str | None:
        folder = self._workspaces.get(run.run_id)
        return None if folder is None else f"folder {folder} (shared by every node of the swarm)"

    def close(self) -> None:
        self._engine.close()

    # --- blocking parts (worker threads) ----------------------------------------------

    def _check_manager(self) -> bool:
        """Raise unless the Engine is a swarm manager; whether it runs replicated-job services."""
        api = self._api()
        swarm = api.info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise ExecutorError(
                "the swarm executor needs a swarm manager, and the Docker Engine coops uses "
                f"(DOCKER_HOST) is not one (swarm state: {swarm.get('LocalNodeState') or 'unknown'}); "
                "point DOCKER_HOST at a manager, or run `docker swarm init` there"
            )
        return job_mode(str(api.version().get("Version") or "0"))

    def _create_workspace(self, run_id: str) -> Path:
        assert self.workspace_root is not None
        folder = workspace_folder(self.workspace_root, run_id)
        try:
            (folder / OUTPUTS_FOLDER).mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                for made in (folder, folder / OUTPUTS_FOLDER):
                    os.chown(made, WORKSPACE_UID, WORKSPACE_UID)
        except OSError as exc:
            raise ExecutorError(f"cannot create the run's workspace {folder}: {exc}") from exc
        return folder

    def _start(self, spec: JobSpec) -> SwarmJobHandle:
        api = self._api()
        nodes = api.nodes()
        self._node_names.update({n["ID"]: node_name(n) for n in nodes})
        refused = unsatisfiable(spec, nodes)
        if refused is not None:
            raise ExecutorError(refused)
        image = self._publish(spec.image)
        home = home_label()
        workspace = self._workspaces.get(spec.run_id)
        plain = service_config(spec, image=image, home=home, workspace=None)
        secret_id = None
        image_command: tuple[list[str], list[str]] = ([], [])
        if plain.secret_data is not None and plain.secret_name is not None:
            image_command = self._image_command(image)
            try:
                secret_id = str(
                    api.create_secret(plain.secret_name, plain.secret_data, labels=job_labels(spec, home))[
                        "ID"
                    ]
                )
            except docker.errors.APIError as exc:
                raise ExecutorError(f"cannot create the secret of job {spec.path}: {explain(exc)}") from exc
        config = service_config(
            spec,
            image=image,
            home=home,
            workspace=None if workspace is None else str(workspace),
            image_command=image_command,
            secret_id=secret_id,
            job_mode=self._job_mode,
        )
        try:
            created = api.create_service(
                config.task_template, name=config.name, labels=config.labels, mode=config.mode
            )
        except docker.errors.APIError as exc:
            self._remove(None, secret_id)
            raise ExecutorError(f"cannot create the service of job {spec.path}: {explain(exc)}") from exc
        return self._watched(SwarmJobHandle(spec, str(created["ID"]), config.name, secret_id))

    def _find(self, spec: JobSpec) -> SwarmJobHandle | None:
        api = self._api()
        filters = {"label": attempt_labels(spec)}
        services = api.services(filters=filters)
        if not services:
            return None
        secrets = api.secrets(filters=filters)
        service = services[0]
        secret_id = str(secrets[0]["ID"]) if secrets else None
        name = str(service["Spec"]["Name"])
        return self._watched(SwarmJobHandle(spec, str(service["ID"]), name, secret_id))

    def _watched(self, handle: SwarmJobHandle) -> SwarmJobHandle:
        """``handle`` with its poller started (see :mod:`.handle`), naming nodes as we know them."""
        handle.watch(self._api(), lambda node_id: self._node_names.get(node_id, node_id[:12]))
        return handle

    def _publish(self, image: str | None) -> str:
        """The reference, by digest in the registry, that every node pulls for ``image``."""
        if not image:
            raise ExecutorError("the swarm executor needs an image for every job")
        api = self._api()
        if names_registry(image) and "@" in image:
            return image
        local_id = ""
        if not names_registry(image):
            try:
                local_id = str(api.inspect_image(image)["Id"])
            except docker.errors.ImageNotFound as exc:
                raise ExecutorError(
                    f"image {image} is neither in a registry nor on this machine: build it "
                    "(coops images build-base) or name it with its registry"
                ) from exc
        key = (image, local_id)
        with self._lock:
            publishing = self._publishing.setdefault(key, threading.Lock())
        with publishing:
            with self._lock:
                known = self._published.get(key)
            if known is not None:
                return known
            reference = self._push(image) if local_id else self._digest_of(image)
            with self._lock:
                self._published[key] = reference
        return reference

    def _digest_of(self, image: str) -> str:
        try:
            digest = self._api().inspect_distribution(image)["Descriptor"]["digest"]
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise ExecutorError(f"cannot find image {image} in its registry: {explain(exc)}") from exc
        repository, _ = split_reference(image)
        return f"{repository}@{digest}"

    def _push(self, image: str) -> str:
        """Push a local image to the registry; its reference there, by digest.

        Workers on other nodes may push the same layers at the same moment into a registry
        storage they share, and the registry can answer one of them with a 500; a push is
        idempotent, so a failed one is tried again, a few times."""
        if not self.registry:
            raise ExecutorError(
                f"image {image} is only on this machine and no registry is set for the swarm's nodes "
                "(COOPS_REGISTRY, or coops registry start)"
            )
        retrying = Retrying(
            retry=retry_if_exception_type(ExecutorError),
            stop=stop_after_attempt(PUSH_ATTEMPTS),
            wait=wait_fixed(0.5),
            reraise=True,
        )
        return retrying(self._push_once, image)

    def _push_once(self, image: str) -> str:
        api = self._api()
        repository, tag = split_reference(image)
        target = f"{self.registry}/{repository}"
        digest = ""
        try:
            api.tag(image, target, tag or "latest")
            for event in api.push(target, tag=tag or "latest", stream=True, decode=True):
                if "error" in event:
                    raise ExecutorError(f"cannot push {image} to {self.registry}: {event['error']}")
                digest = str((event.get("aux") or {}).get("Digest") or digest)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise ExecutorError(f"cannot push {image} to {self.registry}: {explain(exc)}") from exc
        if not digest:
            raise ExecutorError(f"pushing {image} to {self.registry} gave no digest")
        return f"{target}@{digest}"

    def _image_command(self, image: str) -> tuple[list[str], list[str]]:
        """The image's Entrypoint and Cmd (pulled to this machine if it lacks it)."""
        api = self._api()
        try:
            try:
                config = api.inspect_image(image)["Config"] or {}
            except docker.errors.ImageNotFound:
                api.pull(image)
                config = api.inspect_image(image)["Config"] or {}
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise ExecutorError(f"cannot read the command of image {image}: {explain(exc)}") from exc
        return list(config.get("Entrypoint") or []), list(config.get("Cmd") or [])

    def _remove(self, service_id: str | None, secret_id: str | None) -> None:
        api = self._api()
        if service_id is not None:
            try:
                api.remove_service(service_id)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                raise ExecutorError(f"cannot remove service {service_id[:12]}: {explain(exc)}") from exc
        if secret_id is not None:
            remove_secret(api, secret_id)

    def _discard_late_start(self, job: SwarmJobHandle) -> None:
        job.close()
        threading.Thread(target=self._remove_quietly, args=(job,), daemon=True).start()

    def _remove_quietly(self, job: SwarmJobHandle) -> None:
        with contextlib.suppress(ExecutorError, *ENGINE_ERRORS):
            self._remove(job.service_id, job.secret_id)


def read_output(path: Path) -> bytes | None:
    """A job's output file (at most ``MAX_FILE_BYTES`` and one more byte, so that a larger
    one is told), removed once read; None when the job wrote none."""
    try:
        with path.open("rb") as file:
            content = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ExecutorError(f"cannot read the output file {path}: {exc}") from exc
    path.unlink(missing_ok=True)
    return content


def workspace_folder(root: Path, run_id: str) -> Path:
    """The workspace folder of run ``run_id`` under the shared ``root``."""
    return root / f"coops-workspace-{run_id}"


def remove_secret(api: Any, secret_id: str) -> None:
    """Remove a secret; gone already is fine. Swarm may refuse while a removed service's
    task still holds it: asked again for a few seconds."""
    until = time.monotonic() + SECRET_REMOVAL_SECONDS
    while True:
        try:
            api.remove_secret(secret_id)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if "in use" not in explain(exc) or time.monotonic() > until:
                raise ExecutorError(f"cannot remove secret {secret_id[:12]}: {explain(exc)}") from exc
            time.sleep(0.2)


def remove_labelled(api: Any, label: str) -> int:
    """Remove every service of ours with ``label`` (and then their secrets); how many services."""
    filters = {"label": [f"{LABEL_MANAGED}=true", label]}
    services = api.services(filters=filters)
    for service in services:
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_service(service["ID"])
    for secret in api.secrets(filters=filters):
        remove_secret(api, secret["ID"])
    return len(services)


def stop_run(run_id: str, *, keep_workspace: bool = False) -> int:
    """Remove the services and secrets of run ``run_id`` (a killed coops left them), when the
    Engine is a swarm manager, and (unless ``keep_workspace``) its workspace folder under
    COOPS_SWARM_WORKSPACE; how many services."""
    root = os.environ.get("COOPS_SWARM_WORKSPACE")
    if root and not keep_workspace:
        shutil.rmtree(workspace_folder(Path(root), run_id), ignore_errors=True)
    client = connect()
    try:
        swarm = client.api.info().get("Swarm") or {}
        if not swarm.get("ControlAvailable"):
            return 0
        return remove_labelled(client.api, f"{LABEL_RUN}={run_id}")
    finally:
        client.close()


def cleanup_all(keep: Collection[str] = ()) -> int:
    """``coops cleanup`` on a swarm manager: the services (and secrets) of this home's runs
    but those in ``keep``; how many services."""
    client = connect()
    try:
        swarm = client.api.info().get("Swarm") or {}
        if not swarm.get("ControlAvailable"):
            return 0
        filters = {"label": [f"{LABEL_MANAGED}=true", f"{LABEL_HOME}={home_label()}"]}
        runs = {(s["Spec"].get("Labels") or {}).get(LABEL_RUN) for s in client.api.services(filters=filters)}
        return sum(
            remove_labelled(client.api, f"{LABEL_RUN}={run}") for run in runs if run and run not in keep
        )
    finally:
        client.close()
