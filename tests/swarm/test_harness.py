"""The harness itself: a manager and two workers in their namespaces, an image pulled
by every worker from the registry, the cgroups the workers' Engines need."""

from __future__ import annotations

import time
from contextlib import suppress

import docker
from docker.types import ContainerSpec, Placement, ServiceMode, TaskTemplate

from containerops.images import BUSYBOX_IMAGE
from tests.swarmharness import Swarm, Worker


def test_nodes_are_a_drained_manager_and_two_ready_workers(swarm: Swarm) -> None:
    nodes = {swarm.node_name(n["ID"]): n for n in swarm.client.api.nodes()}
    assert sorted(nodes) == ["manager", "n1", "n2"]
    assert nodes["manager"]["Spec"]["Availability"] == "drain"
    for name in ("n1", "n2"):
        node = nodes[name]
        assert node["Status"]["State"] == "ready"
        assert node["Spec"]["Role"] == "worker"
        assert node["Spec"]["Labels"]["coops.node"] == name
        assert node["Status"]["Addr"] == swarm.worker(name).address


def test_each_worker_pulls_from_the_registry_and_runs_a_job(swarm: Swarm) -> None:
    image = f"{swarm.registry}/harness/busybox:1"
    swarm.client.images.get(BUSYBOX_IMAGE).tag(image)
    for _ in swarm.client.api.push(image, stream=True, decode=True):
        pass
    ran: dict[str, str] = {}
    for worker in swarm.workers:
        name = f"coops-harness-{worker.name}"
        spec = TaskTemplate(
            ContainerSpec(image, ["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes || true"]),
            placement=Placement(constraints=[f"node.labels.coops.node == {worker.name}"]),
        )
        swarm.client.api.create_service(spec, name=name, mode=ServiceMode("replicated-job"))
        try:
            deadline = time.monotonic() + 60
            while True:
                tasks = swarm.client.api.tasks(filters={"service": name})
                if tasks and tasks[0]["Status"]["State"] in ("complete", "failed", "rejected"):
                    break
                assert time.monotonic() < deadline, f"the job on {worker.name} did not end: {tasks}"
                time.sleep(0.2)
            task = tasks[0]
            assert task["Status"]["State"] == "complete", task["Status"]
            ran[worker.name] = swarm.node_name(task["NodeID"])
        finally:
            swarm.client.api.remove_service(name)
    assert ran == {"n1": "n1", "n2": "n2"}
    for worker in swarm.workers:
        remove_task_containers(worker, f"coops-harness-{worker.name}")


def remove_task_containers(worker: Worker, service: str) -> None:
    """A removed replicated-job's completed task keeps its container on the node (a minute
    and more): remove it, so that later tests on the harness find the nodes clean."""
    client = worker.client()
    try:
        filters = {"label": f"com.docker.swarm.service.name={service}"}
        for container in client.api.containers(all=True, filters=filters):
            with suppress(docker.errors.NotFound):
                client.api.remove_container(container["Id"], force=True)
        assert client.api.containers(all=True, filters=filters) == []
    finally:
        client.close()
