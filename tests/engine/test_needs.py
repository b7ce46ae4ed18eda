"""``needs:`` between the actions of a stage: a parallel stage runs as a DAG."""

from __future__ import annotations

import asyncio

import pytest
from rich.console import Console

from containerops.cli.render import run_tree
from containerops.engine import Engine, JobState, RunState
from containerops.engine.plan import plan
from containerops.executors.dummy import DummyExecutor
from containerops.model.diagnostics import FlowInvalid
from containerops.model.loader import parse_flow
from containerops.store import Store
from tests.engine.scenarios import Behaviour, action, flow_text, job, run_flow, simple_flow, stage
from tests.engine.test_scenarios import EXECUTORS


def dag(executor: str, *, failing: str | None = None) -> dict[str, object]:
    def step(name: str, needs: list[str] | None = None, **keys: object) -> dict[str, object]:
        behaviour = Behaviour(exit_code=3 if name == failing else 0, sleep=0.2 if name == "build" else 0)
        body = action(name, job("it", executor, behaviour, **keys))
        return {**body, "needs": needs} if needs else body

    return simple_flow(
        [
            stage(
                "ci",
                step("test", ["build"]),
                step("build"),
                step("lint"),
                step("report", ["test", "lint"], when="always"),
                step("deploy", ["test"]),
                parallel=True,
            )
        ]
    )


def started(store: Store, run_id: int) -> dict[str, object]:
    return {job.path.split(".")[1]: job.started_at for job in store.get_run(run_id).jobs}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_each_action_starts_after_the_ones_it_needs(store: Store, executor: str, docker_ready: None) -> None:
    state = run_flow(store, executor, dag(executor))
    assert state.status == "success", state.reason
    finished = {js.path.split(".")[1]: js.finished_at for js in state.jobs.values()}
    began = {js.path.split(".")[1]: js.started_at for js in state.jobs.values()}
    assert began["test"] >= finished["build"]  # type: ignore[operator]
    assert began["deploy"] >= finished["test"]  # type: ignore[operator]
    assert began["report"] >= max(finished["test"], finished["lint"])  # type: ignore[type-var]
    assert began["lint"] < finished["build"]  # type: ignore[operator]  # no need: at once


def test_a_failure_skips_what_needs_it_and_nothing_else(store: Store) -> None:
    state = run_flow(store, "dummy", dag("dummy", failing="build"))
    assert state.status == "failure"
    assert {path.split(".")[1]: js.status for path, js in state.jobs.items()} == {
        "build": "failure",
        "test": "skipped",
        "deploy": "skipped",
        "lint": "success",
        "report": "success",  # when: always
    }
    assert state.jobs["ci.test.it"].reason == "skipped: ci.build.it failed"


def test_the_plan_says_what_waits_for_what() -> None:
    flow = parse_flow(flow_text(dag("dummy")), "f.json").flow
    assert plan(flow).describe() == [
        "1. ci: test.it (after build) | build.it | lint.it | report.it (after test, lint)"
        " | deploy.it (after test)"
    ]


@pytest.mark.parametrize(
    ("needs", "message"),
    [
        ({"test": ["biuld"]}, "no action 'biuld' in this stage to need; did you mean 'build'?"),
        ({"test": ["test"]}, "action 'test' cannot need itself"),
        (
            {"build": ["deploy"]},
            "the actions' needs go round in a circle: test needs build needs deploy needs test",
        ),
    ],
)
def test_needs_mistakes_are_refused_with_where(needs: dict[str, list[str]], message: str) -> None:
    doc = dag("dummy")
    for body in doc["stages"][0]["actions"]:  # type: ignore[index]
        if body["name"] in needs:
            body["needs"] = needs[body["name"]]
    with pytest.raises(FlowInvalid) as raised:
        parse_flow(flow_text(doc), "f.json")
    assert any(message in str(d) for d in raised.value.diagnostics), raised.value.diagnostics


def test_a_sequence_stage_may_only_need_what_runs_before() -> None:
    text = (
        "uri: a/b/c\nstages:\n  - name: s\n    actions:\n"
        "      - {name: one, needs: [two], jobs: [{name: j, endpoint: busybox}]}\n"
        "      - {name: two, jobs: [{name: j, endpoint: busybox}]}\n"
    )
    with pytest.raises(FlowInvalid) as raised:
        parse_flow(text, "flow.yml")
    said = str(raised.value.diagnostics[0])
    assert said.startswith("flow.yml:5:28: error: action 'one' needs 'two', which runs after it: a sequence")


def test_a_waiting_action_says_what_it_waits_for_in_the_store_and_the_tree(store: Store) -> None:
    loaded = parse_flow(flow_text(dag("dummy")), "f.json")
    seen: dict[str, str] = {}

    def on_change(state: RunState, js: JobState | None) -> None:
        if js is not None and js.status == "pending" and js.reason:
            seen[js.path] = js.reason
            console = Console(record=True, width=200)
            console.print(run_tree(state))
            seen[js.path + " tree"] = console.export_text()

    engine = Engine(store, DummyExecutor(), on_change=on_change)
    engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)
    state = asyncio.run(engine.run())
    assert state.status == "success"
    assert seen["ci.test.it"] == "waits for build"
    assert seen["ci.report.it"] in ("waits for test, lint", "waits for test")
    assert "it  waits for build" in seen["ci.test.it tree"]
    # it started: the reason is gone from the store
    assert {job.path: job.reason for job in store.get_run(state.id).jobs}["ci.test.it"] is None
