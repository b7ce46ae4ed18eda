"""A ``coops server`` on workers killed with -9 mid-job, on PostgreSQL, with real server
and ``coops worker`` processes: its jobs go on under their workers; started again (or a
second server sharing the database, which looks for dead servers' runs every few seconds)
it follows their attempts where they are: a job that went on is recorded once, with
every line it printed exactly once, in order; a job that ended while no server watched
is recorded as it ended and the run goes on; a queued run starts; a paused run waits for
its decision; nothing is failed or run again for having been unobserved (nor settled as
abandoned by a ``coops cleanup`` while no server runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from containerops.component.testserver import CaptureServer
from containerops.store import Store, runs
from containerops.store.accounts import create_token, create_user
from containerops.store.notifications import list_notifications
from tests.pgserver import postgres_database
from tests.server.conftest import ServerProcess
from tests.server.flows import start, wait_for_run
from tests.waiting import wait_for
from tests.workers.processes import WorkerProcess

LONG, SHORT = 30, 6  # lines, one every 0.2 s


def job(marks: Path, name: str, lines: int) -> dict[str, Any]:
    """Notes each start of it in a file of its own; prints ``lines`` lines, one every 0.2 s."""
    script = f'echo "start $CO_ATTEMPT $CO_WORKER" >> {marks}/$CO_RUN_ID-{name}; '
    script += f'for i in $(seq {lines}); do echo "{name} $i"; sleep 0.2; done'
    return {"name": name, "command": ["sh", "-c", script], "retries": 2}


def flow(uri: str, *jobs: dict[str, Any], pause: bool = False) -> dict[str, Any]:
    stages: list[dict[str, Any]] = [{"type": "start", "name": "start"}]
    if pause:
        stages.append({"type": "pause", "name": "approve"})
    stages.append(
        {
            "type": "normal",
            "name": "build",
            "actions": [{"name": f"a{index}", "jobs": [one]} for index, one in enumerate(jobs)],
        }
    )
    return {"uri": uri, "stages": [*stages, {"type": "end", "name": "end"}]}


@pytest.fixture
def postgres(coops_home: Path) -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
def store(postgres: str) -> Iterator[Store]:
    opened = Store.open(postgres)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def headers(store: Store) -> dict[str, str]:
    """An administrator's bearer token."""
    create_user(store, "root", admin=True)
    return {"Authorization": f"Bearer {create_token(store, 'root', 'admin')}"}


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    """Where the jobs leave a line each time they start."""
    folder = tmp_path / "marks"
    folder.mkdir()
    return folder


def stored(store: Store, run_id: int) -> list[str]:
    return [row.line for row in store.log_lines(run_id)]


@pytest.mark.parametrize("after", ["restarted", "second server"])
def test_jobs_go_on_under_their_workers_when_their_server_is_killed(
    postgres: str,
    store: Store,
    headers: dict[str, str],
    marks: Path,
    coops_home: Path,
    tmp_path: Path,
    after: str,
) -> None:
    workers = [WorkerProcess(f"w{index}", postgres, tmp_path, slots=2) for index in (1, 2)]
    env = {"COOPS_DATABASE_URL": postgres}
    first = ServerProcess(coops_home, "local", "--external-workers", "--max-runs", "3", env=env)
    second = ServerProcess(coops_home, "local", "--external-workers", "--max-runs", "3", env=env)
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.wait_registered(store)
        first.start()
        if after == "second server":
            second.start()  # after the first: it has nothing to take over yet
        with httpx.Client(base_url=first.url, headers=headers, timeout=30) as client:
            long = start(client, flow("test/survive/long", job(marks, "long", LONG)))
            short = start(
                client, flow("test/survive/short", job(marks, "short", SHORT), job(marks, "next", 2))
            )
            paused = start(client, flow("test/survive/paused", job(marks, "gated", 1), pause=True))
            queued = start(client, flow("test/survive/queued", job(marks, "queued", 2)))  # no slot
            wait_for(lambda: len(stored(store, long["id"])) >= 3, "the long job's first lines", 60)
            wait_for(lambda: len(stored(store, short["id"])) >= 1, "the short job's first line", 60)
            assert client.get(f"/api/v1/runs/{paused['id']}").json()["status"] == "paused"
        first.kill()
        killed = [line for line in stored(store, long["id"])]
        # a coops command meanwhile settles abandoned runs: not a server's, whose jobs go on
        cleanup = subprocess.run(
            [sys.executable, "-m", "containerops.cli.main", "cleanup"],
            env=os.environ | env | {"COOPS_HOME": str(coops_home)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cleanup.returncode == 0 and "abandoned" not in cleanup.stderr, cleanup.stderr
        time.sleep(SHORT * 0.2 + 1)  # the short job ends while no server watches
        # not settled by the cleanup; the second server may have taken them up already
        followed = ("running", "success") if after == "second server" else ("running",)
        assert store.get_run(short["id"]).status in followed
        assert store.get_run(queued["id"]).status in ("pending", *followed)
        if after == "restarted":
            second.start()
        with httpx.Client(base_url=second.url, headers=headers, timeout=30) as client:
            documents = {
                name: wait_for_run(client, run["id"], timeout=90)
                for name, run in (("long", long), ("short", short), ("queued", queued))
            }
            still = client.get(f"/api/v1/runs/{paused['id']}").json()
            assert still["status"] == "paused", still
            approved = client.post(f"/api/v1/runs/{paused['id']}/approve", json={})
            assert approved.status_code == 200, approved.text
            documents["paused"] = wait_for_run(client, paused["id"], timeout=60)
        for name, document in documents.items():
            assert document["status"] == "success", (name, document["reason"], first.stderr_text)
        for run in (long, short, paused, queued):  # one attempt each: none cut, none run again
            assert [a["status"] for a in runs.attempts(store, run["id"])] == ["success"] * len(
                runs.attempts(store, run["id"])
            )
            assert all(a["attempt"] == 1 for a in runs.attempts(store, run["id"]))
        assert len(killed) < LONG  # the server was killed mid-job
        assert stored(store, long["id"]) == [f"long {i}" for i in range(1, LONG + 1)]
        assert stored(store, short["id"]) == [
            *(f"short {i}" for i in range(1, SHORT + 1)),
            *(f"next {i}" for i in (1, 2)),
        ]
        started = sorted(path.name.split("-", 1)[1] for path in marks.iterdir())
        assert started == ["gated", "long", "next", "queued", "short"]
        for path in marks.iterdir():  # each job started once
            assert len(path.read_text().splitlines()) == 1, (path.name, path.read_text())
    finally:
        first.stop()
        second.stop()
        for worker in workers:
            worker.stop()


def test_an_attempt_followed_again_keeps_its_time_and_the_retries_spent(
    postgres: str, store: Store, headers: dict[str, str], marks: Path, coops_home: Path, tmp_path: Path
) -> None:
    """The server that takes up a killed server's run counts an attempt it follows again
    against the job's timeout from the attempt's start, not from the take-up, and a job's
    retries already spent stay spent."""
    worker = WorkerProcess("w1", postgres, tmp_path, slots=2)
    server = ServerProcess(coops_home, "local", "--external-workers", env={"COOPS_DATABASE_URL": postgres})
    timed = {"name": "timed", "command": ["sh", "-c", "echo begun; sleep 9"], "timeout": 6}
    failing = {
        "name": "failing",
        "command": ["sh", "-c", f"echo $CO_ATTEMPT >> {marks}/failing; sleep 3; exit 1"],
        "retries": 1,
    }

    def attempts_begun() -> list[str]:
        return (marks / "failing").read_text().split() if (marks / "failing").exists() else []

    try:
        worker.start()
        worker.wait_registered(store)
        server.start()
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            runs_started = {
                "timed": start(client, flow("test/adopted/timed", timed)),
                "failing": start(client, flow("test/adopted/failing", failing)),
            }
            wait_for(lambda: attempts_begun() == ["1", "2"], "the failing job's second attempt", 60)
        server.kill()  # 3 s or more into the timed job: a fresh 6 s from here would let it end
        server.start()
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            ended = {name: wait_for_run(client, run["id"], timeout=60) for name, run in runs_started.items()}
        assert ended["timed"]["status"] == "failure", ended["timed"]
        timed_attempts = runs.attempts(store, runs_started["timed"]["id"])
        assert [(a["attempt"], a["reason"]) for a in timed_attempts] == [(1, "timeout after 6 s")]
        assert ended["failing"]["status"] == "failure"
        failing_attempts = runs.attempts(store, runs_started["failing"]["id"])
        assert [(a["attempt"], a["status"]) for a in failing_attempts] == [(1, "failure"), (2, "failure")]
        assert attempts_begun() == ["1", "2"]  # no third: its one retry was spent
    finally:
        server.stop()
        worker.stop()


def test_the_server_taking_a_run_over_applies_its_log_rules(
    postgres: str, store: Store, headers: dict[str, str], marks: Path, coops_home: Path, tmp_path: Path
) -> None:
    """A run's ``logs:`` rules go on under the server that takes it over: lines printed after
    its server was killed are forwarded to the sink, and one matching them notifies."""
    worker = WorkerProcess("w1", postgres, tmp_path, slots=2)
    env = {"COOPS_DATABASE_URL": postgres}
    first = ServerProcess(coops_home, "local", "--external-workers", env=env)
    second = ServerProcess(coops_home, "local", "--external-workers", env=env)
    with CaptureServer() as hook, CaptureServer() as sink:
        doc = flow("test/survive/rules", job(marks, "long", LONG))
        doc["receivers"] = [{"type": "webhook", "name": "oncall", "url": f"{hook.url}/alerts"}]
        doc["logs"] = [
            {"match": f"^long ({LONG - 2}|{LONG - 1})$", "notify": ["oncall"], "at_most": "1/1h"},
            {"forward": {"webhook": f"{sink.url}/in", "every": "100ms"}},
        ]
        try:
            worker.start()
            worker.wait_registered(store)
            first.start()
            second.start()
            with httpx.Client(base_url=first.url, headers=headers, timeout=30) as client:
                run = start(client, doc)
                wait_for(lambda: len(stored(store, run["id"])) >= 3, "the job's first lines", 60)
            first.kill()
            killed = len(stored(store, run["id"]))
            with httpx.Client(base_url=second.url, headers=headers, timeout=30) as client:
                assert wait_for_run(client, run["id"], timeout=90)["status"] == "success"
            wait_for(lambda: len(logged(store, run["id"])) >= 1, "the log rule's notification", 30)
            time.sleep(0.5)  # a second one, if the limit did not hold, would be there by now
            forwarded = [item["line"] for post in sink.received for item in json.loads(post.body)["lines"]]
            alerts = [json.loads(r.body) for r in hook.received if json.loads(r.body)["event"] == "run.log"]
        finally:
            first.stop()
            second.stop()
            worker.stop()
    assert killed < LONG - 2  # the matching lines came after the kill
    after = [f"long {i}" for i in range(killed + 3, LONG + 1)]  # surely read by the second server
    assert list(dict.fromkeys(line for line in forwarded if line in after)) == after
    assert len(logged(store, run["id"])) == 1 and len(alerts) == 1
    assert f"long {LONG - 2}" in alerts[0]["run"]["reason"]


def logged(store: Store, run_id: int) -> list[dict[str, Any]]:
    return [n for n in list_notifications(store, run_id) if n["event"] == "log"]
