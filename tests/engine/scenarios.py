"""Engine scenarios written once and run on several executors.

Each scenario is a flow with placeholders for what a job does: ``job(...)``
renders a job body for the executor under test (a busybox shell command for
docker and local, CO_DUMMY_* variables for the dummy executor).
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from containerops.engine import Engine, RunState
from containerops.executors import get_executor
from containerops.executors.base import Executor
from containerops.model.loader import parse_flow
from containerops.store import Store

BUSYBOX = "containerops/base:busybox"


@dataclass
class Behaviour:
    """What one job does, independent of the executor."""

    exit_code: int = 0
    sleep: float = 0
    outputs: dict[str, str] | None = None
    lines: list[str] | None = None
    #: A shell snippet for real executors, when the behaviour needs one (e.g. reading CO_ATTEMPT).
    script: str | None = None


def job_body(executor: str, b: Behaviour) -> dict[str, object]:
    """The job keys that make a job behave as ``b`` on ``executor``."""
    if executor == "dummy":
        env: dict[str, str] = {"CO_DUMMY_EXIT_CODE": str(b.exit_code)}
        if b.sleep:
            env["CO_DUMMY_SLEEP"] = str(b.sleep)
        if b.outputs:
            from containerops.contract.codata import encode_co_data

            env["CO_DUMMY_OUTPUTS"] = encode_co_data(b.outputs)
        return {"endpoint": BUSYBOX, "environments": env}
    parts: list[str] = []
    for line in b.lines or []:
        parts.append(f"echo {shlex.quote(line)}")
    for key, value in (b.outputs or {}).items():
        parts.append(f"echo {shlex.quote(f'[COUT] {key} = {value}')}")
    if b.script:
        parts.append(b.script)
    if b.sleep:
        parts.append(f"sleep {b.sleep}")
    parts.append(f"exit {b.exit_code}")
    body: dict[str, object] = {"command": ["sh", "-c", "; ".join(parts)]}
    if executor == "docker":
        body["endpoint"] = BUSYBOX
    return body


def flow_text(doc: dict[str, object]) -> str:
    return json.dumps(doc)


def run_flow(
    store: Store,
    executor: str | Executor,
    doc: dict[str, object],
    *,
    on_engine: Callable[[Engine], None] | None = None,
    params: dict[str, object] | None = None,
) -> RunState:
    """Validate ``doc`` and run it to its end on ``executor`` (a name, or an instance)."""
    loaded = parse_flow(flow_text(doc), "scenario.json")
    chosen = get_executor(executor, network_mode="host") if isinstance(executor, str) else executor
    engine = Engine(store, chosen)
    engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format, params=params)
    if on_engine is not None:
        on_engine(engine)
    return asyncio.run(engine.run())


def simple_flow(stages: list[dict[str, object]], **extra: object) -> dict[str, object]:
    return {"uri": "test/engine/scenario", "stages": stages, **extra}


def stage(name: str, *actions: dict[str, object], parallel: bool = False) -> dict[str, object]:
    return {
        "type": "normal",
        "name": name,
        "sequencing": "parallel" if parallel else "sequence",
        "actions": list(actions),
    }


def action(name: str, *jobs: dict[str, object]) -> dict[str, object]:
    return {"name": name, "jobs": list(jobs)}


def job(name: str, executor: str, behaviour: Behaviour | None = None, **keys: object) -> dict[str, object]:
    return {"name": name, **job_body(executor, behaviour or Behaviour()), **keys}
