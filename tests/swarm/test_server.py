"""``coops server`` with the swarm executor: a run through the API lands on the workers."""

from __future__ import annotations

from collections.abc import Callable

from containerops.executors.swarm import SwarmExecutor
from tests.server.conftest import LiveServer
from tests.server.flows import as_json, flow_doc, wait_for_run
from tests.swarmharness import Swarm


def test_a_run_started_through_the_api_runs_its_jobs_on_the_workers(
    on_swarm: Swarm,
    start_server: Callable[..., LiveServer],
    admin_token: str,
) -> None:
    command = ["sh", "-c", 'echo "[COUT] NODE = $CO_SWARM_NODE"']
    live = start_server(SwarmExecutor(registry=on_swarm.registry))
    with live.client(admin_token) as client:
        doc = flow_doc("demo/swarm/api", jobs=2, command=command, outputs=None)
        assert client.post("/api/v1/flows", content=as_json(doc)).status_code == 201
        started = client.post("/api/v1/runs", json={"flow": "demo/swarm/api"}).json()
        run = wait_for_run(client, started["id"], timeout=120)
    assert run["status"] == "success", run
    nodes = {on_swarm.node_name(job["outputs"]["NODE"]) for job in run["jobs"]}
    assert nodes <= {"n1", "n2"} and nodes, run["jobs"]
