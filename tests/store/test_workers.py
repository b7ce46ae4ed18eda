"""The queue between engines and workers, on SQLite, PostgreSQL and MariaDB: an attempt is
claimed by one worker only, only by a worker whose labels match, and a worker whose lease
was taken from it (expired, cancelled, its name restarted) writes nothing more for it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

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
    assert q.claim_adrift(store, "far", {}, executor="docker", host="another-host") is None  # not there
    assert q.claim_adrift(store, "l1", {}, executor="local", host=host) is None  # cannot follow it
    again = q.claim_adrift(store, "d2", {}, executor="docker", host=host)
    assert again is not None and again.reattach and again.fence > claim.fence
    assert q.claim_adrift(store, "d3", {}, executor="docker", host=host) is None  # taken once
    assert not q.append_lines(store, claim, 2, [("stdout", "late", utcnow())])  # the lost one is fenced
    assert q.stored_lines(store, ready) == ["one"]
    assert q.append_lines(store, again, 2, [("stdout", "two", utcnow())])
    assert q.finish(store, again, exit_code=0)
    seen = q.progress(store, ready, 0)
    assert (seen.status, seen.worker, seen.exit_code, seen.reason) == ("done", "d2", 0, None)
    assert [line.text for line in seen.lines] == ["one", "two"]


def test_a_worker_with_free_slots_claims_several_attempts_at_once(store: Store) -> None:
    """``claim_many``: up to N of the oldest attempts its labels allow, in one transaction (on
    PostgreSQL one statement: pick, lock with SKIP LOCKED, match the labels, take)."""
    run_uid = new_run(store)
    gpu = [q.enqueue(store, run_uid, f"s.a.gpu{n}", 1, {"gpu": "true"}, {}) for n in range(3)]
    plain = [q.enqueue(store, run_uid, f"s.a.j{n}", 1, {}, {"n": n}) for n in range(6)]
    taken: list[q.Claim] = []
    writes = statements_of(store, lambda: taken.extend(q.claim_many(store, "w1", {"zone": "a"}, 4)))
    assert [claim.id for claim in taken] == plain[:4]  # the gpu jobs are not for it; oldest first
    assert [claim.spec for claim in taken] == [{"n": n} for n in range(4)]
    assert {claim.fence for claim in taken} == {1}
    # PostgreSQL: one statement; SQLite: read, then update ... returning; MySQL: lock, update, read
    assert len(writes) == {"postgresql": 1, "sqlite": 2}.get(store.database.dialect.name, 3), writes
    rest = q.claim_many(store, "w2", {"gpu": "true"}, 10)
    assert [claim.id for claim in rest] == gpu + plain[4:]
    assert q.claim_many(store, "w3", {}, 5) == []
    assert {row.name: row.running for row in q.list_workers(store)} == {}  # none registered
    with store.database.connect() as conn:
        held = dict(conn.execute(sa.select(t.ready_jobs.c.id, t.ready_jobs.c.worker)).all())
    assert held == {**{i: "w1" for i in plain[:4]}, **{i: "w2" for i in gpu + plain[4:]}}


def test_an_attempt_put_up_wakes_a_listening_worker_on_postgresql(store: Store) -> None:
    """PostgreSQL announces each attempt put up (NOTIFY at commit); other databases have no
    listener: their workers poll."""

    async def listen() -> tuple[bool, bool] | None:
        listener = await q.ReadyListener.open(store)
        if listener is None:
            return None
        try:
            await asyncio.to_thread(q.enqueue, store, new_run(store), "s.a.j", 1, {}, {})
            await asyncio.to_thread(q.enqueue, store, new_run(store), "s.a.k", 1, {}, {})
            woken = await listener.news(30) is not None
            for _ in range(2):  # the second announcement, if it came after the first wait
                if await listener.news(0.2) is None:
                    break
            return woken, await listener.news(0.05) is not None  # nothing more was put up
        finally:
            await listener.close()

    found = asyncio.run(listen())
    if store.database.dialect.name == "postgresql":
        assert found == (True, False)
    else:
        assert found is None


def statements_of(store: Store, do: Callable[[], object]) -> list[str]:
    """The SQL statements ``do`` sends (not the pool's pings, nor BEGIN/COMMIT)."""
    sent: list[str] = []

    def count(*args: object) -> None:
        sent.append(str(args[2]))

    sa.event.listen(store.database, "before_cursor_execute", count)
    try:
        do()
    finally:
        sa.event.remove(store.database, "before_cursor_execute", count)
    return [text for text in sent if text.strip() not in ("", ";", "SELECT 1")]


def test_an_attempt_is_put_up_and_withdrawn_in_few_round_trips(store: Store) -> None:
    """Per job the run's engine puts the attempt up in one statement (the run found by its
    uid inside it; on PostgreSQL its announcement too); a done attempt's lines stay until
    the run's end is recorded, in the same write."""
    run_uid = new_run(store)
    ids: list[int] = []
    sent = statements_of(store, lambda: ids.append(q.enqueue(store, run_uid, "s.a.j", 1, {}, {})))
    assert len(sent) == 1, sent
    claim = q.claim(store, "w1", {})
    with store.database.connect() as conn:
        run_id = conn.execute(sa.select(t.runs.c.id).where(t.runs.c.uid == run_uid)).scalar_one()
    assert claim is not None and claim.id == ids[0] and claim.run_id == run_id
    assert q.append_lines(store, claim, 1, [("stdout", "hello", utcnow())])
    assert q.finish(store, claim, exit_code=0)
    assert q.progress(store, claim.id, 0).lines[0].text == "hello"
    recorder = store.recorder(run_id)
    recorder.run("running", utcnow())
    recorder.flush()
    assert q.progress(store, claim.id, 0).lines[0].text == "hello"  # kept while the run goes on
    recorder.run("success", utcnow(), finished_at=utcnow())
    recorder.flush()
    ended = q.progress(store, claim.id, 0)
    assert ended.status == q.DONE and ended.exit_code == 0 and ended.lines == []


def test_a_worker_whose_heartbeat_is_older_than_the_lease_is_not_live(store: Store) -> None:
    join(store, "fresh")
    join(store, "silent")
    join(store, "gone")
    q.stopped(store, "gone")
    with store.database.begin() as conn:
        old = utcnow() - timedelta(seconds=q.DEFAULT_LEASE + 5)
        conn.execute(t.workers.update().where(t.workers.c.name == "silent").values(heartbeat_at=old))
    assert {row.name: row.live for row in q.list_workers(store)} == {"fresh": True, "silent": False}
    assert q.live_names(store) == ["fresh"]
    assert q.live_names(store, expiry=q.DEFAULT_LEASE + 60) == ["fresh", "silent"]
    assert q.waiting_reason(store, {}) is None
