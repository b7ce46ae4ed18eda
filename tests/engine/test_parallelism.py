"""``parallelism: N`` on a flow and on a stage: at most N of its jobs run at once."""

from __future__ import annotations

import asyncio

import pytest

from containerops.engine import Engine, JobState, RunState
from containerops.executors.dummy import DummyExecutor
from containerops.model.diagnostics import FlowInvalid
from containerops.model.loader import parse_flow
from containerops.store import Store
from tests.engine.scenarios import Behaviour, action, flow_text, job, simple_flow, stage


def most_at_once(store: Store, doc: dict[str, object]) -> tuple[int, RunState]:
    """Run ``doc`` on the dummy executor; the most jobs that were running at the same time."""
    most = 0

    def on_change(state: RunState, js: JobState | None) -> None:
        nonlocal most
        most = max(most, sum(1 for j in state.jobs.values() if j.status == "running"))

    loaded = parse_flow(flow_text(doc), "f.json")
    engine = Engine(store, DummyExecutor(), on_change=on_change)
    engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)
    state = asyncio.run(engine.run())
    return most, state


def wide(**stage_keys: object) -> dict[str, object]:
    lanes = [action(f"a{n}", job("j", "dummy", Behaviour(sleep=0.2))) for n in range(5)]
    return {**stage("wide", *lanes, parallel=True), **stage_keys}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (simple_flow([wide()]), 5),
        (simple_flow([wide(parallelism=2)]), 2),
        (simple_flow([wide()], parallelism=3), 3),
        (simple_flow([wide(parallelism=4)], parallelism=1), 1),
    ],
    ids=["no limit", "stage 2", "flow 3", "flow 1 under stage 4"],
)
def test_no_more_jobs_run_at_once_than_the_limits_allow(
    store: Store, doc: dict[str, object], expected: int
) -> None:
    most, state = most_at_once(store, doc)
    assert state.status == "success" and most == expected


def test_parallelism_is_a_positive_integer() -> None:
    with pytest.raises(FlowInvalid, match="parallelism must be an integer from 1 to 10000, got '0'"):
        parse_flow(flow_text(simple_flow([wide(parallelism=0)])), "f.json")
