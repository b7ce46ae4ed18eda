"""``coops server --workers N``: one command, and the jobs run in worker processes beside
the server (the dummy executor's lines and outputs come back as in-process); ``coops workers
list`` and ``/metrics`` show them; stopping the server stops its workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
from tests.server.conftest import ServerProcess
from tests.server.flows import flow_doc, start, wait_for_run
from tests.server.test_metrics import samples
from tests.waiting import wait_for

from containerops.store import Store, runs
from containerops.store import workers as queue
from containerops.store.accounts import create_token, create_user


def coops(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COOPS_HOME": str(home)}  # and the test's database (--database)
    return subprocess.run(
        [sys.executable, "-m", "containerops.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_server_with_workers_runs_its_jobs_in_them(
    store: Store, coops_home: Path, server_process: Callable[..., ServerProcess]
) -> None:
    create_user(store, "root", admin=True)
    token = create_token(store, "root", "admin")
    server = server_process("dummy", "--workers", "2", "--worker-slots", "2")
    wait_for(lambda: len([w for w in queue.list_workers(store) if w.live]) == 2, "two workers", 30)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        started = start(client, flow_doc(jobs=3, lines=3, outputs={"version": "1.2"}))
        document = wait_for_run(client, started["id"])
        found = samples(client.get("/metrics").text)
    assert found[("coops_workers", ())] == 2 and found[("coops_worker_slots", ())] == 4
    assert found[("coops_worker_jobs", (("state", "done"),))] == 3
    assert found[("coops_worker_jobs", (("state", "ready"),))] == 0
    assert document["status"] == "success", document["reason"]
    assert all(
        job["outputs"] == {"version": "1.2"} for job in document["jobs"] if job["path"].startswith("build")
    )
    # every job went through the queue, to one of the server's workers
    claimed = {row.worker for row in queue_rows(store, started["id"])}
    assert claimed and all(name and name.rsplit("-", 1)[1] in ("1", "2") for name in claimed)
    assert [a["status"] for a in runs.attempts(store, started["id"])] == ["success"] * 3

    listed = coops(coops_home, "workers", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert sorted(row["slots"] for row in rows) == [2, 2] and all(row["live"] for row in rows)
    assert {row["executor"] for row in rows} == {"dummy"}
    table = coops(coops_home, "workers", "list")
    assert all(row["name"] in table.stdout for row in rows)

    # the same through the server's API, for a site administrator (read scope is enough)
    create_user(store, "alice")
    reader = create_token(store, "root", "read")
    remote = coops(coops_home, "workers", "list", "--json", "--server", server.url, "--token", reader)
    assert remote.returncode == 0, remote.stderr
    same = ("name", "labels", "slots", "executor", "live")
    assert [{key: row[key] for key in same} for row in json.loads(remote.stdout)] == [
        {key: row[key] for key in same} for row in rows
    ]
    remote_table = coops(coops_home, "workers", "list", "--server", server.url, "--token", reader)
    assert remote_table.returncode == 0 and all(row["name"] in remote_table.stdout for row in rows)
    alice = create_token(store, "alice", "admin")
    refused = coops(coops_home, "workers", "list", "--server", server.url, "--token", alice)
    assert refused.returncode == 2 and "site administrators" in refused.stderr
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        assert anonymous.get("/api/v1/workers").status_code == 401

    server.stop()
    assert queue.list_workers(store) == []  # each said it stopped


def queue_rows(store: Store, run_id: int) -> list[queue.Progress]:
    return [queue.progress(store, ready_id, 0) for ready_id in queue.ready_ids(store, run_id)]


def test_a_worker_refuses_bad_labels_and_an_unknown_executor(coops_home: Path) -> None:
    bad = coops(coops_home, "worker", "--executor", "dummy", "--labels", "gpu")
    assert bad.returncode == 2 and "--labels: 'gpu' is not KEY=VALUE" in bad.stderr
    unknown = coops(coops_home, "worker", "--executor", "warp")
    assert unknown.returncode == 2 and "unknown executor 'warp'" in unknown.stderr
    none = coops(coops_home, "workers", "list")
    assert none.returncode == 0 and "no workers" in none.stderr
