"""A swarm job outlives the coops that started it (a worker killed with -9): another
executor finds its service by its labels and follows it, reading its log on after the
lines already stored, and learns how it ended even when it ended while nobody watched;
with real ``coops worker --executor swarm`` processes, another worker re-attaches."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from containerops.executors.base import LABEL_RUN, ExitStatus, JobHandle, JobSpec, LogLine, RunContext
from containerops.executors.swarm import SwarmExecutor
from containerops.images import BUSYBOX_IMAGE
from containerops.store import Store, runs
from tests.engine.scenarios import BUSYBOX
from tests.swarmharness import Swarm
from tests.waiting import until, wait_for
from tests.workers.flows import flow, run_on_queue, sh
from tests.workers.processes import WorkerProcess
from tests.workers.test_faults import printed

LINES = 'for i in 1 2 3 4 5 6; do echo "line $i"; sleep 0.4; done; exit 3'


def spec(run_id: str, script: str) -> JobSpec:
    return JobSpec(
        run_id=run_id, path="s.a.j", attempt=1, image=BUSYBOX_IMAGE, command=["sh", "-c", script], env={}
    )


async def first_lines(executor: SwarmExecutor, handle: JobHandle, count: int) -> list[str]:
    """The job's first ``count`` lines; then the reader is dropped, as a killed worker's."""
    got: list[str] = []
    lines = executor.logs(handle)
    async for line in lines:
        got.append(line.text)
        if len(got) == count:
            break
    await lines.aclose()  # type: ignore[attr-defined]
    return got


async def follow(executor: SwarmExecutor, handle: JobHandle) -> tuple[list[LogLine], ExitStatus]:
    async def collect() -> list[LogLine]:
        return [line async for line in executor.logs(handle)]

    try:
        return await asyncio.gather(collect(), executor.wait(handle))
    finally:
        await executor.destroy(handle)


def services_of(swarm: Swarm, run_id: str) -> list[str]:
    return [s["Spec"]["Name"] for s in swarm.client.api.services(filters={"label": f"{LABEL_RUN}={run_id}"})]


def test_a_second_executor_follows_a_running_job_after_the_stored_lines(on_swarm: Swarm) -> None:
    run = RunContext(run_id=f"adopt-{uuid.uuid4().hex[:8]}", flow_uri="test/swarm/adopt")
    job = spec(run.run_id, LINES)

    async def scenario() -> tuple[list[str], list[LogLine], ExitStatus]:
        first, second = SwarmExecutor(), SwarmExecutor()
        try:
            await first.setup(run)
            stored = await first_lines(first, await first.start(job), 2)
            first.close()  # gone without a destroy: the service runs on
            await second.setup(run)
            adopted = await second.adopt(job, stored)
            assert adopted is not None
            lines, status = await follow(second, adopted)
            await second.teardown(run)
            return stored, lines, status
        finally:
            second.close()

    stored, lines, status = asyncio.run(scenario())
    assert stored == ["line 1", "line 2"]
    assert [line.text for line in lines] == ["line 3", "line 4", "line 5", "line 6"]
    assert status.exit_code == 3
    wait_for(lambda: services_of(on_swarm, run.run_id) == [], "the adopted job's service removed", 30)


def test_a_job_that_ended_while_nobody_watched_is_adopted_with_its_end(on_swarm: Swarm) -> None:
    run = RunContext(run_id=f"adopt-{uuid.uuid4().hex[:8]}", flow_uri="test/swarm/adopt")
    job = spec(run.run_id, 'echo "one"; echo "two"; exit 5')

    async def scenario() -> tuple[list[LogLine], ExitStatus]:
        first, second = SwarmExecutor(), SwarmExecutor()
        try:
            await first.setup(run)
            started = await first.start(job)
            await first.wait(started)  # it ends; its coops is gone before reading a line
            first.close()
            await second.setup(run)
            adopted = await second.adopt(job, [])
            assert adopted is not None
            lines, status = await follow(second, adopted)
            await second.teardown(run)
            return lines, status
        finally:
            second.close()

    lines, status = asyncio.run(scenario())
    assert [line.text for line in lines] == ["one", "two"]
    assert status.exit_code == 5
    assert services_of(on_swarm, run.run_id) == []


def test_an_attempt_whose_service_is_gone_is_not_adopted(on_swarm: Swarm) -> None:
    run = RunContext(run_id=f"adopt-{uuid.uuid4().hex[:8]}", flow_uri="test/swarm/adopt")

    async def scenario() -> JobHandle | None:
        executor = SwarmExecutor()
        try:
            await executor.setup(run)
            return await executor.adopt(spec(run.run_id, "true"), [])
        finally:
            executor.close()

    assert asyncio.run(scenario()) is None


def test_a_swarm_worker_re_attaches_to_the_service_a_killed_worker_left(
    on_swarm: Swarm, coops_home: Path, tmp_path: Path
) -> None:
    """``coops worker --executor swarm`` killed with -9 mid-job: the service runs on; once
    the lease runs out another swarm worker (on any machine) claims the attempt again,
    follows the service's log after the stored lines and records its exit code."""
    url = f"sqlite:///{tmp_path / 'coops.db'}"
    script = 'for i in $(seq 16); do echo "line $i"; sleep 0.25; done; echo "$CO_ATTEMPT" >&2; exit 5'
    doc = flow(sh(script, allow_failure=True, endpoint=BUSYBOX))
    store = Store.open(url)
    first = WorkerProcess("sw1", url, tmp_path, executor="swarm", lease=2.0)
    second = WorkerProcess("sw2", url, tmp_path, executor="swarm")
    try:
        first.start()
        first.wait_registered(store)

        async def scenario() -> str:
            running = asyncio.create_task(run_on_queue(store, doc))
            await until(lambda: len(printed(store)) >= 3, "the job's first lines", 90)
            first.kill()
            uid = runs.list_runs(store, limit=1)[0].uid
            assert services_of(on_swarm, uid) != []  # it runs on without its worker
            second.start()
            return (await running).status

        assert asyncio.run(scenario()) == "success"
        run = runs.list_runs(store, limit=1)[0]
        attempts = runs.attempts(store, run.id)
        assert [(a["attempt"], a["status"], a["exit_code"]) for a in attempts] == [(1, "failure", 5)]
        assert printed(store) == [*(f"line {i}" for i in range(1, 17)), "1"]  # none twice, none lost
        assert "re-attached to build.a0.job-1 attempt 1" in second.log_text()
        wait_for(lambda: services_of(on_swarm, run.uid) == [], "its service removed", 30)
    finally:
        first.stop()
        second.stop()
        store.close()
