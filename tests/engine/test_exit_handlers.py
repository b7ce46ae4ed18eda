"""Exit handlers: ``when: always`` and ``on_failure`` jobs run after a flow timeout or a
cancel too, each within its own timeout, and see ``run.status`` in Lua."""

from __future__ import annotations

import asyncio

import pytest

from containerops.engine import Engine, runner
from containerops.executors.dummy import DummyExecutor
from containerops.model.loader import parse_flow
from containerops.store import Store
from tests.engine.scenarios import Behaviour, action, flow_text, job, run_flow, simple_flow, stage
from tests.engine.test_scenarios import EXECUTORS


def flow(executor: str, *, handler: Behaviour | None = None, **flow_keys: object) -> dict[str, object]:
    return simple_flow(
        [
            stage("work", action("a", job("slow", executor, Behaviour(sleep=30)))),
            stage(
                "after",
                action("report", job("always", executor, handler, when="always")),
                action("alert", job("on_failure", executor, when="on_failure")),
                action("ship", job("on_success", executor)),
                action(
                    "lua", job("timed_out", executor, when='run.status == "failure" and #run.failures == 0')
                ),
                parallel=True,
            ),
        ],
        **flow_keys,
    )


def statuses(state: object) -> dict[str, str]:
    return {path.split(".")[-1]: js.status for path, js in state.jobs.items()}  # type: ignore[attr-defined]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_after_a_flow_timeout_the_exit_handlers_run(store: Store, executor: str, docker_ready: None) -> None:
    state = run_flow(store, executor, flow(executor, timeout="1s"))
    assert (state.status, state.reason) == ("failure", "flow timeout after 1 s")
    assert statuses(state) == {
        "slow": "cancelled",
        "always": "success",
        "on_failure": "success",
        "on_success": "skipped",
        "timed_out": "success",  # run.status was "failure", and no job had failed
    }


def engine_for(store: Store, doc: dict[str, object]) -> Engine:
    loaded = parse_flow(flow_text(doc), "f.json")
    engine = Engine(store, DummyExecutor())
    engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)
    return engine


async def until_running(engine: Engine, path: str) -> None:
    while engine.state is None or engine.state.jobs[path].status != "running":
        await asyncio.sleep(0.02)


def test_after_a_cancel_the_exit_handlers_run_and_a_second_cancel_stops_them(store: Store) -> None:
    engine = engine_for(store, flow("dummy", handler=Behaviour(sleep=30)))

    async def main() -> None:
        running = asyncio.create_task(engine.run())
        await until_running(engine, "work.a.slow")
        engine.cancel("stopped by a person")
        await until_running(engine, "after.report.always")  # the exit handler runs
        engine.cancel("stopped again")
        await running

    asyncio.run(main())
    state = engine.state
    assert state is not None and (state.status, state.reason) == ("cancelled", "stopped by a person")
    assert statuses(state)["always"] == "cancelled"
    assert statuses(state)["on_success"] == "skipped"


def test_an_exit_handler_without_a_timeout_gets_the_default_grace(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "EXIT_HANDLER_TIMEOUT", 0.3)
    state = run_flow(store, "dummy", flow("dummy", handler=Behaviour(sleep=30), timeout="0.5s"))
    always = state.jobs["after.report.always"]
    assert (always.status, always.reason) == ("failure", "timeout after 0.3 s")
