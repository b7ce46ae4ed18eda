"""Cancel requests from other processes: the runs one process runs are looked up together,
one query a poll however many run (a server runs dozens at once), and each run is cancelled
by its own request only."""

from __future__ import annotations

import asyncio

import pytest

from containerops.engine.cancelling import watch_cancel_requests
from containerops.store import Store
from containerops.store import concurrency as groups
from tests.store.test_concurrency import new_run

POLL = 0.02


def test_the_runs_of_a_process_are_watched_with_one_query_a_poll(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [new_run(store) for _ in range(3)]
    looked: list[list[int]] = []
    real = groups.cancel_requests
    monkeypatch.setattr(groups, "cancel_requests", lambda s, ids: looked.append(sorted(ids)) or real(s, ids))
    cancelled: dict[int, str] = {}

    async def watched() -> list[bool]:
        watchers = [
            asyncio.create_task(
                watch_cancel_requests(store, run, lambda why, run=run: cancelled.__setitem__(run, why), POLL)
            )
            for run in runs
        ]
        await asyncio.sleep(5 * POLL)
        await asyncio.to_thread(groups.request_cancel, store, [runs[1]], "cancelled by run 9")
        await asyncio.wait_for(watchers[1], 5)
        await asyncio.sleep(5 * POLL)
        going = [watcher.done() for watcher in watchers]
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        return going

    assert asyncio.run(watched()) == [False, True, False]
    assert cancelled == {runs[1]: "cancelled by run 9"}
    assert looked[0] == sorted(runs)  # all three in one query
    assert looked[-1] == [runs[0], runs[2]]  # the cancelled one is no longer asked for
    assert 5 <= len(looked) <= 20  # a query a poll, not a query a run and poll
