"""The run manager on its own (no HTTP): events, bounded concurrency, environment and
trigger of a run, secrets masked, cancelling, stopping, and settling what a stopped
server left behind."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.server.flows import flow_doc
from tests.waiting import until

from containerops.engine import Engine
from containerops.executors.base import JobHandle, JobSpec
from containerops.executors.dummy import DummyExecutor
from containerops.model.loader import parse_flow
from containerops.server.manager import RunEvent, RunManager, ServerStopping
from containerops.store import Store
from containerops.store import runs as server_runs
from containerops.store import schema as t


def saved(store: Store, doc: dict[str, Any]) -> tuple[int, int]:
    flow_id, version_id, _ = store.save_flow(doc["uri"], json.dumps(doc), "json")
    return flow_id, version_id


def running(store: Store, body: Callable[[RunManager], Awaitable[Any]], **options: Any) -> Any:
    async def main() -> Any:
        manager = RunManager(store, DummyExecutor(), **options)
        await manager.start()
        try:
            return await body(manager)
        finally:
            await manager.stop()

    return asyncio.run(main())


def test_listeners_hear_queued_started_finished_and_a_failing_listener_changes_nothing(store: Store) -> None:
    flow_id, _ = saved(store, flow_doc())
    heard: list[tuple[str, int, str | None]] = []

    async def listener(event: RunEvent) -> None:
        heard.append((event.kind, event.run_id, event.state.status if event.state else None))

    async def broken(event: RunEvent) -> None:
        raise RuntimeError("listener bug")

    async def body(manager: RunManager) -> int:
        manager.subscribe(broken)
        unsubscribe = manager.subscribe(listener)
        run = await manager.submit(flow_id)
        await manager.wait(run.id)
        await until(lambda: len(heard) == 3, "the listener to hear the run finish")  # listeners are tasks
        unsubscribe()
        other = await manager.submit(flow_id)
        await manager.wait(other.id)
        return run.id

    run_id = running(store, body)
    assert [(kind, rid) for kind, rid, _ in heard] == [
        ("queued", run_id),
        ("started", run_id),
        ("finished", run_id),
    ]
    assert heard[-1][2] == "success"
    assert store.get_run(run_id).status == "success"


class CountingExecutor(DummyExecutor):
    """Counts the jobs that run at once (one job per run here: the runs at once)."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.most = 0

    async def start(self, spec: JobSpec) -> JobHandle:
        self.live += 1
        self.most = max(self.most, self.live)
        return await super().start(spec)

    async def destroy(self, handle: JobHandle) -> None:
        self.live -= 1
        await super().destroy(handle)


def test_no_more_runs_execute_at_once_than_allowed(store: Store) -> None:
    flow_id, _ = saved(store, flow_doc(sleep=0.2))
    executor = CountingExecutor()

    async def main() -> list[int]:
        manager = RunManager(store, executor, max_concurrent_runs=2)
        await manager.start()
        runs = [await manager.submit(flow_id) for _ in range(6)]
        await asyncio.gather(*(manager.wait(run.id) for run in runs))
        await manager.stop()
        return [run.id for run in runs]

    ids = asyncio.run(main())
    assert executor.most == 2
    assert [store.get_run(run_id).status for run_id in ids] == ["success"] * 6
    with pytest.raises(ValueError, match="at least 1"):
        RunManager(store, DummyExecutor(), max_concurrent_runs=0)


def test_a_run_gets_the_trigger_environment_and_masks_secrets(store: Store) -> None:
    doc = flow_doc(env={"CO_GIT_REF": "flow-default"}, outputs={"TOKEN": "hunter2-secret"})
    flow_id, version_id = saved(store, doc)
    executor = DummyExecutor()

    async def main() -> int:
        manager = RunManager(store, executor)
        await manager.start()
        run = await manager.submit(
            flow_id,
            version_id,
            params={"set": {"A": "1"}},
            env={"CO_GIT_REF": "refs/heads/main", "CO_GIT_SHA": "abc123"},
            trigger={"type": "github", "delivery": "d-1"},
            secrets={"TOKEN": "hunter2-secret"},
        )
        await manager.wait(run.id)
        await manager.stop()
        return run.id

    run_id = asyncio.run(main())
    env = executor.started[0].env
    assert (env["CO_GIT_REF"], env["CO_GIT_SHA"], env["A"]) == ("refs/heads/main", "abc123", "1")
    assert server_runs.run_origin(store, run_id) == ({"type": "github", "delivery": "d-1"}, None)
    assert store.get_run(run_id).params == {
        "set": {"A": "1", "CO_GIT_REF": "refs/heads/main", "CO_GIT_SHA": "abc123"}
    }
    lines = [row.line for row in store.log_lines(run_id)]
    assert lines == ["[COUT] TOKEN = ***"]


def test_cancel_and_stop(store: Store) -> None:
    flow_id, _ = saved(store, flow_doc(sleep=30))

    async def body(manager: RunManager) -> tuple[int, int, int]:
        first = await manager.submit(flow_id)
        queued = await manager.submit(flow_id)
        await until(
            lambda: store.get_run(first.id, with_jobs=False).status == "running", "the first run to start"
        )
        assert manager.engine(first.id) is not None
        assert await manager.cancel(queued.id, "not needed")
        await manager.wait(queued.id)
        assert manager.engine(queued.id) is None
        assert not await manager.cancel(queued.id, "again")
        assert not await manager.cancel(9999)
        left = await manager.submit(flow_id)
        return first.id, queued.id, left.id

    first, queued, left = running(store, body, max_concurrent_runs=1)
    assert (store.get_run(queued).status, store.get_run(queued).reason) == ("cancelled", "not needed")
    # stop() ends what is still live: the running run, and the one still queued behind it
    for run_id in (first, left):
        run = store.get_run(run_id)
        assert (run.status, run.reason) == ("cancelled", "server stopped"), run_id


#: A process of this host that does not exist (pids stop far below this).
DEAD_OWNER = f"{socket.gethostname()}:4999999:1"


def test_start_takes_up_the_runs_a_stopped_server_left_and_leaves_cli_runs_alone(store: Store) -> None:
    doc = flow_doc(jobs=2)
    flow_id, version_id = saved(store, doc)
    flow = parse_flow(json.dumps(doc)).flow

    def prepared(trigger: dict[str, Any] | None, status: str) -> int:
        engine = Engine(store, DummyExecutor())
        state = engine.prepare(flow, source="", fmt="json", flow_version=(flow_id, version_id)).state
        if trigger is not None:
            server_runs.mark_server_run(store, state.id, trigger, None)
            with store.database.begin() as conn:  # its owner, a server process, is gone
                conn.execute(t.runs.update().where(t.runs.c.id == state.id).values(owner=DEAD_OWNER))
        if status == "running":  # as a killed server leaves it: run and first job running
            recorder = store.recorder(state.id)
            job = state.jobs["build.unit.job0"]
            recorder.run("running", datetime.now(UTC))
            recorder.job(job.id, status="running", attempts=1)
            recorder.attempt(job.id, 1, _new=True, status="running")
            recorder.flush()
        return state.id

    server_running = prepared({"type": "api"}, "running")
    server_queued = prepared({"type": "api"}, "pending")
    cli_running = prepared(None, "running")
    heard: list[tuple[str, int]] = []

    async def main() -> None:
        manager = RunManager(store, DummyExecutor())

        async def listen(event: RunEvent) -> None:
            heard.append((event.kind, event.run_id))

        manager.subscribe(listen)
        await manager.start()
        for run_id in (server_running, server_queued):
            await manager.wait(run_id)
        await manager.stop()  # which waits for the listeners to have heard

    asyncio.run(main())
    run = store.get_run(server_running)
    assert (run.status, run.reason) == ("success", None)
    attempts = [(a["attempt"], a["status"]) for a in server_runs.attempts(store, server_running)]
    assert attempts[:2] == [(1, "cancelled"), (2, "success")]  # the cut attempt, then the next
    assert store.get_run(server_queued).status == "success"
    assert store.get_run(cli_running).status == "running"  # a `coops run` process may still run it
    assert ("finished", server_running) in heard and ("queued", server_queued) in heard


def test_a_stopping_manager_starts_nothing(store: Store) -> None:
    flow_id, _ = saved(store, flow_doc())

    async def main() -> None:
        manager = RunManager(store, DummyExecutor())
        await manager.start()
        await manager.stop()
        with pytest.raises(ServerStopping, match="starts no new run"):
            await manager.submit(flow_id)

    asyncio.run(main())
    assert store.list_runs() == []


def test_a_paused_run_is_suspended_by_stop_and_restored_by_the_next_start(store: Store) -> None:
    from containerops.engine.decisions import decide

    doc = flow_doc()
    doc["stages"].insert(2, {"type": "pause", "name": "approve"})
    flow_id, _ = saved(store, doc)
    heard: list[tuple[str, str | None]] = []

    async def listen(event: RunEvent) -> None:
        heard.append((event.kind, event.state.status if event.state else None))

    async def first() -> int:
        manager = RunManager(store, DummyExecutor())
        manager.subscribe(listen)
        await manager.start()
        run = await manager.submit(flow_id)
        await until(lambda: store.get_run(run.id, with_jobs=False).status == "paused", "the run to pause")
        await manager.stop()  # which waits for the listeners
        return run.id

    run_id = asyncio.run(first())
    assert [kind for kind, _ in heard] == ["queued", "started", "paused"]  # no "finished": it goes on later
    assert store.get_run(run_id).status == "paused"

    async def second() -> None:
        manager = RunManager(store, DummyExecutor())
        manager.subscribe(listen)
        await manager.start()
        assert manager.engine(run_id) is not None
        decide(store, run_id, True, by="tester")
        await manager.wait(run_id)
        await manager.stop()

    asyncio.run(second())
    assert store.get_run(run_id).status == "success"
    assert heard[-1] == ("finished", "success")
