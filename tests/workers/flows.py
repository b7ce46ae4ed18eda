"""Running flows through the queue: an engine on ``QueueExecutor`` beside workers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from containerops.engine import Engine, RunState
from containerops.model.loader import parse_flow
from containerops.store import Store
from containerops.workers import QueueExecutor, Worker


def sh(script: str, **keys: object) -> dict[str, object]:
    """A local-executor job that runs ``script``."""
    return {"command": ["sh", "-c", script], **keys}


def flow(
    *jobs: dict[str, object], uri: str = "test/workers/flow", parallel: bool = False
) -> dict[str, object]:
    return {
        "uri": uri,
        "stages": [
            {
                "type": "normal",
                "name": "build",
                "sequencing": "parallel" if parallel else "sequence",
                "actions": [{"name": f"a{index}", "jobs": [job]} for index, job in enumerate(jobs)],
            }
        ],
    }


async def run_on_queue(store: Store, doc: dict[str, object]) -> RunState:
    """Run ``doc`` to its end with its jobs put up for workers."""
    loaded = parse_flow(json.dumps(doc), "flow.json")
    engine = Engine(store, QueueExecutor(store))
    engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)
    return await engine.run()


async def with_workers(store: Store, workers: Sequence[Worker], *docs: dict[str, object]) -> list[RunState]:
    """Run ``docs`` at once while ``workers`` (in this process) serve them."""
    stop = asyncio.Event()
    serving = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        await asyncio.gather(*(worker.started.wait() for worker in workers))
        return list(await asyncio.gather(*(run_on_queue(store, doc) for doc in docs)))
    finally:
        stop.set()
        await asyncio.gather(*serving)
