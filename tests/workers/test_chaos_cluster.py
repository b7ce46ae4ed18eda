"""The issue's chaos test, bounded in time: two real ``coops server`` processes and three
``coops worker`` processes (Docker executor) on one PostgreSQL (and, smaller, MariaDB)
database, runs of mixed flows (a sequence, a parallel stage, a job that fails its first
attempt, a pause the test approves), and every few seconds one server or worker killed
with -9 and started again. Afterwards every run has succeeded; the side effect of each
job's succeeded attempt (marks sent to a recorder on 127.0.0.1, kept in a file of its
attempt) is there exactly once; no two attempts of a job ran at the same time; every line
a succeeded attempt printed is stored once, in order; no container of ours is left.
CI runs a small size; ``COOPS_CHAOS_RUNS=300`` runs the issue's."""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from containerops.executors.base import LABEL_RUN
from containerops.store import Store, runs
from containerops.store import workers as queue
from containerops.store.accounts import create_token, create_user
from containerops.workers.leftovers import LABEL_CLAIM
from tests.conftest import require_docker
from tests.engine.scenarios import BUSYBOX
from tests.mariadbserver import mariadb_database
from tests.pgserver import postgres_database
from tests.server.conftest import ServerProcess
from tests.server.flows import as_json
from tests.waiting import wait_for
from tests.workers.processes import WorkerProcess

TICKS = 3
KINDS = ("sequence", "parallel", "retried", "paused")
ENDED = ("success", "failure", "cancelled", "skipped", "error")


class Marks(ThreadingHTTPServer):
    """Appends ``PHASE TIME`` to ``FOLDER/RUN-JOB-ATTEMPT`` for each ``GET /RUN/JOB/ATTEMPT/PHASE``:
    a job's side effect, written outside its container, timed by one clock."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), MarkHandler)


class MarkHandler(BaseHTTPRequestHandler):
    server: Marks

    def do_GET(self) -> None:
        run, job, attempt, phase = self.path.strip("/").split("/")
        with self.server.lock, open(self.server.folder / f"{run}-{job}-{attempt}", "a") as marks:
            marks.write(f"{phase} {time.time():.6f}\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def job(port: int, name: str, *, fails_first: bool = False) -> dict[str, Any]:
    """A busybox job that marks its start, ticks and end (or a planned failure) and prints lines."""
    mark = f'wget -q -O /dev/null "http://127.0.0.1:{port}/$CO_RUN_ID/{name}/$CO_ATTEMPT/$1"'
    script = f"m() {{ {mark}; }}; m start; "
    script += f'for i in $(seq {TICKS}); do m tick; echo "{name} $i"; sleep 0.2; done; '
    if fails_first:
        script += 'if [ "$CO_ATTEMPT" = 1 ]; then m fail; exit 3; fi; '
    script += "m end"
    return {"name": name, "endpoint": BUSYBOX, "command": ["sh", "-c", script], "retries": 6}


def flow(uri: str, kind: str, port: int) -> tuple[dict[str, Any], list[str]]:
    """A flow of ``kind`` and the names of its jobs."""
    names = {
        "sequence": ["a", "b", "c"],
        "parallel": ["p", "q", "r"],
        "retried": ["flaky"],
        "paused": ["gated"],
    }
    jobs = [job(port, name, fails_first=kind == "retried") for name in names[kind]]
    build: dict[str, Any] = {
        "type": "normal",
        "name": "build",
        "actions": [{"name": f"a{index}", "jobs": [one]} for index, one in enumerate(jobs)],
    }
    if kind == "parallel":
        build["sequencing"] = "parallel"
    stages: list[dict[str, Any]] = [{"type": "start", "name": "start"}]
    if kind == "paused":
        stages.append({"type": "pause", "name": "approve"})
    stages += [build, {"type": "end", "name": "end"}]
    return {"uri": uri, "stages": stages}, names[kind]


@pytest.fixture(params=[("postgresql", 12), ("mariadb", 6)], ids=["postgresql", "mariadb"])
def chaos_database(request: pytest.FixtureRequest, coops_home: Path) -> Iterator[tuple[str, int]]:
    kind, size = request.param
    if os.environ.get("COOPS_CHAOS_RUNS", "").isdigit():
        size = int(os.environ["COOPS_CHAOS_RUNS"]) // (1 if kind == "postgresql" else 3)
    with (postgres_database if kind == "postgresql" else mariadb_database)() as url:
        yield url, size


class Cluster:
    """The servers and workers, and a client of whichever server answers."""

    def __init__(self, servers: list[ServerProcess], workers: list[WorkerProcess], token: str) -> None:
        self.servers, self.workers = servers, workers
        self.headers = {"Authorization": f"Bearer {token}"}
        self.lock = threading.Lock()  # a process is not used while it is killed and started again

    def post(self, path: str, **body: Any) -> httpx.Response:
        """POST to a living server; on to the next one while a server is down."""
        for server in itertools.cycle(self.servers):
            with self.lock:
                url = server.url
            try:
                return httpx.post(url + path, headers=self.headers, timeout=30, **body)
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def chaos(self, done: threading.Event, seed: int = 12) -> int:
        """Until ``done``: every 1.5-3 s one process killed with -9 and started again."""
        chooser, kills = random.Random(seed), 0
        victims: list[ServerProcess | WorkerProcess] = [*self.servers, *self.workers]
        while not done.wait(chooser.uniform(1.5, 3.0)):
            victim = chooser.choice(victims)
            with self.lock:
                victim.kill()
                kills += 1
                victim.start()
        return kills


def our_containers(uids: set[str]) -> list[str]:
    client = require_docker()
    try:
        found = client.api.containers(all=True, filters={"label": LABEL_CLAIM})
        return [c["Id"] for c in found if c["Labels"].get(LABEL_RUN) in uids]
    finally:
        client.close()


def story(store: Store, workers: list[WorkerProcess], run_id: int, path: str) -> str:
    """What the store and the workers' logs say of a job: for a failure's message."""
    attempts = [a for a in runs.attempts(store, run_id) if a["job"] == path]
    lines = [(row.attempt, row.seq, row.line) for row in store.log_lines(run_id, job_path=path)]
    uid = store.get_run(run_id).uid
    said = [line for worker in workers for line in worker.log_text().splitlines() if uid in line]
    return f"run {run_id} ({uid}) {path}: attempts {attempts}; lines {lines}; workers said {said[-30:]}"


def times(path: Path) -> list[float]:
    return [float(line.split()[-1]) for line in path.read_text().splitlines()]


@pytest.mark.docker
def test_servers_and_workers_killed_and_restarted_lose_no_run_and_run_no_job_twice(
    docker_ready: None,
    chaos_database: tuple[str, int],
    coops_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, size = chaos_database
    monkeypatch.setenv("COOPS_DOCKER_NETWORK", "host")  # the jobs reach the recorder on 127.0.0.1
    folder = tmp_path / "marks"
    folder.mkdir()
    marks = Marks(folder)
    threading.Thread(target=marks.serve_forever, daemon=True).start()
    port = marks.server_address[1]
    store = Store.open(url)
    create_user(store, "root", admin=True)
    env = {"COOPS_DATABASE_URL": url, "COOPS_LEASE_SECONDS": "3"}
    servers = [
        ServerProcess(coops_home, "docker", "--external-workers", "--max-runs", "4", env=env) for _ in (1, 2)
    ]
    workers = [
        WorkerProcess(f"w{n}", url, tmp_path, slots=3, lease=3.0, executor="docker") for n in (1, 2, 3)
    ]
    cluster = Cluster(servers, workers, create_token(store, "root", "admin"))
    done = threading.Event()
    kills: list[int] = []
    chaos = threading.Thread(target=lambda: kills.append(cluster.chaos(done)))
    started_at = time.monotonic()
    processes: list[ServerProcess | WorkerProcess] = [*workers, *servers]
    try:
        for process in processes:
            process.start()
        for worker in workers:
            worker.wait_registered(store)
        planned: dict[int, tuple[str, list[str]]] = {}  # run id: its kind and its jobs
        for n in range(size):
            kind = KINDS[n % len(KINDS)]
            doc, names = flow(f"test/chaos/{kind}", kind, port)
            if n < len(KINDS):
                saved = cluster.post("/api/v1/flows", content=as_json(doc))
                assert saved.status_code in (200, 201), saved.text
            answer = cluster.post("/api/v1/runs", json={"flow": doc["uri"]})
            assert answer.status_code == 202, answer.text
            planned[answer.json()["id"]] = (kind, names)
        chaos.start()

        def settled() -> bool:
            """Whether every run has ended; approves the paused ones meanwhile."""
            time.sleep(0.3)  # (one query of every run each time)
            statuses = {row.id: row.status for row in runs.list_runs(store, limit=size + 10)}
            for run_id in planned:
                if statuses[run_id] == "paused":
                    decided = cluster.post(f"/api/v1/runs/{run_id}/approve", json={"comment": "chaos"})
                    assert decided.status_code in (200, 409), decided.text  # 409: approved already
            return all(statuses[run_id] in ENDED for run_id in planned)

        wait_for(settled, "every run to end", max(240, 3 * size))
        done.set()
        chaos.join()
        statuses = {run_id: store.get_run(run_id).status for run_id in planned}
        assert [run_id for run_id, status in statuses.items() if status != "success"] == [], statuses
        retried = 0
        for run_id, (kind, names) in planned.items():
            attempts = runs.attempts(store, run_id)
            for index, name in enumerate(names):
                path = f"build.a{index}.{name}"
                mine = [a for a in attempts if a["job"] == path]
                assert mine[-1]["status"] == "success", (run_id, path, mine)
                assert all(a["status"] == "failure" for a in mine[:-1]), (run_id, path, mine)
                retried += len(mine) - 1
                final = folder / f"{run_id}-{name}-{len(mine)}"
                # the side effect exactly once: one start, its ticks and one end
                phases = (
                    [line.split()[0] for line in final.read_text().splitlines()] if final.exists() else []
                )
                assert phases == ["start", *["tick"] * TICKS, "end"], story(store, workers, run_id, path)
                spans = [
                    times(p)
                    for n in range(1, len(mine) + 1)
                    if (p := folder / f"{run_id}-{name}-{n}").exists()
                ]
                for earlier, later in itertools.pairwise(spans):
                    assert earlier[-1] < later[0], f"two attempts of {run_id}/{path} ran at once"
                for attempt in mine[:-1]:  # each failed as planned or was lost: none went on to its end
                    failed = folder / f"{run_id}-{name}-{attempt['attempt']}"
                    phases = (
                        [line.split()[0] for line in failed.read_text().splitlines()]
                        if failed.exists()
                        else []
                    )
                    if not attempt["reason"].startswith("worker lost"):  # then it failed as planned
                        by_design = kind == "retried" and attempt["attempt"] == 1
                        assert by_design and attempt["reason"] == "exit code 3", (run_id, path, attempt)
                        assert phases[-1:] == ["fail"], (run_id, path, phases)
                    assert "end" not in phases, (run_id, path, attempt)
                stored = [
                    line.line
                    for line in store.log_lines(run_id, job_path=path)
                    if line.attempt == len(mine) and not line.line.startswith("[coops]")
                ]
                assert stored == [f"{name} {i}" for i in range(1, TICKS + 1)], story(
                    store, workers, run_id, path
                )
        assert queue.queue_depth(store) == 0
        uids = {store.get_run(run_id).uid for run_id in planned}
        wait_for(lambda: our_containers(uids) == [], "no container of ours to be left", 60)
        print(
            f"\nchaos: {size} runs ({', '.join(KINDS)}), 2 servers and 3 workers, {kills[0]} kills,"
            f" {retried} attempts run again, {time.monotonic() - started_at:.0f} s"
        )
    finally:
        done.set()
        if chaos.is_alive():
            chaos.join()
        for process in processes:
            process.stop()
        marks.shutdown()
        store.close()
