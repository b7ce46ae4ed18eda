"""bench/swarm_fanout.py's flow: valid, as wide as asked, and each job's node read back
as its output (``engine`` where no swarm sets CO_SWARM_NODE), run for real by the local
executor."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from swarm_fanout import flow_text

from containerops.engine import Engine
from containerops.executors import get_executor
from containerops.model.loader import parse_flow
from containerops.store import Store


def test_the_fanout_flow_runs_every_job_in_parallel_and_outputs_its_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COOPS_HOME", str(tmp_path))
    monkeypatch.delenv("COOPS_DATABASE_URL", raising=False)
    loaded = parse_flow(flow_text(5, "registry.local:5000/containerops/base:busybox"), "fanout.yaml")
    [stage] = loaded.flow.stages
    assert stage.sequencing == "parallel" and len(stage.actions) == 5
    store = Store.open()
    try:
        engine = Engine(store, get_executor("local"))
        engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)
        state = asyncio.run(engine.run())
        run = store.get_run(state.id)
        assert state.status == "success", state.reason
        assert sorted(job.outputs["NODE"] for job in run.jobs) == ["engine"] * 5
        lines = sorted(line.line for line in store.log_lines(state.id) if line.line.startswith("step "))
        assert lines == [f"step {n}" for n in range(1, 6)]
    finally:
        store.close()
