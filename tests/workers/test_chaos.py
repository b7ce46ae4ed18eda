"""A bounded chaos test: real ``coops worker`` processes on PostgreSQL (and MariaDB), runs
of several jobs with retries, and every few seconds one worker killed with -9 and started
again. Afterwards every run has succeeded; the side effect of each job's succeeded attempt
(lines appended to a file of its own) is there exactly once; no two attempts of a job ran
at the same time (each attempt's file spans its life: start, ticks, end); every line a
succeeded attempt printed is stored, in order; no job process of ours is left. CI runs a
small size; ``COOPS_CHAOS_RUNS=300`` runs the issue's (longer than CI's 300 s test timeout)."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from containerops.store import Store, runs
from containerops.store import workers as queue
from containerops.workers.leftovers import CLAIM_ENV
from tests.mariadbserver import mariadb_database
from tests.pgserver import postgres_database
from tests.workers.flows import flow, run_on_queue, sh
from tests.workers.processes import WorkerProcess

JOBS = ("a", "b", "c")
TICKS = 4


def job(marks: Path, run: int, name: str) -> dict[str, object]:
    """Appends start, ticks and end (with times) to a file of its own attempt; prints lines."""
    file = f"{marks}/{run}-{name}-$CO_ATTEMPT"
    script = f'echo "start $CO_WORKER $(date +%s.%N)" >> {file}; '
    script += (
        f'for i in $(seq {TICKS}); do echo "tick $(date +%s.%N)" >> {file}; echo "line $i"; sleep 0.1; done; '
    )
    script += f'echo "end $(date +%s.%N)" >> {file}'
    return {**sh(script, retries=5), "name": name}


@pytest.fixture(params=[("postgresql", 24), ("mariadb", 10)], ids=["postgresql", "mariadb"])
def chaos_database(request: pytest.FixtureRequest, coops_home: Path) -> Iterator[tuple[str, int]]:
    kind, size = request.param
    if os.environ.get("COOPS_CHAOS_RUNS", "").isdigit():  # the full size: COOPS_CHAOS_RUNS=300
        size = int(os.environ["COOPS_CHAOS_RUNS"])
    with (postgres_database if kind == "postgresql" else mariadb_database)() as url:
        yield url, size


def times(path: Path) -> list[float]:
    return [float(line.split()[-1]) for line in path.read_text().splitlines()]


def test_workers_killed_and_restarted_lose_no_run_and_run_no_job_twice(
    chaos_database: tuple[str, int], tmp_path: Path
) -> None:
    url, size = chaos_database
    marks = tmp_path / "marks"
    marks.mkdir()
    store = Store.open(url)
    workers = [WorkerProcess(f"w{index}", url, tmp_path, slots=3, lease=3.0) for index in (1, 2)]
    kills = 0
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.wait_registered(store)
        docs = [
            flow(*(job(marks, run, name) for name in JOBS), uri=f"test/chaos/run-{run}")
            for run in range(size)
        ]

        async def chaos(done: asyncio.Event) -> None:
            nonlocal kills
            chooser = random.Random(12)
            while not done.is_set():
                await asyncio.sleep(chooser.uniform(1.5, 3.0))
                if done.is_set():
                    return
                victim = chooser.choice(workers)
                victim.kill()
                kills += 1
                victim.start()  # again under its name: it stops what it left, then takes jobs again

        async def scenario() -> list[str]:
            done = asyncio.Event()
            killer = asyncio.create_task(chaos(done))
            try:
                states = await asyncio.wait_for(
                    asyncio.gather(*(run_on_queue(store, doc) for doc in docs)), max(300, 3 * size)
                )
            finally:
                done.set()
                await killer
            return [state.status for state in states]

        statuses = asyncio.run(scenario())
        assert statuses == ["success"] * size
        assert kills >= 1
        lost = 0
        for row in runs.list_runs(store, limit=size):
            attempts = runs.attempts(store, row.id)
            run = int(row.uri.rsplit("-", 1)[1])
            for name in JOBS:
                mine = [a for a in attempts if a["job"] == f"build.a{JOBS.index(name)}.{name}"]
                assert mine[-1]["status"] == "success" and all(a["status"] == "failure" for a in mine[:-1])
                lost += len(mine) - 1
                final = (marks / f"{run}-{name}-{len(mine)}").read_text().splitlines()
                # exactly once: one start, its ticks and one end
                assert [line.split()[0] for line in final] == ["start", *["tick"] * TICKS, "end"]
                spans = [
                    times(path)
                    for n in range(1, len(mine) + 1)
                    if (path := marks / f"{run}-{name}-{n}").exists()
                ]
                for earlier, later in itertools.pairwise(spans):
                    assert earlier[-1] < later[0], f"two attempts of {run}/{name} ran at once"
                stored = [
                    line.line
                    for line in store.log_lines(row.id, job_path=mine[-1]["job"])
                    if line.attempt == len(mine) and not line.line.startswith("[coops] waiting for a worker")
                ]  # (a retry may wait: both workers can be down at once, killed while they start)
                assert stored == [f"line {i}" for i in range(1, TICKS + 1)]
        assert queue.queue_depth(store) == 0
        assert not our_processes(), "job processes of ours are left"
        print(f"\nchaos: {size} runs of {len(JOBS)} jobs, {kills} worker kills, {lost} attempts retried")
    finally:
        for worker in workers:
            worker.stop()
        store.close()


def our_processes() -> list[int]:
    """Processes of this machine that run a job under a claim (``COOPS_CLAIM``)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if f"\0{CLAIM_ENV}=".encode() in b"\0" + environ.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found
