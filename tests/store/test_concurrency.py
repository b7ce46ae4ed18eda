"""The store's side of ``concurrency:`` groups, on SQLite and on PostgreSQL: a group is
taken by one run only (the first row, then a conditional update from the holder seen),
a cancel request keeps its first reason and never reaches a finished run, and a run
whose owner is gone is not a live member (a server's paused run still is)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from containerops.store import Store
from containerops.store import concurrency as groups
from containerops.store.ownership import this_process
from containerops.store.values import utcnow
from tests.pgserver import postgres_database

GROUP = "acme/deploy-main"
GONE = f"{socket.gethostname()}:999999999:1"  # no such process on this machine


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, coops_home: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = Store.open()
        yield opened
        opened.close()
        return
    with postgres_database() as url:
        opened = Store.open(url)
        yield opened
        opened.close()


def new_run(store: Store, owner: str | None = None, status: str = "pending", **columns: object) -> int:
    flow_id, version_id, _ = store.save_flow("acme/app/deploy", "uri: acme/app/deploy\n", "yaml")
    run_id = store.create_run(
        flow_id,
        version_id,
        "dummy",
        {},
        [],
        columns={"concurrency_group": GROUP, "owner": owner or this_process(), **columns},
    ).id
    if status != "pending":  # as its engine would say it
        recorder = store.recorder(run_id)
        recorder.run(status, utcnow())
        recorder.flush()
    return run_id


def test_one_taker_wins_each_change_of_holder(any_store: Store) -> None:
    first, second, third = new_run(any_store), new_run(any_store), new_run(any_store)
    unseen = groups.holder(any_store, GROUP)
    assert unseen == groups.Holder(False, None)

    assert groups.take(any_store, GROUP, first, unseen)
    assert not groups.take(any_store, GROUP, second, unseen)  # the row exists now: lost
    held = groups.holder(any_store, GROUP)
    assert held == groups.Holder(True, first)

    assert groups.take(any_store, GROUP, second, held)
    assert not groups.take(any_store, GROUP, third, held)  # the holder changed since it looked
    assert groups.holder(any_store, GROUP) == groups.Holder(True, second)
    assert groups.group_of(any_store, first) == GROUP


def test_a_cancel_request_keeps_its_first_reason_and_skips_finished_runs(any_store: Store) -> None:
    running, finished = new_run(any_store), new_run(any_store, status="success")
    groups.request_cancel(any_store, [running, finished], "cancelled by run 3")
    groups.request_cancel(any_store, [running], "cancelled by run 4")
    groups.request_cancel(any_store, [], "nobody")

    assert groups.cancel_request(any_store, running) == "cancelled by run 3"
    assert groups.cancel_request(any_store, finished) is None
    assert groups.cancel_requests(any_store, [running, finished]) == {running: "cancelled by run 3"}
    assert groups.cancel_requests(any_store, []) == {}


def test_members_are_the_unfinished_runs_and_say_which_are_live(any_store: Store) -> None:
    live = new_run(any_store)
    gone = new_run(any_store, GONE, status="running")
    waiting_for_a_server = new_run(any_store, GONE, status="paused", trigger={"type": "api"})
    new_run(any_store, status="failure")
    flow_id, version_id, _ = any_store.save_flow("acme/app/other", "uri: acme/app/other\n", "yaml")
    any_store.create_run(flow_id, version_id, "dummy", {}, [], columns={"concurrency_group": "acme/other"})

    found = groups.members(any_store, GROUP)

    assert [(m.id, m.live) for m in found] == [(live, True), (gone, False), (waiting_for_a_server, True)]
