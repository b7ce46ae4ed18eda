"""The queue between engines and workers, on SQLite, PostgreSQL and MariaDB: an attempt is
claimed by one worker only, only by a worker whose labels match, and a worker whose lease
was taken from it (expired, cancelled, its name restarted) writes nothing more for it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from containerops.store import Store
from containerops.store import schema as t
from containerops.store import workers as q
from containerops.store.ownership import this_process
from containerops.store.values import utcnow


def new_run(store: Store) -> str:
    flow_id, version_id, _ = store.save_flow("acme/app/build", "uri: acme/app/build\n", "yaml")
    return store.create_run(flow_id, version_id, "dummy", {}, []).uid


def join(store: Store, name: str, **labels: str) -> None:
    q.register(store, name, labels=labels, slots=1, executor="dummy", process=this_process())


def test_an_attempt_goes_to_one_worker_whose_labels_match(store: Store) -> None:
    run_uid = new_run(store)
    gpu = q.enqueue(store, run_uid, "s.a.train", 1, {"gpu": "true"}, {"path": "s.a.train"})
    plain = q.enqueue(store, run_uid, "s.a.lint", 1, {}, {"path": "s.a.lint"})
    join(store, "cpu-1")
    assert q.waiting_reason(store, {"gpu": "true"}) == "no worker with gpu=true"

    first = q.claim(store, "cpu-1", {})
    assert first is not None and first.id == plain and first.fence == 1  # the gpu job is not for it
    assert q.claim(store, "cpu-1", {}) is None
    join(store, "gpu-1", gpu="true", zone="a")
    assert q.waiting_reason(store, {"gpu": "true"}) is None
    second = q.claim(store, "gpu-1", {"gpu": "true", "zone": "a"})
    assert second is not None and second.id == gpu and second.spec == {"path": "s.a.train"}
    listed = {row.name: row for row in q.list_workers(store)}
    assert listed["gpu-1"].running == 1 and listed["gpu-1"].labels == {"gpu": "true", "zone": "a"}


def test_claims_race_and_each_attempt_is_taken_once(store: Store) -> None:
    run_uid = new_run(store)
    ids = {q.enqueue(store, run_uid, f"s.a.j{n}", 1, {}, {}) for n in range(24)}

    def drain(name: str) -> list[int]:
        got = []
        while (claim := q.claim(store, name, {})) is not None:
            got.append(claim.id)
        return got

    with ThreadPoolExecutor(4) as pool:
        taken = [i for part in pool.map(drain, ["w1", "w2", "w3", "w4"]) for i in part]
    assert sorted(taken) == sorted(ids)  # every one, none twice


def test_a_worker_whose_lease_expired_writes_nothing_more(store: Store) -> None:
    run_uid = new_run(store)
    ready = q.enqueue(store, run_uid, "s.a.j", 1, {}, {})
    join(store, "w1")
    claim = q.claim(store, "w1", {}, lease=0.05)
    assert claim is not None
    assert q.append_lines(store, claim, 1, [("stdout", "one", utcnow())])
    time.sleep(0.1)
    assert q.heartbeat(store, "w1", {}) == set()
    q.expire(store, ready, "worker lost: w1 stopped renewing its lease")
    assert not q.append_lines(store, claim, 2, [("stdout", "two", utcnow())])
    assert not q.finish(store, claim, exit_code=0)
    seen = q.progress(store, ready, 0)
    assert seen.status == "lost" and [line.text for line in seen.lines] == ["one"]
    assert seen.exit_code is None and seen.reason == "worker lost: w1 stopped renewing its lease"


def test_a_renewed_lease_does_not_expire_and_a_finished_attempt_is_read_back(store: Store) -> None:
    run_uid = new_run(store)
    ready = q.enqueue(store, run_uid, "s.a.j", 1, {}, {})
    join(store, "w1")
    claim = q.claim(store, "w1", {}, lease=0.05)
    assert claim is not None
    assert q.heartbeat(store, "w1", {claim.id: claim.fence}, lease=30) == {claim.id}
    time.sleep(0.1)
    assert not q.expire(store, ready, "worker lost")
    assert q.finish(store, claim, exit_code=3, reason="exit code 3", output_file=b"k=v\n")
    seen = q.progress(store, ready, 0)
    assert (seen.status, seen.exit_code, seen.output_file) == ("done", 3, b"k=v\n")


def test_a_cancelled_attempt_and_a_restarted_worker_lose_their_claims(store: Store) -> None:
    run_uid = new_run(store)
    first = q.enqueue(store, run_uid, "s.a.one", 1, {}, {})
    q.enqueue(store, run_uid, "s.a.two", 1, {}, {})
    join(store, "w1")
    one, two = q.claim(store, "w1", {}), q.claim(store, "w1", {})
    assert one is not None and two is not None
    q.withdraw(store, first, "cancelled: timeout after 1 s")
    assert q.heartbeat(store, "w1", {one.id: one.fence, two.id: two.fence}) == {two.id}
    join(store, "w1")  # the same name again: the process before it is gone
    assert not q.append_lines(store, two, 1, [("stdout", "late", utcnow())])
    assert q.progress(store, two.id, 0).reason == "worker lost: w1 restarted while it ran the job"


def test_a_worker_learns_which_of_its_runs_ended(store: Store) -> None:
    running, ended = new_run(store), new_run(store)
    with store.database.begin() as conn:
        conn.execute(t.runs.update().where(t.runs.c.uid == ended).values(status="success"))
    assert q.finished_runs(store, [running, ended, "0" * 32]) == {ended, "0" * 32}


def test_an_expired_docker_attempt_goes_adrift_and_one_worker_of_its_machine_re_attaches(
    store: Store,
) -> None:
    run_uid = new_run(store)
    ready = q.enqueue(store, run_uid, "s.a.j", 1, {}, {})
    host = this_process().split(":", 1)[0]
    q.register(store, "d1", labels={}, slots=1, executor="docker", process=this_process())
    claim = q.claim(store, "d1", {}, lease=0.05)
    assert claim is not None and not claim.reattach
    assert q.append_lines(store, claim, 1, [("stdout", "one", utcnow())])
    time.sleep(0.1)
    assert q.expire(store, ready, "worker lost: d1 stopped renewing its lease") == q.ADRIFT
    assert q.claim(store, "d2", {}) is None  # not a ready attempt: nobody starts it again
    assert q.claim_adrift(store, "far", {}, "another-host") is None  # its container is not there
    again = q.claim_adrift(store, "d2", {}, host)
    assert again is not None and again.reattach and again.fence > claim.fence
    assert q.claim_adrift(store, "d3", {}, host) is None  # taken once
    assert not q.append_lines(store, claim, 2, [("stdout", "late", utcnow())])  # the lost one is fenced
    assert q.stored_lines(store, ready) == ["one"]
    assert q.append_lines(store, again, 2, [("stdout", "two", utcnow())])
    assert q.finish(store, again, exit_code=0)
    seen = q.progress(store, ready, 0)
    assert (seen.status, seen.worker, seen.exit_code, seen.reason) == ("done", "d2", 0, None)
    assert [line.text for line in seen.lines] == ["one", "two"]
