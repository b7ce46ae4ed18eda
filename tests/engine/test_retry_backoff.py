"""``retries: {limit, backoff, factor, max_backoff, on_exit_codes}``: waits between attempts,
and only the exit codes it names are retried."""

from __future__ import annotations

import asyncio

import pytest

from containerops.engine import Engine
from containerops.executors.dummy import DummyExecutor
from containerops.model.loader import parse_flow
from containerops.store import Store
from tests.engine.scenarios import Behaviour, action, flow_text, job, run_flow, simple_flow, stage
from tests.engine.test_scenarios import EXECUTORS

BACKOFF = {"limit": 3, "backoff": "100ms", "factor": 2, "max_backoff": "300ms"}


def flaky(executor: str, retries: object) -> dict[str, object]:
    """A job that exits 1 until its fourth attempt."""
    if executor == "dummy":
        return job("flaky", executor, retries=retries, environments={"CO_DUMMY_PASS_ON_ATTEMPT": "4"})
    script = 'echo "attempt $CO_ATTEMPT"; [ "$CO_ATTEMPT" = 4 ] || exit 1'
    return job("flaky", executor, Behaviour(script=script), retries=retries)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_attempts_wait_longer_each_time_up_to_the_most(
    store: Store, executor: str, docker_ready: None
) -> None:
    state = run_flow(store, executor, simple_flow([stage("s", action("a", flaky(executor, BACKOFF)))]))
    js = state.jobs["s.a.flaky"]
    assert js.status == "success" and js.attempts == 4
    waits = [line.line for line in store.log_lines(state.id) if line.line.startswith("[coops]")]
    assert waits == [
        "[coops] attempt 1 failed (exit code 1); the next in 100ms",
        "[coops] attempt 2 failed (exit code 1); the next in 200ms",
        "[coops] attempt 3 failed (exit code 1); the next in 300ms",  # 400ms, but at most 300ms
    ]
    said = [
        (line.attempt, line.stream) for line in store.log_lines(state.id) if line.line.startswith("[coops]")
    ]
    assert said == [(2, "stderr"), (3, "stderr"), (4, "stderr")]  # each at the top of the attempt it delays


@pytest.mark.parametrize("executor", EXECUTORS)
def test_only_the_exit_codes_named_are_retried(store: Store, executor: str, docker_ready: None) -> None:
    retries = {"limit": 3, "on_exit_codes": [4, 137]}
    state = run_flow(store, executor, simple_flow([stage("s", action("a", flaky(executor, retries)))]))
    js = state.jobs["s.a.flaky"]
    assert (js.status, js.attempts, js.exit_code) == ("failure", 1, 1)
    retried = {**retries, "on_exit_codes": [1]}
    state = run_flow(store, executor, simple_flow([stage("s", action("a", flaky(executor, retried)))]))
    assert (state.jobs["s.a.flaky"].status, state.jobs["s.a.flaky"].attempts) == ("success", 4)


def test_a_cancel_during_a_wait_cancels_the_job(store: Store) -> None:
    retries = {"limit": 2, "backoff": "1h"}
    loaded = parse_flow(flow_text(simple_flow([stage("s", action("a", flaky("dummy", retries)))])), "f.json")
    engine = Engine(store, DummyExecutor())
    prepared = engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)

    async def main() -> None:
        running = asyncio.create_task(engine.run())
        run_id = prepared.state.id
        while not any(line.line.startswith("[coops]") for line in store.log_lines(run_id)):
            await asyncio.sleep(0.05)
        engine.cancel("stopped by a person")
        await running

    asyncio.run(main())
    js = prepared.state.jobs["s.a.flaky"]
    assert (js.status, js.reason, js.attempts) == ("cancelled", "stopped by a person", 1)
    assert store.get_run(prepared.state.id).status == "cancelled"
