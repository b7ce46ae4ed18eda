"""Idle workers on PostgreSQL: every one hears each attempt put up, but only its first
worker claims it at once; the others claim it only if it is still untaken a moment later."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from containerops.store import Store
from containerops.store import workers as queue
from containerops.workers import wake
from containerops.workers.wake import Wake
from tests.dbserver import DatabaseServer
from tests.store.test_workers import new_run

#: Bounds every wait of these tests: a worker that never wakes fails them, not hangs them.
GUARD = 20.0


@pytest.fixture
def pg_store(postgresql: DatabaseServer) -> Iterator[Store]:
    store = Store.open(postgresql.new_database())
    yield store
    store.close()


def put_up(store: Store, count: int) -> list[int]:
    return [queue.enqueue(store, new_run(store), f"s.a.j{n}", 1, {}, {}) for n in range(count)]


async def claim(worker: Wake, store: Store) -> list[int]:
    """What a worker does once woken: claim (one slot), and tell its wake what it found."""
    worker.claiming()
    taken = await asyncio.to_thread(queue.claim_many, store, worker.name, {}, 1)
    worker.found(len(taken))
    return [claim.id for claim in taken]


async def listening(store: Store, names: list[str]) -> list[Wake]:
    wakes = [Wake(store, name) for name in names]
    for each in wakes:
        await each.open()
        assert each.listening
        each.workers(names)
    return wakes


def test_a_claim_is_announced_with_the_ids_it_took(pg_store: Store) -> None:
    async def heard() -> tuple[set[int], set[int], list[int]]:
        listener = await queue.ReadyListener.open(pg_store)
        assert listener is not None
        try:
            ids = await asyncio.to_thread(put_up, pg_store, 3)
            taken = await asyncio.to_thread(queue.claim_many, pg_store, "w", {}, 2)
            put, took = set[int](), set[int]()
            while put != set(ids) or took != {c.id for c in taken}:
                news = await listener.news(GUARD)
                assert news is not None, (put, took)
                put |= news.put_up
                took |= news.taken
            return put, took, ids
        finally:
            await listener.close()

    put, took, ids = asyncio.run(heard())
    assert put == set(ids) and took == set(ids[:2])  # oldest first


def test_only_the_first_worker_of_an_attempt_claims_it_at_once(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two listening workers and two attempts put up: each attempt's first worker wakes for
    it at once (however long the others would wait) and takes it; the other, woken by the
    same announcements, has nothing left to claim."""
    monkeypatch.setattr(wake, "HAND_OVER", 60.0)
    monkeypatch.setattr(wake, "NOTIFIED_POLL", 60.0)

    async def scenario() -> dict[str, list[int]]:
        names = ["w-a", "w-b"]
        wakes = await listening(pg_store, names)
        try:
            ids = await asyncio.to_thread(put_up, pg_store, 2)
            took: dict[str, list[int]] = {}
            for ready_id in ids:
                first = wakes[names.index(names[ready_id % 2])]
                await asyncio.wait_for(first.idle(), GUARD)
                took.setdefault(first.name, []).extend(await claim(first, pg_store))
            return took
        finally:
            for each in wakes:
                await each.close()

    took = asyncio.run(scenario())
    assert sorted(took) == ["w-a", "w-b"] and all(len(ids) == 1 for ids in took.values()), took


def test_another_worker_claims_what_the_first_left_and_leaves_what_it_took(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attempt its first worker took is settled for the other, which goes on waiting; one
    its first worker left (busy, gone, without its labels) the other claims after
    ``HAND_OVER``."""
    monkeypatch.setattr(wake, "HAND_OVER", 0.05)
    monkeypatch.setattr(wake, "NOTIFIED_POLL", 0.5)

    async def scenario() -> tuple[list[int], list[int], list[int]]:
        names = ["w-a", "w-b"]
        wakes = await listening(pg_store, names)
        try:
            # one attempt put up and claimed by its first worker
            (taken_id,) = await asyncio.to_thread(put_up, pg_store, 1)
            first, other = wakes[taken_id % 2], wakes[1 - taken_id % 2]
            await asyncio.wait_for(first.idle(), GUARD)
            assert await claim(first, pg_store) == [taken_id]
            await asyncio.wait_for(other.idle(), GUARD)  # until NOTIFIED_POLL: nothing was due
            left_after_taken = other.pending
            # the first of the next attempt does nothing: the other takes it
            (left_id,) = await asyncio.to_thread(put_up, pg_store, 1)
            other = wakes[1 - left_id % 2]  # not its first worker
            await asyncio.wait_for(other.idle(), GUARD)
            pending = other.pending
            return left_after_taken, pending, await claim(other, pg_store)
        finally:
            for each in wakes:
                await each.close()

    left_after_taken, pending, claimed = asyncio.run(scenario())
    assert left_after_taken == []
    assert len(pending) == 1 and claimed == pending


def test_after_the_first_worker_the_others_take_turns(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three workers and an attempt its first worker leaves: the second in its order claims
    it ``HAND_OVER`` after it was put up; the third, whose turn came ``HAND_OVER`` later,
    heard of that claim and does not wake for it."""
    monkeypatch.setattr(wake, "HAND_OVER", 1.0)
    monkeypatch.setattr(wake, "NOTIFIED_POLL", 60.0)

    async def scenario() -> tuple[int, list[int], bool, list[int]]:
        names = ["w-a", "w-b", "w-c"]
        wakes = await listening(pg_store, names)
        try:
            (ready_id,) = await asyncio.to_thread(put_up, pg_store, 1)
            second, third = (wakes[(ready_id + turn) % 3] for turn in (1, 2))
            waiting = asyncio.create_task(third.idle())
            await asyncio.wait_for(second.idle(), GUARD)
            took = await claim(second, pg_store)
            await asyncio.sleep(2 * wake.HAND_OVER)  # past the third's turn
            woken = waiting.done()
            waiting.cancel()
            return ready_id, took, woken, third.pending
        finally:
            for each in wakes:
                await each.close()

    ready_id, took, third_woken, third_pending = asyncio.run(scenario())
    assert took == [ready_id]
    assert not third_woken and third_pending == []
