"""``active: false`` on a flow, stage, action or job: kept in the flow, skipped as "inactive"."""

from __future__ import annotations

import pytest

from containerops.engine.plan import plan
from containerops.model.loader import parse_flow
from containerops.store import Store
from tests.engine.scenarios import action, flow_text, job, run_flow, simple_flow, stage
from tests.engine.test_scenarios import EXECUTORS, statuses


def _doc(executor: str, **flow_keys: object) -> dict[str, object]:
    return simple_flow(
        [
            {"type": "start", "name": "start"},
            stage(
                "build",
                action("unit", job("a", executor), job("off", executor, active=False), job("b", executor)),
                action("lint", job("c", executor)),
            ),
            {"type": "pause", "name": "gate", "active": False},
            {**stage("ship", action("up", job("d", executor))), "active": False},
            stage(
                "report",
                {**action("mail", job("e", executor)), "active": False},
                action("log", job("f", executor)),
            ),
            {"type": "end", "name": "end"},
        ],
        **flow_keys,
    )


@pytest.mark.parametrize("executor", EXECUTORS)
def test_inactive_parts_are_skipped_as_such_and_the_rest_runs(
    store: Store, executor: str, docker_ready: None
) -> None:
    state = run_flow(store, executor, _doc(executor))  # an inactive pause waits for nobody
    assert state.status == "success", state.reason
    assert statuses(state) == {
        "build.unit.a": "success",
        "build.unit.off": "skipped",
        "build.unit.b": "success",  # an inactive job is no failure: its action goes on
        "build.lint.c": "success",
        "ship.up.d": "skipped",
        "report.mail.e": "skipped",
        "report.log.f": "success",
    }
    rows = {row.path: row for row in store.get_run(state.id).jobs}
    assert {path: row.reason for path, row in rows.items() if row.status == "skipped"} == {
        "build.unit.off": "inactive",
        "ship.up.d": "inactive",
        "report.mail.e": "inactive",
    }
    assert all(row.attempts == 0 for row in rows.values() if row.status == "skipped")


def test_an_inactive_flow_runs_nothing_when_started_by_hand(store: Store) -> None:
    state = run_flow(store, "dummy", _doc("dummy", active=False))
    assert state.status == "success"
    assert set(statuses(state).values()) == {"skipped"}
    assert {js.reason for js in state.jobs.values()} == {"inactive"}


def test_the_plan_says_which_jobs_are_inactive_and_drops_an_inactive_pause() -> None:
    flow = parse_flow(flow_text(_doc("dummy")), "flow.json").flow
    assert plan(flow).describe() == [
        "1. build: unit.a -> unit.off (inactive) -> unit.b",
        "2. build: lint.c",
        "3. ship: up.d (inactive)",
        "4. report: mail.e (inactive)",
        "5. report: log.f",
    ]
