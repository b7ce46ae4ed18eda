"""Running a flow in the background of a test, to decide its pause while it waits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from containerops.engine import Engine, RunState
from containerops.executors.base import Executor
from containerops.model.loader import parse_flow
from containerops.store import Store
from tests.engine.scenarios import flow_text


def engine_for(store: Store, executor: Executor, doc: dict[str, object], **prepare: object) -> Engine:
    loaded = parse_flow(flow_text(doc), "scenario.json")
    engine = Engine(store, executor)
    engine.decision_poll = 0.05
    engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format, **prepare)  # type: ignore[arg-type]
    return engine


async def until_paused(engine: Engine, task: asyncio.Task[RunState]) -> None:
    """Wait until the engine's run is paused (or has ended, which the caller will see)."""
    while not task.done():
        if engine.state is not None and engine.state.status == "paused":
            return
        await asyncio.sleep(0.01)


def run_with(engine: Engine, while_paused: Callable[[Engine], Awaitable[None]]) -> RunState:
    """Run the engine; once it pauses, await ``while_paused(engine)``; return the final state."""

    async def main() -> RunState:
        task = asyncio.create_task(engine.run())
        await until_paused(engine, task)
        if not task.done():
            await while_paused(engine)
        return await task

    return asyncio.run(main())
