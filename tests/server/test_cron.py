"""Cron triggers with a clock the test moves: a run per tick, one catch-up run after downtime."""

from __future__ import annotations

import asyncio
import multiprocessing
import textwrap
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from tests.mariadbserver import mariadb_database
from tests.pgserver import postgres_database
from tests.server.conftest import LiveServer
from tests.server.cronrace import take_ticks
from tests.waiting import until, wait_for

from containerops.executors.dummy import DummyExecutor
from containerops.model.loader import parse_flow
from containerops.server.manager import RunManager
from containerops.server.triggers.cron import Scheduler
from containerops.store import Store
from containerops.store import schema as t
from containerops.store.runs import run_origin
from containerops.store.schedules import list_schedules
from containerops.timestamps import rfc3339


class ManualClock:
    """A clock that only moves when the test says; ``sleep`` returns once it has moved far enough."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._moved = asyncio.Event()
        #: A sleeper waits for the clock to move (and has not been woken since).
        self.waited_on = False

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when
        self.waited_on = False
        self._moved.set()

    async def move_to(self, when: datetime) -> None:
        """``set``, once the scheduler's loop sleeps: moved while it is still at work, the clock
        would be read for its next sleep, which then lasts from the new time."""
        await until(lambda: self.waited_on, "the scheduler to sleep")
        self.set(when)

    async def sleep(self, seconds: float) -> None:
        deadline = self._now + timedelta(seconds=seconds)
        while self._now < deadline:
            self._moved.clear()
            self.waited_on = True
            await self._moved.wait()


def flow(schedule: str = "*/5 * * * *", timezone: str = "UTC", uri: str = "acme/nightly/build") -> str:
    return textwrap.dedent(
        f"""\
        uri: {uri}
        triggers:
          - {{type: cron, schedule: "{schedule}", timezone: {timezone}}}
        stages:
          - {{type: start, name: start}}
          - type: normal
            name: build
            actions:
              - name: it
                jobs:
                  - {{name: run, endpoint: containerops/base:busybox, command: [sh, -c, "true"]}}
          - {{type: end, name: end}}
        """
    )


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 26, hour, minute, second, tzinfo=UTC)


def with_manager(store: Store, body: Callable[[RunManager], Awaitable[None]]) -> None:
    async def main() -> None:
        manager = RunManager(store, DummyExecutor())
        await manager.start()
        try:
            await body(manager)
            for run_id in manager.live_runs():
                await manager.wait(run_id)
        finally:
            await manager.stop()

    asyncio.run(main())


def schedule_row(store: Store) -> Any:
    with store.database.connect() as conn:
        return conn.execute(sa.select(t.schedules)).one()


def test_a_run_per_tick_and_never_twice_for_one_tick(store: Store) -> None:
    store.save_flow("acme/nightly/build", flow(), "yaml")

    async def body(manager: RunManager) -> None:
        clock = ManualClock(at(10, 2))
        scheduler = Scheduler(store, manager, clock)
        scheduler.sync()
        assert await scheduler.tick() == []  # a new schedule waits for its next tick
        clock.set(at(10, 4, 59))
        assert await scheduler.tick() == []
        clock.set(at(10, 5))
        first = await scheduler.tick()
        assert len(first) == 1
        assert await scheduler.tick() == []  # the same tick again: nothing
        clock.set(at(10, 10, 30))
        second = await scheduler.tick()
        assert len(second) == 1
        row = schedule_row(store)
        assert (row.last_run_id, row.missed_ticks) == (second[0], 0)
        run = store.get_run(second[0])
        assert run.params["set"]["CO_CRON_TICK"] == rfc3339(at(10, 10)) == "2026-11-26T10:10:00.000000+00:00"

    with_manager(store, body)
    assert [run.status for run in store.list_runs(uri="acme/nightly/build")] == ["success", "success"]


def test_after_downtime_one_catch_up_run_at_most(store: Store) -> None:
    store.save_flow("acme/nightly/build", flow(), "yaml")

    async def before(manager: RunManager) -> None:
        clock = ManualClock(at(10, 2))
        scheduler = Scheduler(store, manager, clock)
        scheduler.sync()
        for minute in (5, 10):
            clock.set(at(10, minute))
            assert len(await scheduler.tick()) == 1
        assert schedule_row(store).missed_ticks == 0

    async def after(manager: RunManager) -> None:
        # A new server process, 53 minutes later: ticks 10:15 ... 11:00 were missed.
        scheduler = Scheduler(store, manager, ManualClock(at(11, 3)))
        scheduler.sync()
        caught_up = await scheduler.tick()
        assert len(caught_up) == 1
        assert await scheduler.tick() == []
        trigger = store.get_run(caught_up[0]).params["set"]["CO_CRON_TICK"]
        assert trigger == rfc3339(at(11, 0))

    with_manager(store, before)
    with_manager(store, after)
    row = schedule_row(store)
    assert row.missed_ticks == 9  # 10 ticks passed while down; one of them ran
    assert len(store.list_runs(uri="acme/nightly/build")) == 3


def test_the_schedule_is_read_in_its_timezone(store: Store) -> None:
    store.save_flow("acme/nightly/build", flow("0 9 * * *", "Europe/Paris"), "yaml")

    async def body(manager: RunManager) -> None:
        clock = ManualClock(at(7, 0))
        scheduler = Scheduler(store, manager, clock)
        scheduler.sync()
        assert schedule_row(store).next_tick.replace(tzinfo=UTC) == at(8, 0)  # 09:00 in Paris (CET)
        clock.set(at(7, 59, 59))
        assert await scheduler.tick() == []
        clock.set(at(8, 0))
        assert len(await scheduler.tick()) == 1

    with_manager(store, body)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def shared_store(request: pytest.FixtureRequest, store: Store) -> Iterator[Store]:
    """The test's SQLite store, or a PostgreSQL or MariaDB database of its own (where
    writers do not queue)."""
    if request.param == "sqlite":
        yield store
        return
    with (postgres_database if request.param == "postgresql" else mariadb_database)() as url:
        opened = Store.open(url)
        yield opened
        opened.close()


def test_two_scheduler_processes_on_one_database_run_each_tick_once(shared_store: Store) -> None:
    """Two processes, each with its own engine on one database; both see every tick as
    due before either takes it (a barrier in ``due()``), so only the conditional take of
    ``last_tick`` keeps each tick to one run."""
    store = shared_store
    store.save_flow("acme/nightly/build", flow(), "yaml")

    async def register(manager: RunManager) -> None:
        Scheduler(store, manager, ManualClock(at(10, 2))).sync()

    with_manager(store, register)
    ticks = [at(10, 5), at(10, 10), at(10, 15)]
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(2)
    url = store.database.url.render_as_string(hide_password=False)
    processes = [spawn.Process(target=take_ticks, args=(url, ticks, barrier)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [process.exitcode for process in processes] == [0, 0]
    runs = store.list_runs(uri="acme/nightly/build")
    per_tick = Counter(run.params["set"]["CO_CRON_TICK"] for run in runs)
    assert per_tick == {rfc3339(tick): 1 for tick in ticks}
    assert [run.status for run in runs] == ["success"] * 3
    assert schedule_row(store).last_tick.replace(tzinfo=UTC) == at(10, 15)


def test_an_inactive_flow_keeps_its_schedule_written_and_never_starts(store: Store) -> None:
    inactive = flow().replace("triggers:", "active: false\ntriggers:")
    assert parse_flow(inactive, "flow.yml").flow.active is False
    store.save_flow("acme/nightly/build", inactive, "yaml")

    async def body(manager: RunManager) -> None:
        clock = ManualClock(at(10, 2))
        scheduler = Scheduler(store, manager, clock)
        scheduler.sync()
        clock.set(at(10, 5))
        assert await scheduler.tick() == []
        store.save_flow("acme/nightly/build", flow(), "yaml")  # switched on again
        scheduler.sync()
        clock.set(at(10, 10))
        assert len(await scheduler.tick()) == 1

    with_manager(store, body)
    assert len(store.list_runs(uri="acme/nightly/build")) == 1


def test_the_loop_runs_ticks_as_the_clock_moves_and_follows_flow_changes(store: Store) -> None:
    store.save_flow("acme/nightly/build", flow(), "yaml")

    async def body(manager: RunManager) -> None:
        clock = ManualClock(at(10, 2))
        scheduler = Scheduler(store, manager, clock)
        loop = asyncio.create_task(scheduler.run())
        try:
            await until(lambda: _has_rows(store), "the schedule row")
            await clock.move_to(at(10, 5))
            await until(lambda: len(store.list_runs(uri="acme/nightly/build")) == 1, "the first run")
            # A new version without the trigger: the schedule is retired and runs nothing.
            untriggered = "\n".join(line for line in flow().splitlines() if "cron" not in line)
            store.save_flow("acme/nightly/build", untriggered.replace("triggers:", "labels: {a: b}"), "yaml")
            await clock.move_to(at(10, 6))
            await until(lambda: not schedule_row(store).active, "the schedule to retire")
            await clock.move_to(at(10, 11))
            await asyncio.sleep(0.2)
            assert len(store.list_runs(uri="acme/nightly/build")) == 1
            # The trigger comes back an hour later: no catch-up for the hour it was retired.
            store.save_flow("acme/nightly/build", flow(), "yaml")
            await clock.move_to(at(11, 12))
            await until(lambda: schedule_row(store).active, "the schedule to come back")
            assert schedule_row(store).next_tick.replace(tzinfo=UTC) == at(11, 15)
            await clock.move_to(at(11, 15))
            await until(lambda: len(store.list_runs(uri="acme/nightly/build")) == 2, "the second run")
        finally:
            scheduler.stop()
            await loop

    with_manager(store, body)


def _has_rows(store: Store) -> bool:
    with store.database.connect() as conn:
        return bool(conn.execute(sa.select(sa.func.count()).select_from(t.schedules)).scalar())


def test_schedules_api(store: Store, server: LiveServer, admin_token: str) -> None:
    store.save_flow("acme/nightly/build", flow(), "yaml")
    server.app.state.scheduler.sync()  # type: ignore[union-attr]
    with server.client(admin_token) as api:
        listed = api.get("/api/v1/schedules").json()["schedules"]
    assert [(s["flow"], s["schedule"], s["timezone"], s["active"], s["missed_ticks"]) for s in listed] == [
        ("acme/nightly/build", "*/5 * * * *", "UTC", True, 0)
    ]
    assert listed[0]["next_tick"] > listed[0]["last_tick"]
    assert list_schedules(store, ["other"]) == []
    with server.client() as anonymous:
        assert anonymous.get("/api/v1/schedules").status_code == 401


def test_a_flow_saved_through_the_server_has_its_schedule_at_once(
    server: LiveServer, admin_token: str
) -> None:
    """Not after the scheduler's next round (RESYNC_SECONDS): the save wakes it; so does a delete."""
    with server.client(admin_token) as api:
        assert api.post("/api/v1/flows", content=flow()).status_code == 201
        wait_for(lambda: len(api.get("/api/v1/schedules").json()["schedules"]) == 1, "the schedule", 5)
        assert api.delete("/api/v1/flows/acme/nightly/build").status_code == 204
        wait_for(
            lambda: [s["active"] for s in api.get("/api/v1/schedules").json()["schedules"]] in ([], [False]),
            "the schedule to go",
            5,
        )


def test_a_server_that_starts_after_downtime_runs_one_catch_up(
    store: Store, start_server: Callable[..., LiveServer]
) -> None:
    """Through the app's own loop and the system clock: a schedule last ticked an hour ago."""
    store.save_flow("acme/nightly/build", flow("* * * * *"), "yaml")

    async def register(manager: RunManager) -> None:
        Scheduler(store, manager, ManualClock(datetime.now(UTC) - timedelta(hours=1))).sync()

    with_manager(store, register)
    start_server()
    wait_for(lambda: bool(store.list_runs(uri="acme/nightly/build")), "the catch-up run", 20)
    first = store.list_runs(uri="acme/nightly/build")[-1]
    trigger, _ = run_origin(store, first.id)
    # A tick a minute for an hour, one run for all of them. (A next minute may start
    # another run while this test looks: that one is on time, not a catch-up.)
    assert trigger is not None and trigger["type"] == "cron"
    assert 59 <= trigger["missed"] <= 61
