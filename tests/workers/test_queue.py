"""Jobs run by workers, in one process (the engine on the queue, workers on the local
executor), on SQLite, PostgreSQL and MariaDB: lines, outputs and exit codes come back as
on any executor, a job's labels choose its worker, and a job no worker can take says why
and times out."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from containerops.executors import get_executor
from containerops.store import Store, runs
from containerops.store import schema as t
from containerops.store import workers as queue
from containerops.workers import Worker
from tests.mariadbserver import mariadb_database
from tests.pgserver import postgres_database
from tests.workers.flows import flow, sh, with_workers


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def any_store(request: pytest.FixtureRequest, coops_home: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = Store.open()
        yield opened
        opened.close()
        return
    with (postgres_database if request.param == "postgresql" else mariadb_database)() as url:
        opened = Store.open(url)
        yield opened
        opened.close()


def worker(store: Store, name: str, slots: int = 2, **labels: str) -> Worker:
    return Worker(store, get_executor("local"), name=name, labels=labels, slots=slots)


def test_jobs_run_on_workers_with_their_lines_outputs_and_exit_codes(any_store: Store) -> None:
    doc = flow(
        sh('echo "one"; echo "two" >&2; echo "[COUT] greeting = hi"; echo "k=v" > "$CO_OUTPUT"'),
        sh('echo "worker $CO_WORKER"; exit 3', allow_failure=True),
    )
    (state,) = asyncio.run(with_workers(any_store, [worker(any_store, "w1")], doc))
    assert state.status == "success", state.reason
    first, second = state.jobs["build.a0.job-1"], state.jobs["build.a1.job-1"]
    assert first.status == "success" and first.outputs == {"greeting": "hi", "k": "v"}
    assert (second.status, second.exit_code, second.reason) == ("failure", 3, "exit code 3")
    lines = [(row.stream, row.line) for row in any_store.log_lines(state.id)]
    assert ("stdout", "one") in lines and ("stderr", "two") in lines and ("stdout", "worker w1") in lines
    assert queue.queue_depth(any_store) == 0


def test_a_done_attempts_lines_stay_in_the_queue_until_the_runs_end_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine may not have stored the lines it read when an attempt is done: a server
    killed then would lose them, and the server taking the run over would find the attempt
    done with no line left to read. So they are dropped with the run's end, not before."""
    store = Store.open(f"sqlite:///{tmp_path / 'coops.db'}")
    withdrawn: list[int] = []
    monkeypatch.setattr(queue, "withdraw", lambda store, ready_id, reason: withdrawn.append(ready_id))
    doc = flow(sh('for i in 1 2 3; do echo "line $i"; done'), sh('echo "next"'))
    (state,) = asyncio.run(with_workers(store, [worker(store, "w1")], doc))
    assert state.status == "success", state.reason
    assert withdrawn == []
    assert [row.line for row in store.log_lines(state.id)] == ["line 1", "line 2", "line 3", "next"]
    with store.database.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.ready_job_lines)).scalar() == 0
    store.close()


def test_a_worker_records_a_result_before_it_removes_the_container(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed after removing a finished job's container but before recording its
    result left an attempt whose container is gone: lost, and the job ran a second time."""
    store = Store.open(f"sqlite:///{tmp_path / 'coops.db'}")
    events: list[str] = []
    finish = queue.finish

    def finishing(*args: Any, **kwargs: Any) -> bool:
        events.append("result recorded")
        return finish(*args, **kwargs)

    monkeypatch.setattr(queue, "finish", finishing)
    serving = worker(store, "w1")
    destroy = serving.executor.destroy

    async def destroying(handle: Any) -> None:
        events.append("removed")
        await destroy(handle)

    monkeypatch.setattr(serving.executor, "destroy", destroying)
    (state,) = asyncio.run(with_workers(store, [serving], flow(sh('echo "done"'))))
    assert state.status == "success", state.reason
    assert events == ["result recorded", "removed"]
    store.close()


def test_a_job_runs_only_on_a_worker_with_its_labels(any_store: Store) -> None:
    doc = flow(
        sh('echo "on $CO_WORKER"', labels={"gpu": "true"}),
        sh('echo "on $CO_WORKER"'),
        parallel=True,
    )
    workers = [worker(any_store, "cpu", slots=4), worker(any_store, "gpu", slots=1, gpu="true")]
    states = asyncio.run(with_workers(any_store, workers, doc, doc, doc))
    for state in states:
        assert state.status == "success"
        gpu_lines = [row.line for row in any_store.log_lines(state.id, job_path="build.a0.job-1")]
        assert gpu_lines == ["on gpu"]
    others = {
        row.line for state in states for row in any_store.log_lines(state.id, job_path="build.a1.job-1")
    }
    assert others <= {"on cpu", "on gpu"}  # a job without labels: any worker


def test_a_job_no_worker_can_take_says_why_and_times_out(any_store: Store) -> None:
    doc = flow(sh("echo never", labels={"gpu": "true"}, timeout="2s"))
    (state,) = asyncio.run(with_workers(any_store, [worker(any_store, "cpu")], doc))
    job = state.jobs["build.a0.job-1"]
    assert (state.status, job.reason) == ("failure", "timeout after 2 s")
    lines = [row.line for row in any_store.log_lines(state.id)]
    assert lines == ["[coops] waiting for a worker: no worker with gpu=true"]
    assert runs.attempts(any_store, state.id)[0]["status"] == "failure"
