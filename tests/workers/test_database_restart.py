"""PostgreSQL restarted (``pg_ctl restart -m fast``) while 50 jobs run under workers, with
real ``coops server --external-workers`` and ``coops worker`` processes: every connection
is cut; each process reconnects with a growing wait and says so in its log, and nothing
is lost: every run succeeds at its first attempt with every line its job printed stored
once, in order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from containerops.store import Store, runs
from containerops.store import workers as queue
from containerops.store.accounts import create_token, create_user
from tests.pgserver import PostgresServer, postgres_server
from tests.server.conftest import ServerProcess
from tests.server.flows import as_json, wait_for_run
from tests.waiting import wait_for
from tests.workers.processes import WorkerProcess

RUNS = 50


@pytest.fixture
def postgres(coops_home: Path) -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


def running_jobs(store: Store) -> int:
    return sum(row.running for row in queue.list_workers(store))


def test_a_postgresql_restart_during_50_running_jobs_loses_nothing(
    postgres: PostgresServer, coops_home: Path, tmp_path: Path
) -> None:
    url = postgres.new_database("coops")
    store = Store.open(url)
    create_user(store, "root", admin=True)
    headers = {"Authorization": f"Bearer {create_token(store, 'root', 'admin')}"}
    workers = [WorkerProcess(f"w{index}", url, tmp_path, slots=RUNS // 2, lease=10.0) for index in (1, 2)]
    server = ServerProcess(
        coops_home, "local", "--external-workers", "--max-runs", str(RUNS), env={"COOPS_DATABASE_URL": url}
    )
    go = tmp_path / "go"  # a line every 0.25 s until the test says go, then the count
    script = f'i=0; while [ ! -e {go} ]; do i=$((i+1)); echo "line $i"; sleep 0.25; done; echo "end $i"'
    doc = {
        "uri": "test/restart/lines",
        "stages": [
            {
                "type": "normal",
                "name": "build",
                "actions": [{"name": "a", "jobs": [{"name": "j", "command": ["sh", "-c", script]}]}],
            }
        ],
    }
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.wait_registered(store)
        server.start()
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            assert client.post("/api/v1/flows", content=as_json(doc)).status_code in (200, 201)
            started = [client.post("/api/v1/runs", json={"flow": doc["uri"]}).json() for _ in range(RUNS)]
            wait_for(lambda: running_jobs(store) == RUNS, f"{RUNS} jobs to run", 120)
            postgres.restart()
            time.sleep(2)  # they print on meanwhile
            go.touch()
            documents = [wait_for_run(client, run["id"], timeout=120) for run in started]
        for run, document in zip(started, documents, strict=True):
            assert document["status"] == "success", document["reason"]
            assert [a["status"] for a in runs.attempts(store, run["id"])] == ["success"]
            lines = [row.line for row in store.log_lines(run["id"])]
            count = int(lines[-1].removeprefix("end "))
            assert lines == [*(f"line {i}" for i in range(1, count + 1)), f"end {count}"]
    finally:
        server.stop()
        for worker in workers:
            worker.stop()
        store.close()
    for worker in workers:  # each worker lost the database, and said when it had it back, in lines
        assert "lost the database" in worker.log_text() and "reconnected" in worker.log_text(), (
            worker.log_text()
        )
        assert "Traceback" not in worker.log_text(), worker.log_text()
    # the server follows the running jobs through the outage: it says so too, and when it is back
    assert "lost the database" in server.stderr_text, server.stderr_text[-3000:]
    assert "reconnected" in server.stderr_text, server.stderr_text[-3000:]
