"""A worker killed with -9 mid-job, on SQLite and PostgreSQL, with real ``coops worker``
processes: the job's own process dies with it, once its lease expires the attempt fails
as "worker lost" and the job's retry runs on another worker; started again, the killed
worker stops what the job's process had started. On Docker the job's container runs on:
the worker started again, or another once the lease has run out, re-attaches to it and
streams the rest of its lines (none twice, none lost) and its exit code; only when the
container is gone does the attempt fail as "worker lost" and run again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from containerops.executors.base import LABEL_RUN
from containerops.store import Store, runs
from containerops.workers.leftovers import LABEL_CLAIM
from tests.conftest import require_docker
from tests.engine.scenarios import BUSYBOX
from tests.pgserver import postgres_database
from tests.waiting import until, wait_for
from tests.workers.flows import flow, run_on_queue, sh
from tests.workers.processes import WorkerProcess, process_gone


def printed(store: Store) -> list[str]:
    """The lines stored of the newest run."""
    newest = runs.list_runs(store, limit=1)
    return [row.line for row in store.log_lines(newest[0].id)] if newest else []


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, coops_home: Path, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'coops.db'}"
        return
    with postgres_database() as url:
        yield url


def test_a_job_of_a_killed_worker_is_lost_at_its_lease_end_and_retried(
    database_url: str, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    script = f'echo $$ > {marks}/pid-$CO_ATTEMPT; echo "attempt $CO_ATTEMPT on $CO_WORKER"; '
    script += f'if [ "$CO_ATTEMPT" = 1 ]; then sleep 60 & echo $! > {marks}/child; wait; fi'
    doc = flow(sh(script, retries=1))
    store = Store.open(database_url)
    first, second = WorkerProcess("w1", database_url, tmp_path), WorkerProcess("w2", database_url, tmp_path)
    try:
        first.start()
        first.wait_registered(store)

        async def scenario() -> tuple[str, float]:
            running = asyncio.create_task(run_on_queue(store, doc))
            await until(lambda: printed(store) == ["attempt 1 on w1"], "the first attempt's line", 30)
            first.kill()
            killed_at = time.monotonic()
            second.start()
            state = await running
            return state.status, time.monotonic() - killed_at

        status, after = asyncio.run(scenario())
        assert status == "success"
        run_id = runs.list_runs(store, limit=1)[0].id
        attempts = runs.attempts(store, run_id)
        assert [a["status"] for a in attempts] == ["failure", "success"]
        assert attempts[0]["reason"] == "worker lost: w1 stopped renewing its lease"
        assert after >= 2.0  # not before its lease (2 s) ran out
        lines = [row.line for row in store.log_lines(run_id)]
        assert lines == ["attempt 1 on w1", "attempt 2 on w2"]

        assert process_gone(int((marks / "pid-1").read_text()))  # the job's process died with its worker
        orphan = int((marks / "child").read_text())
        assert not process_gone(orphan)  # a process it started did not
        first.start()  # ... until that worker is back
        first.wait_registered(store)
        wait_for(lambda: process_gone(orphan), "the orphaned job process to be stopped", 10)
    finally:
        first.stop()
        second.stop()
        store.close()


LINES = 16


def ours(client: docker.DockerClient, store: Store) -> list[dict[str, Any]]:
    """The containers of the newest run (a worker's claim on each)."""
    uid = runs.list_runs(store, limit=1)[0].uid
    return [
        c
        for c in client.api.containers(all=True, filters={"label": LABEL_CLAIM})
        if c["Labels"].get(LABEL_RUN) == uid
    ]


@pytest.mark.docker
@pytest.mark.parametrize("by", ["the worker started again", "another worker"])
def test_a_worker_re_attaches_to_the_container_a_killed_worker_left(
    docker_ready: None, coops_home: Path, tmp_path: Path, by: str
) -> None:
    url = f"sqlite:///{tmp_path / 'coops.db'}"
    script = f'for i in $(seq {LINES}); do echo "line $i"; sleep 0.25; done; echo "$CO_ATTEMPT" >&2; exit 5'
    doc = flow(sh(script, allow_failure=True, endpoint=BUSYBOX))
    store = Store.open(url)
    client = require_docker()
    # started again, it lets go of what it held at once; else its lease (2 s) runs out first
    first = WorkerProcess("dw1", url, tmp_path, executor="docker", lease=2.0)
    second = (
        first if by == "the worker started again" else WorkerProcess("dw2", url, tmp_path, executor="docker")
    )
    try:
        first.start()
        first.wait_registered(store)

        async def scenario() -> str:
            running = asyncio.create_task(run_on_queue(store, doc))
            await until(lambda: len(printed(store)) >= 3, "the job's first lines", 60)
            first.kill()
            (container,) = ours(client, store)
            assert container["State"] == "running"  # it runs on without its worker
            await asyncio.sleep(1.0)  # its lines go on into its log, unread
            second.start()
            return (await running).status

        assert asyncio.run(scenario()) == "success"
        run_id = runs.list_runs(store, limit=1)[0].id
        attempts = runs.attempts(store, run_id)
        assert len(attempts) == 1, attempts  # the same attempt, followed to its end
        attempt = attempts[0]
        assert (attempt["status"], attempt["exit_code"], attempt["reason"]) == ("failure", 5, "exit code 5")
        assert printed(store) == [*(f"line {i}" for i in range(1, LINES + 1)), "1"]  # none twice, none lost
        assert "re-attached to build.a0.job-1 attempt 1" in second.log_text()
        wait_for(lambda: ours(client, store) == [], "its container to be removed", 30)
    finally:
        first.stop()
        second.stop()
        client.close()
        store.close()


@pytest.mark.docker
def test_an_attempt_whose_worker_and_container_are_gone_fails_as_worker_lost_and_is_retried(
    docker_ready: None, coops_home: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'coops.db'}"
    script = 'echo "attempt $CO_ATTEMPT"; if [ "$CO_ATTEMPT" = 1 ]; then sleep 60; fi'
    doc = flow(sh(script, retries=1, endpoint=BUSYBOX))
    store = Store.open(url)
    client = require_docker()
    worker = WorkerProcess("dw", url, tmp_path, executor="docker", lease=30.0)  # the restart decides
    try:
        worker.start()
        worker.wait_registered(store)

        async def scenario() -> str:
            running = asyncio.create_task(run_on_queue(store, doc))
            await until(lambda: printed(store) == ["attempt 1"], "the first attempt's line", 60)
            worker.kill()
            (container,) = ours(client, store)
            client.api.remove_container(container["Id"], force=True)
            worker.start()
            return (await running).status

        assert asyncio.run(scenario()) == "success"
        run_id = runs.list_runs(store, limit=1)[0].id
        attempts = runs.attempts(store, run_id)
        assert [a["status"] for a in attempts] == ["failure", "success"]
        assert attempts[0]["reason"] == "worker lost: build.a0.job-1 attempt 1's container is gone"
        assert printed(store) == ["attempt 1", "attempt 2"]
        wait_for(lambda: ours(client, store) == [], "the containers to be removed", 30)
    finally:
        worker.stop()
        client.close()
        store.close()
