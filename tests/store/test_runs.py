"""Run queries of store/runs.py and store/logs.py that no other test reads directly:
listing filters, what started a run, the server's interrupted and queued runs, job paths."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from containerops.store import Store, StoreError
from containerops.store.logs import job_paths
from containerops.store.ownership import this_process
from containerops.store.runs import (
    add_jobs,
    cancel_queued_run,
    claim_orphaned_server_runs,
    mark_server_run,
    run_flow_version,
    run_origin,
    state_changes,
)
from containerops.store.values import utcnow

JOBS = [("s.a.first", "img"), ("s.a.second", None), ("s.b.third", None)]


def new_run(store: Store, uri: str = "a/b/c", jobs: list[tuple[str, str | None]] | None = None) -> int:
    flow_id, version_id, _ = store.save_flow(uri, "x", "yaml")
    return store.create_run(flow_id, version_id, "dummy", {}, JOBS if jobs is None else jobs).id


def test_list_runs_filters(store: Store) -> None:
    first, second = new_run(store, "a/b/c"), new_run(store, "a/b/c")
    other, tests_run = new_run(store, "a_x/b/c"), new_run(store, "axx/b/c")
    recorder = store.recorder(second)
    recorder.run("running", utcnow())
    recorder.flush()

    def ids(**filters: Any) -> list[int]:
        return [run.id for run in store.list_runs(**filters)]

    assert ids() == [tests_run, other, second, first]
    assert ids(limit=2) == [tests_run, other]
    assert ids(uri="a/b/c") == [second, first]
    assert ids(status="running") == [second]
    assert ids(uri="a/b/c", number=1) == [first]
    assert ids(before_id=other) == [second, first]
    # a namespace is matched as a prefix up to its slash, with LIKE wildcards taken literally
    assert ids(namespaces=["a_x"]) == [other]
    assert ids(namespaces=[]) == []
    assert ids(hide_namespaces=["a_x", "a"]) == [tests_run]
    assert ids(since=utcnow() + timedelta(hours=1)) == []
    assert ids(until=utcnow() + timedelta(hours=1)) == [tests_run, other, second, first]


def test_origin_and_flow_version_of_a_run(store: Store) -> None:
    flow_id, version_id, _ = store.save_flow("a/b/c", "x", "yaml")
    first = store.create_run(flow_id, version_id, "dummy", {}, []).id
    _, newer_version, _ = store.save_flow("a/b/c", "changed", "yaml")
    rerun = store.create_run(flow_id, newer_version, "dummy", {}, []).id
    assert run_origin(store, first) == (None, None)
    mark_server_run(store, rerun, {"type": "api", "user": "ana"}, first)
    assert run_origin(store, rerun) == ({"type": "api", "user": "ana"}, first)
    assert run_flow_version(store, first) == (flow_id, version_id)
    assert run_flow_version(store, rerun) == (flow_id, newer_version)
    for query in (run_origin, run_flow_version):
        with pytest.raises(StoreError, match="no run with id 999"):
            query(store, 999)


def test_job_paths_in_the_flows_order(store: Store) -> None:
    run_id = new_run(store, jobs=[("s.z.last", None), ("s.a.first", None)])
    assert job_paths(store, run_id) == ["s.z.last", "s.a.first"]
    assert job_paths(store, 999) == []


def test_a_queued_run_cancelled_skips_every_job(store: Store) -> None:
    run_id = new_run(store)
    cancel_queued_run(store, run_id, "not needed")
    run = store.get_run(run_id)
    assert (run.status, run.reason) == ("cancelled", "not needed") and run.finished_at is not None
    assert {(job.status, job.reason) for job in run.jobs} == {("skipped", "skipped: not needed")}
    assert [(c["job"], c["status"], c["attempt"]) for c in state_changes(store, run_id)] == [
        (None, "pending", None),
        ("s.a.first", "skipped", None),
        ("s.a.second", "skipped", None),
        ("s.b.third", "skipped", None),
        (None, "cancelled", None),
    ]


def test_a_server_claims_the_server_runs_no_live_process_owns(store: Store) -> None:
    """Queued, running and paused server runs (with a trigger) whose owner is gone are taken
    over, each once; a live owner's, a local run and a finished run are left alone."""
    queued, running, paused, alive, local, done, unowned = (new_run(store) for _ in range(7))
    for run_id in (queued, running, paused, alive, done, unowned):
        mark_server_run(store, run_id, {"type": "api"}, None)
    now = utcnow()
    for run_id, status, owner in (
        (queued, "pending", "gone:1:1"),
        (running, "running", "gone:1:1"),
        (paused, "paused", "gone:2:2"),
        (alive, "running", this_process()),
        (local, "running", "gone:1:1"),
        (done, "success", "gone:1:1"),
    ):
        recorder = store.recorder(run_id)
        recorder.run(status, now, owner=owner)
        recorder.flush()

    claimed = claim_orphaned_server_runs(store, "me:1:1")
    assert [(run_id, status) for run_id, _, status in claimed] == [
        (queued, "pending"),
        (running, "running"),
        (paused, "paused"),
        (unowned, "pending"),  # recorded before runs had owners: this store's only server's
    ]
    assert {store.get_run(run_id).status for run_id, _, _ in claimed} == {"pending", "running", "paused"}
    assert claim_orphaned_server_runs(store, "other:1:1") == []  # "me:1:1" holds them: its heartbeat is fresh


def test_jobs_added_to_a_run_come_after_its_others_and_say_their_group(store: Store) -> None:
    run_id = new_run(store, jobs=[("s.a.fan", None), ("s.b.after", None)])
    ids = add_jobs(store, run_id, [("s.a.fan[item=x]", "img"), ("s.a.fan[item=y]", "img")])
    row = store.get_run(run_id)
    assert [job.path for job in row.jobs] == ["s.a.fan", "s.b.after", "s.a.fan[item=x]", "s.a.fan[item=y]"]
    assert ids == {job.path: job.id for job in row.jobs[2:]}
    assert [job.group for job in row.jobs] == [None, None, "s.a.fan", "s.a.fan"]
    assert row.groups() == {"s.a.fan": {"pending": 2}}
    assert [job["path"] for job in row.jobs_json(instances=False)] == ["s.a.fan", "s.b.after"]
    assert row.jobs_json(instances=False)[0]["matrix"] == {"instances": 2, "counts": {"pending": 2}}
    assert add_jobs(store, run_id, []) == {}
    with pytest.raises(sa.exc.IntegrityError):  # a path is once in a run
        add_jobs(store, run_id, [("s.a.fan[item=x]", "img")])
