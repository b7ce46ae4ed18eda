"""The run manager: every run the server starts goes through here.

``submit`` records the run at once (so a webhook can answer with its number
within milliseconds) and queues it; a bounded number of runs execute together
on the server's event loop, each in its own ``Engine`` on the server's executor.
Listeners (notifications, commit statuses...) hear ``queued``, ``started``,
``paused`` and ``finished``; a listener that fails is logged and never changes
a run. At startup, the runs a server that died left (this one before a restart, or
another on the same store, found at start and every few seconds) are taken up: queued
ones queue again, running ones go on (on workers their jobs never stopped; elsewhere the
cut attempt runs again), paused ones wait again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from containerops.engine import Engine, JobState, RunState
from containerops.engine.abandoned import settle_abandoned_runs, stop_leftovers
from containerops.engine.cancelling import POLL as CANCEL_POLL
from containerops.engine.concurrency import take_turn
from containerops.engine.events import RunEvent
from containerops.engine.prepared import LogSink
from containerops.engine.state import FINISHED
from containerops.executors.base import Executor
from containerops.launch import (
    ComponentImagesUnavailable,
    have_component_images,
    pin_recorded_components,
    prepare_run,
    resolve_flow_components,
)
from containerops.model.flow import Flow
from containerops.model.loader import parse_flow
from containerops.server.config import DEFAULT_MAX_RUNS
from containerops.server.secrets import namespace_secrets
from containerops.store import Store, flows, runs
from containerops.store import concurrency as groups
from containerops.store.accounts import readable_by_flows_of
from containerops.store.ownership import settle_abandoned, this_process

if TYPE_CHECKING:
    from containerops.repository.usage import Resolution

log = logging.getLogger("containerops.server.manager")

#: How often a server looks for the runs of another that died (seconds).
TAKE_OVER_EVERY = 5.0
#: Parsed flows kept per flow version: parsing a big flow costs more than running it on the dummy executor.
FLOW_CACHE_SIZE = 128


@dataclass(frozen=True, slots=True)
class SubmittedRun:
    """A run that is recorded and queued: what an API answers with."""

    id: int
    uid: str
    number: int


Listener = Callable[[RunEvent], Awaitable[None]]


class ServerStopping(RuntimeError):
    """The server is shutting down and starts no new run."""


class RegistryUnavailable(RuntimeError):
    """A component's image could not be pulled (the registry or the Docker Engine said no)."""


class RunManager:
    """Queues and runs flows for the server; one per server process."""

    def __init__(
        self,
        store: Store,
        executor: Executor,
        *,
        max_concurrent_runs: int = DEFAULT_MAX_RUNS,
    ) -> None:
        if max_concurrent_runs < 1:
            raise ValueError("max_concurrent_runs must be at least 1")
        self.store = store
        self.executor = executor
        self.max_concurrent_runs = max_concurrent_runs
        self._slots = asyncio.Semaphore(max_concurrent_runs)
        self._listeners: list[Listener] = []
        #: Where a new run's lines go besides the store (the notifier's ``logs:`` rules).
        self.log_sinks: Callable[[RunState], LogSink | None] | None = None
        self._engines: dict[int, Engine] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._started: set[int] = set()  # runs that got a slot
        self._done: dict[int, asyncio.Event] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._cancel_reasons: dict[int, str] = {}  # runs cancelled while queued
        self._flows: OrderedDict[int, tuple[Flow, str, str]] = OrderedDict()
        self._flows_lock = threading.Lock()
        self._stopping = False
        self._queue_watch: asyncio.Task[None] | None = None
        #: Started and not stopping: ``/readyz`` says so.
        self.ready = False

    @property
    def load(self) -> tuple[int, int]:
        """(runs executing in this process now, runs of it waiting for a slot)."""
        executing = sum(1 for run_id in self._tasks if run_id in self._started)
        return executing, len(self._tasks) - executing

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        """Take up what a server that died left (this one before a restart, or another on the
        same store, and later whenever one dies): its queued runs queue here again, its
        running ones go on (on workers, their attempts are followed where they run; on
        other executors the attempt it cut runs again, once what it left running is
        stopped, the workspace kept), its paused ones wait for their decision again. Then
        settle the runs of any other process that is gone (``coops run`` killed). Call
        once, before serving."""
        await self._take_over()
        for run_id in await asyncio.to_thread(settle_abandoned_runs, self.store):
            log.warning("run %s was abandoned by the process that ran it: stopped and marked failed", run_id)
        self._queue_watch = asyncio.create_task(self._watch_queued())
        self.ready = True

    async def _take_over(self) -> None:
        """Take up the runs of servers that are gone. On workers their jobs go on where they
        run (the engine follows their attempts again); on any other executor what the gone
        server left running is stopped and the attempt it cut runs again."""
        orphans = await asyncio.to_thread(runs.claim_orphaned_server_runs, self.store, this_process())
        for run_id, uid, status in orphans:
            if status != "paused":
                log.warning("run %s was %s under a server that is gone: it goes on here", run_id, status)
                if not self.executor.adopts:
                    await asyncio.to_thread(stop_leftovers, uid, keep_workspace=True)
            await self.restore(run_id, queued=status != "paused")

    async def _watch_queued(self) -> None:
        """Cancel queued runs another process asked to stop (a newer run of their
        ``concurrency:`` group, ``coops runs cancel``): without this they would wait for a
        slot first. A run that has started reads its requests itself (its engine)."""
        looked = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(CANCEL_POLL)
            if asyncio.get_running_loop().time() - looked >= TAKE_OVER_EVERY and not self._stopping:
                looked = asyncio.get_running_loop().time()
                queued = [run_id for run_id in self._tasks if run_id not in self._started]
                try:  # a server sharing the store died meanwhile: its runs go on here
                    await asyncio.to_thread(runs.beat, self.store, queued, this_process())
                    await self._take_over()
                except Exception:
                    log.exception("could not look for the runs of servers that are gone")
            queued = [run_id for run_id in self._tasks if run_id not in self._started]
            if not queued:
                continue
            try:
                asked = await asyncio.to_thread(groups.cancel_requests, self.store, queued)
            except Exception:
                log.exception("could not read the cancel requests of queued runs")
                continue
            for run_id, reason in asked.items():
                if run_id not in self._started:  # it may have got a slot meanwhile
                    await self.cancel(run_id, reason)

    async def restore(self, run_id: int, *, queued: bool) -> None:
        """An unfinished run found in the store: an engine goes on with it (a paused one waits
        for the decision again, with the original deadline); ``queued`` takes a slot first."""
        namespace = self.store.get_run(run_id, with_jobs=False).uri.split("/", 1)[0]
        try:
            engine = Engine.restore(
                self.store,
                self.executor,
                run_id,
                on_change=self._on_change,
                secret_values=namespace_secrets(self.store, namespace),  # the jobs to come need them
                pin=pin_recorded_components(self.store),
                log_sink_for=self.log_sinks,  # the flow's logs: rules, for the lines read from now
            )
        except Exception as error:
            log.exception("run %s could not be taken up again", run_id)
            settle_abandoned(
                self.store, [run_id], f"could not be taken up again after its server stopped: {error}"
            )
            return
        self._launch(run_id, engine, queued=queued)

    async def stop(self) -> None:
        """Stop every live run and wait for them: a paused run stays paused in the store (a
        restarted server picks it up), any other is cancelled ("server stopped")."""
        self.ready = False
        self._stopping = True
        if self._queue_watch is not None:
            self._queue_watch.cancel()
        suspended: list[int] = []
        for run_id, engine in list(self._engines.items()):
            if run_id in self._started and engine.state is not None and engine.state.status == "paused":
                engine.suspend()
                suspended.append(run_id)
            else:
                await self.cancel(run_id, "server stopped")
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        runs.release_runs(self.store, suspended)  # the next server to start takes them up
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- runs ------------------------------------------------------------------
    async def submit(
        self,
        flow_id: int,
        version_id: int | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        trigger: Mapping[str, Any] | None = None,
        secrets: Mapping[str, str] | None = None,
        reuse_from: int | None = None,
        found: bool = False,
    ) -> SubmittedRun:
        """Record a run of the flow (its newest version unless ``version_id``) and queue it.

        ``params`` are the run's parameters as ``coops run`` records them (``{"set":
        {NAME: VALUE}}`` overrides flow environment variables); ``env`` is added to the
        flow's environment on top of them (triggers pass CO_GIT_* there); ``trigger``
        says what started the run and is recorded with it; ``secrets`` values are masked
        in every line the run prints; ``reuse_from`` reruns that run, keeping the outputs
        of its successful jobs. ``found``: the caller has just found ``version_id`` a
        version of this flow, not deleted (``flows.find_version``), so it is not looked up
        again (a query of every run the API starts). Returns once the run is recorded, not
        when it ends.
        """
        if self._stopping:
            raise ServerStopping("the server is stopping; it starts no new run")
        # The store's calls run in threads where they can: on the event loop they hold up
        # every run's engine and every request while the database answers.
        version_id, (flow, source, fmt) = await asyncio.to_thread(self._version, flow_id, version_id, found)
        run_params = dict(params or {})
        overrides = {**(run_params.get("set") or {}), **(env or {})}
        if overrides:
            run_params["set"] = overrides
        engine = Engine(self.store, self.executor, on_change=self._on_change)
        engine.log_sink_for = self.log_sinks
        resolution = await self._resolve_components(flow)

        state = prepare_run(  # on the loop: the run's log routes start tasks of their own
            engine,
            flow,
            source=source,
            fmt=fmt,
            components=resolution,
            params=run_params,
            secrets=_values(secrets),
            flow_version=(flow_id, version_id),
            # ${{ secrets.NAME }}: the flow's namespace secrets; an unknown one raises MissingSecret
            secret_values=namespace_secrets(self.store, flow.namespace),
            reuse_from=reuse_from,
            run_columns={"trigger": dict(trigger or {"type": "api"}), "rerun_of": reuse_from},
        ).state
        self._launch(state.id, engine, queued=True)
        return SubmittedRun(id=state.id, uid=state.uid, number=state.number)

    async def _resolve_components(self, flow: Flow) -> Resolution | None:
        """Resolve ``component:`` jobs to image digests (recorded with the run) and pull
        what the Docker Engine lacks, before the run is recorded: an unknown component or
        inputs that do not match its spec are a FlowInvalid (422), a registry that cannot
        be reached a RegistryUnavailable (503). None when the flow has no component job."""
        if not flow.uses_components():
            return None
        readable = await asyncio.to_thread(readable_by_flows_of, self.store, flow.namespace)
        resolution = await asyncio.to_thread(
            resolve_flow_components,
            self.store,
            flow,
            filename=f"flow {flow.uri}",
            readable=readable.__contains__,
        )
        if resolution is None:
            return None
        try:
            await asyncio.to_thread(have_component_images, resolution, self.executor.name)
        except ComponentImagesUnavailable as error:
            raise RegistryUnavailable(str(error)) from error
        return resolution

    def _launch(self, run_id: int, engine: Engine, *, queued: bool) -> None:
        self._engines[run_id] = engine
        self._done[run_id] = asyncio.Event()
        task = asyncio.create_task(self._execute(run_id, engine), name=f"run-{run_id}")
        self._tasks[run_id] = task
        # Bookkeeping in a done-callback: a task cancelled before its first step never runs its body.
        task.add_done_callback(lambda ended: self._ended(run_id, engine, ended))
        if queued:
            self._emit(RunEvent("queued", run_id, engine.state))

    async def _execute(self, run_id: int, engine: Engine) -> None:
        prepared = engine.prepared
        # a run of a busy concurrency group waits for its turn without holding a slot
        waits = prepared is not None and prepared.state.started_at is None
        if waits and prepared is not None and not await take_turn(prepared, self.store):
            await engine.run()  # cancelled while it waited: records that, running nothing
            return
        async with self._slots:
            self._started.add(run_id)
            await engine.run()  # (its own take_turn finds it holds the group already)

    def _ended(self, run_id: int, engine: Engine, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            if run_id not in self._started:  # cancelled while queued: it never started
                reason = self._cancel_reasons.pop(run_id, "cancelled")
                try:
                    runs.cancel_queued_run(self.store, run_id, reason)
                except Exception:
                    log.exception("could not record run %s as cancelled", run_id)
                if engine.state is not None:
                    engine.state.status, engine.state.reason = "cancelled", reason
        elif task.exception() is not None:
            log.error(
                "run %s ended with an internal error (recorded on the run)", run_id, exc_info=task.exception()
            )
        self._engines.pop(run_id, None)
        self._tasks.pop(run_id, None)
        self._started.discard(run_id)
        self._cancel_reasons.pop(run_id, None)
        done = self._done.pop(run_id, None)
        if done is not None:
            done.set()
        state = engine.state
        if state is None or state.status in FINISHED:  # not a paused run suspended by stop()
            self._emit(RunEvent("finished", run_id, state))

    async def cancel(self, run_id: int, reason: str = "cancelled") -> bool:
        """Stop a live run; False when it is not live here (finished, or unknown)."""
        engine = self._engines.get(run_id)
        task = self._tasks.get(run_id)
        if engine is None or task is None:
            return False
        if run_id in self._started:
            engine.cancel(reason)
        else:
            self._cancel_reasons[run_id] = reason
            task.cancel()
        return True

    def engine(self, run_id: int) -> Engine | None:
        """The engine of a live run (queued, running or paused), else None."""
        return self._engines.get(run_id)

    def live_runs(self) -> list[int]:
        return list(self._engines)

    async def wait(self, run_id: int) -> None:
        """Return when the run is no longer live here (at once if it is not)."""
        done = self._done.get(run_id)
        if done is not None:
            await done.wait()

    # -- events ----------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every run event; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _on_change(self, state: RunState, js: JobState | None) -> None:
        if js is not None:
            return
        status = str(state.status)
        if status == "running":
            self._emit(RunEvent("started", state.id, state))
        elif status == "paused":
            self._emit(RunEvent("paused", state.id, state))

    def _emit(self, event: RunEvent) -> None:
        for listener in list(self._listeners):
            task = asyncio.get_running_loop().create_task(_deliver(listener, event))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    # -- flows -----------------------------------------------------------------
    def flow_of_run(self, run_id: int) -> Flow:
        """The parsed flow a run ran (its stored version)."""
        _, version_id = runs.run_flow_version(self.store, run_id)
        return self._flow(version_id)[0]

    def _version(
        self, flow_id: int, version_id: int | None, found: bool
    ) -> tuple[int, tuple[Flow, str, str]]:
        """The version to run (the newest unless ``version_id``; looked up unless ``found``)
        and its parsed flow."""
        if not (found and version_id is not None):
            version_id = flows.resolve_version(self.store, flow_id, version_id)
        return version_id, self._flow(version_id)

    def _flow(self, version_id: int) -> tuple[Flow, str, str]:
        """The parsed flow of a stored version (cached: versions never change; the cache is
        shared by the threads that submit runs)."""
        with self._flows_lock:
            cached = self._flows.get(version_id)
            if cached is not None:
                self._flows.move_to_end(version_id)
                return cached
        source, fmt = flows.version_source(self.store, version_id)
        loaded = parse_flow(source, f"flow version {version_id}")
        entry = (loaded.flow, source, fmt)
        with self._flows_lock:
            self._flows[version_id] = entry
            if len(self._flows) > FLOW_CACHE_SIZE:
                self._flows.popitem(last=False)
        return entry


def _values(secrets: Mapping[str, str] | None) -> Iterable[str]:
    return [value for value in (secrets or {}).values() if value]


async def _deliver(listener: Listener, event: RunEvent) -> None:
    try:
        await listener(event)
    except Exception:
        log.exception(
            "a run event listener failed on %s of run %s (the run is unchanged)", event.kind, event.run_id
        )


__all__ = ["RegistryUnavailable", "RunEvent", "RunManager", "ServerStopping", "SubmittedRun"]
