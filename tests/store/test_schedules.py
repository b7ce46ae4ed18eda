"""store/schedules: the rows of cron triggers and the conditional tick claim, on a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from containerops.store import Store, flows, schedules

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def hourly(schedule: str, timezone: str, since: datetime) -> datetime:
    """A stand-in for croniter: the next whole hour (the store only keeps what it is given)."""
    return since.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def test_sync_adds_changes_retires_and_revives_schedules(store: Store) -> None:
    flow_id, _, _ = store.save_flow("a/b/c", "x", "yaml")
    schedules.sync_schedules(store, {(flow_id, 0): ("0 * * * *", "UTC")}, T0, hourly)
    [added] = schedules.list_schedules(store)
    assert (added["flow"], added["trigger_index"], added["active"]) == ("a/b/c", 0, True)
    assert (added["last_tick"], added["next_tick"]) == (
        "2026-03-01T12:00:00.000000+00:00",
        "2026-03-01T13:00:00.000000+00:00",
    )

    # changed: keeps its last tick, so no tick runs twice
    later = T0 + timedelta(minutes=90)
    schedules.sync_schedules(store, {(flow_id, 0): ("30 * * * *", "Europe/Paris")}, later, hourly)
    [changed] = schedules.list_schedules(store)
    assert (changed["id"], changed["schedule"], changed["timezone"]) == (
        added["id"],
        "30 * * * *",
        "Europe/Paris",
    )
    assert changed["last_tick"] == "2026-03-01T12:00:00.000000+00:00"

    # retired, then back: starts from now (the time away is not downtime to catch up on)
    schedules.sync_schedules(store, {}, later, hourly)
    assert [s["active"] for s in schedules.list_schedules(store)] == [False]
    assert schedules.due_schedules(store, T0 + timedelta(days=1)) == []
    assert schedules.soonest_tick(store) is None
    back = T0 + timedelta(hours=5)
    schedules.sync_schedules(store, {(flow_id, 0): ("30 * * * *", "Europe/Paris")}, back, hourly)
    [revived] = schedules.list_schedules(store)
    assert (revived["id"], revived["active"], revived["last_tick"]) == (
        added["id"],
        True,
        "2026-03-01T17:00:00.000000+00:00",
    )


def test_a_tick_is_taken_once_by_whoever_saw_the_last_one(store: Store) -> None:
    flow_id, _, _ = store.save_flow("a/b/c", "x", "yaml")
    schedules.sync_schedules(store, {(flow_id, 0): ("0 * * * *", "UTC")}, T0, hourly)
    assert schedules.due_schedules(store, T0 + timedelta(minutes=59)) == []
    [due] = schedules.due_schedules(store, T0 + timedelta(hours=1))
    assert (due.last_tick, due.missed_ticks) == (T0, 0)
    assert schedules.soonest_tick(store) == T0 + timedelta(hours=1)

    tick = T0 + timedelta(hours=1)
    # two servers read the same row; only the first conditional update wins
    first = schedules.take_tick(store, due, due.last_tick, tick, tick + timedelta(hours=1), 2, tick)
    second = schedules.take_tick(store, due, due.last_tick, tick, tick + timedelta(hours=1), 2, tick)
    assert (first, second) == (True, False)
    taken = schedules.get_schedule(store, due.id)
    assert taken is not None and (taken.last_tick, taken.missed_ticks) == (tick, 2)
    assert schedules.get_schedule(store, due.id + 1) is None

    run = store.create_run(flow_id, store.save_flow("a/b/c", "x", "yaml")[1], "dummy", {}, [])
    schedules.set_last_run(store, due.id, run.id)
    assert schedules.list_schedules(store)[0]["last_run_id"] == run.id


def test_newest_sources_read_only_live_flows_newest_versions(store: Store) -> None:
    with_cron, _, _ = store.save_flow("a/b/cron", "old: cron", "yaml")
    _, newest, _ = store.save_flow("a/b/cron", "new: cron too", "yaml")
    dropped, _, _ = store.save_flow("a/b/dropped", "old: cron", "yaml")
    store.save_flow("a/b/dropped", "new: nothing", "yaml")
    gone, _, _ = store.save_flow("a/b/gone", "cron", "yaml")
    flows.set_deleted(store, gone, True)
    assert schedules.newest_sources(store, "cron") == [(with_cron, newest, "new: cron too")]
    assert dropped != with_cron


def test_listing_keeps_to_the_callers_namespaces(store: Store) -> None:
    ids = [store.save_flow(uri, "x", "yaml")[0] for uri in ("a_b/x/ci", "aXb/x/ci")]
    schedules.sync_schedules(store, {(i, 0): ("0 * * * *", "UTC") for i in ids}, T0, hourly)
    assert [s["flow"] for s in schedules.list_schedules(store, ["a_b"])] == ["a_b/x/ci"]
    assert schedules.list_schedules(store, []) == []
    assert len(schedules.list_schedules(store)) == 2
