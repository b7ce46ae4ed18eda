"""``concurrency:`` across processes: separate ``coops run`` processes on one store take
turns in a group (the newer waits, shown pending with what it waits for), or with
``cancel_in_progress`` the newer cancels the older (whose exit handler still runs), and
a group whose holder was killed with -9 is not blocked by it. Local executor: each
job's end is released by a file the test creates, never by a sleep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import docker
import pytest

from containerops.store import RunRow, Store
from containerops.store import runs as store_runs
from tests.cli.test_abandoned import processes_of
from tests.cli.test_cli import BUSYBOX, COOPS, coops, write
from tests.pgserver import postgres_database
from tests.waiting import wait_for


def flow_text(*, cancel: bool, endpoint: str = BUSYBOX) -> str:
    """A flow of group deploy-$REF: ``work`` waits for the file $RELEASE (at once with
    MODE=quick), then the exit handler ``cleanup`` says so and waits for the file $HOLD."""
    return f"""\
uri: test/conc/deploy
environments: {{REF: main, RELEASE: /nonexistent, MODE: wait, HOLD: /}}
defaults: {{endpoint: "{endpoint}"}}
concurrency: {{group: "deploy-${{{{ env.REF }}}}", cancel_in_progress: {str(cancel).lower()}}}
stages:
  - name: main
    actions:
      - name: a
        jobs:
          - name: work
            command:
              - sh
              - -c
              - 'echo started; [ "$MODE" = quick ] && exit 0; until [ -e "$RELEASE" ]; do sleep 0.05; done'
          - name: cleanup
            when: always
            command: [sh, -c, 'echo cleaned; until [ -e "$HOLD" ]; do sleep 0.05; done']
"""


def start(
    home: Path, flow: Path, *sets: str, database: str | None = None, executor: str = "local"
) -> subprocess.Popen[str]:
    """``coops run`` of ``flow`` with ``--set`` each of ``sets``, its output kept; on
    ``database`` (a SQLAlchemy URL) rather than the test's when given."""
    env = {**os.environ, "COOPS_HOME": str(home), "COLUMNS": "200"}
    if database is not None:
        env["COOPS_DATABASE_URL"] = database
    args = [arg for value in sets for arg in ("--set", value)]
    return subprocess.Popen(
        [*COOPS, "run", str(flow), "--executor", executor, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _open(home: Path, database: str | None) -> Store | None:
    if database is None and not (home / "containerops.db").exists():
        return None
    return Store.open(database or f"sqlite:///{home / 'containerops.db'}")


def run_row(home: Path, run_id: int, database: str | None = None) -> RunRow | None:
    store = _open(home, database)
    if store is None:
        return None
    try:
        return store.get_run(run_id) if any(r.id == run_id for r in store.list_runs()) else None
    finally:
        store.close()


def job(home: Path, run_id: int, name: str, database: str | None = None) -> str | None:
    run = run_row(home, run_id, database)
    return None if run is None else next(j.status for j in run.jobs if j.path == f"main.a.{name}")


def history(home: Path, run_id: int) -> list[dict[str, object]]:
    store = _open(home, None)
    assert store is not None
    try:
        return store_runs.state_changes(store, run_id)
    finally:
        store.close()


def ended(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = process.communicate(timeout=120)
    return process.returncode, out


def test_a_newer_run_of_the_group_waits_until_the_older_one_has_ended(tmp_path: Path) -> None:
    home, release = tmp_path / "home", tmp_path / "release"
    flow = write(tmp_path, flow_text(cancel=False))
    first = start(home, flow, f"RELEASE={release}")
    wait_for(lambda: job(home, 1, "work") == "running", "run 1 to start its job")
    second = start(home, flow, f"RELEASE={release}")
    wait_for(lambda: getattr(run_row(home, 2), "reason", None) is not None, "run 2 to say why it waits")

    # another value of the template is another group: it runs at once
    other = coops("run", str(flow), "-e", "local", "--set", "REF=other", "--set", "MODE=quick", home=home)
    assert other.returncode == 0, other.stdout + other.stderr
    shown = json.loads(coops("runs", "show", "2", "--json", home=home, check=0).stdout)
    assert (shown["status"], shown["reason"]) == ("pending", "waiting for run 1 of group deploy-main")
    assert {j["status"] for j in shown["jobs"]} == {"pending"}, "nothing of run 2 ran while run 1 held it"
    assert job(home, 1, "work") == "running"

    # Ctrl-C while it waits: cancelled, nothing of it run (run 3 was the other group's)
    interrupted = start(home, flow, f"RELEASE={release}")
    wait_for(lambda: getattr(run_row(home, 4), "reason", None) is not None, "run 4 to wait")
    interrupted.send_signal(signal.SIGINT)
    code, out = ended(interrupted)
    four = run_row(home, 4)
    assert four is not None and code == 130, out
    assert (four.status, four.reason) == ("cancelled", "cancelled by SIGINT")
    assert {(j.status, j.started_at) for j in four.jobs} == {("skipped", None)}

    release.touch()
    (code1, _), (code2, out2) = ended(first), ended(second)
    assert (code1, code2) == (0, 0), out2
    assert "run 2 is waiting for run 1 of group deploy-main" in out2
    one, two = run_row(home, 1), run_row(home, 2)
    assert one is not None and two is not None and one.finished_at is not None
    assert two.status == "success" and two.reason is None
    assert all(j.started_at is not None and j.started_at >= one.finished_at for j in two.jobs)
    statuses = [(h["status"], h["reason"]) for h in history(home, 2) if h["job"] is None]
    assert statuses[:3] == [
        ("pending", None),
        ("pending", "waiting for run 1 of group deploy-main"),
        ("running", None),
    ]


def test_cancel_in_progress_cancels_the_older_runs_and_their_exit_handlers_still_run(tmp_path: Path) -> None:
    home, hold = tmp_path / "home", tmp_path / "hold"
    flow = write(tmp_path, flow_text(cancel=True))
    first = start(home, flow, f"HOLD={hold}")  # its exit handler waits for the file
    wait_for(lambda: job(home, 1, "work") == "running", "run 1 to start its job")

    second = start(home, flow, "MODE=quick")
    wait_for(lambda: job(home, 1, "cleanup") == "running", "run 1's exit handler after its cancel")
    wait_for(lambda: getattr(run_row(home, 2), "reason", None) is not None, "run 2 to wait for run 1")
    one = run_row(home, 1)
    assert one is not None and one.status == "running"  # its exit handler runs
    assert (one.jobs[0].status, one.jobs[0].reason) == (
        "cancelled",
        "cancelled by run 2 (concurrency group deploy-main)",
    )
    assert job(home, 2, "work") == "pending"

    # a third run cancels the second while it waits: nothing of the second ever runs
    third = start(home, flow, "MODE=quick")
    code2, out2 = ended(second)
    two = run_row(home, 2)
    assert two is not None and code2 == 130, out2
    assert (two.status, two.reason) == ("cancelled", "cancelled by run 3 (concurrency group deploy-main)")
    assert [(j.status, j.started_at) for j in two.jobs] == [("skipped", None), ("skipped", None)]

    hold.touch()
    (code1, out1), (code3, out3) = ended(first), ended(third)
    assert (code1, code3) == (130, 0), out1 + out3
    one, three = run_row(home, 1), run_row(home, 3)
    assert one is not None and three is not None and one.finished_at is not None
    assert (one.status, one.reason) == ("cancelled", "cancelled by run 2 (concurrency group deploy-main)")
    assert [j.status for j in one.jobs] == ["cancelled", "success"]  # work, then its exit handler
    store = Store.open(f"sqlite:///{home / 'containerops.db'}")
    try:
        assert "cleaned" in [line.line for line in store.log_lines(1)]
    finally:
        store.close()
    assert three.status == "success"
    assert all(j.started_at is not None and j.started_at >= one.finished_at for j in three.jobs)


def test_a_holder_killed_with_sigkill_does_not_block_its_group(tmp_path: Path) -> None:
    home = tmp_path / "home"
    flow = write(tmp_path, flow_text(cancel=False))
    first = start(home, flow)  # its job waits for a file nobody makes
    wait_for(lambda: job(home, 1, "work") == "running", "run 1 to start its job")
    one = run_row(home, 1)
    assert one is not None and processes_of(one.uid)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)

    second = coops("run", str(flow), "-e", "local", "--set", "MODE=quick", home=home)

    assert second.returncode == 0, second.stdout + second.stderr
    one, two = run_row(home, 1), run_row(home, 2)
    assert one is not None and two is not None
    assert one.status == "failure" and str(one.reason).startswith("abandoned:"), one.reason
    assert two.status == "success"
    wait_for(lambda: not processes_of(one.uid), "the killed run's job process to be stopped", 10)


def test_runs_take_turns_and_cancel_on_postgresql(tmp_path: Path) -> None:
    home, hold = tmp_path / "home", tmp_path / "hold"
    flow = write(tmp_path, flow_text(cancel=True))
    with postgres_database() as url:
        first = start(home, flow, f"HOLD={hold}", database=url)
        wait_for(lambda: job(home, 1, "work", url) == "running", "run 1 to start its job")
        second = start(home, flow, "MODE=quick", database=url)
        wait_for(lambda: job(home, 1, "cleanup", url) == "running", "run 1's exit handler after its cancel")
        wait_for(lambda: getattr(run_row(home, 2, url), "reason", None) is not None, "run 2 to wait")
        waiting = run_row(home, 2, url)
        assert waiting is not None and (waiting.status, waiting.reason) == (
            "pending",
            "waiting for run 1 of group deploy-main",
        )

        hold.touch()
        (code1, out1), (code2, out2) = ended(first), ended(second)
        assert (code1, code2) == (130, 0), out1 + out2
        one, two = run_row(home, 1, url), run_row(home, 2, url)
    assert one is not None and two is not None and one.finished_at is not None
    assert (one.status, one.reason) == ("cancelled", "cancelled by run 2 (concurrency group deploy-main)")
    assert two.status == "success"
    assert all(j.started_at is not None and j.started_at >= one.finished_at for j in two.jobs)
    assert not (home / "containerops.db").exists()  # it all went to PostgreSQL


@pytest.mark.docker
def test_cancel_in_progress_on_docker_stops_the_older_runs_container(
    tmp_path: Path, docker_ready: None
) -> None:
    home = tmp_path / "home"
    client = docker.from_env()
    flow = write(tmp_path, flow_text(cancel=True))
    first = start(home, flow, executor="docker")
    wait_for(lambda: job(home, 1, "work") == "running", "run 1 to start its container", 120)
    one = run_row(home, 1)
    assert one is not None
    wait_for(
        lambda: bool(client.containers.list(filters={"label": f"containerops.run={one.uid}"})),
        "its container",
    )

    second = start(home, flow, "MODE=quick", executor="docker")
    (code1, out1), (code2, out2) = ended(first), ended(second)

    assert (code1, code2) == (130, 0), out1 + out2
    one, two = run_row(home, 1), run_row(home, 2)
    assert one is not None and two is not None and one.finished_at is not None
    assert (one.status, one.reason) == ("cancelled", "cancelled by run 2 (concurrency group deploy-main)")
    assert [j.status for j in one.jobs] == ["cancelled", "success"]  # its exit handler ran, in a container
    assert two.status == "success" and all(j.started_at and j.started_at >= one.finished_at for j in two.jobs)
    assert client.containers.list(all=True, filters={"label": f"containerops.run={one.uid}"}) == []
