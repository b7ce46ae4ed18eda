"""coops itself on the swarm: deploy/swarm/stack.yaml (PostgreSQL, two servers, workers)
deployed with ``docker stack deploy`` on the harness's nodes, and a flow started by a
signed GitHub webhook run through it end to end. Then ``docker stack rm`` and nothing of
it left on any node (services, tasks' containers, networks, secrets, volumes).

The images (``coops images build-server`` and ``build-postgres``) reach the nodes through
the harness's registry. The manager is made active for the test (the stack's workers run
on managers, where the Docker socket is a manager's) and drained again after.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest

from containerops.contract.signatures import sign
from containerops.images.postgres import POSTGRES_IMAGE, build_postgres_image
from containerops.images.recipes import COOPS_UID
from containerops.images.registry import REGISTRY_IMAGE, build_registry_image
from containerops.images.server import SERVER_IMAGE, build_server_image
from tests.conftest import ROOT
from tests.repository.conftest import free_port
from tests.server.flows import wait_for_run
from tests.swarmharness import Swarm, Worker
from tests.waiting import wait_for

STACK_FILE = ROOT / "deploy" / "swarm" / "stack.yaml"
STACK = "coopstest"
STACK_LABEL = f"com.docker.stack.namespace={STACK}"
#: The node label that says where the database's volume lives (see the stack file).
DB_LABEL = "coops-db"
HOOK_SECRET = "signed-by-the-stack-test"
#: What the nodes pull from the harness's registry to run the stack.
STACK_IMAGES = (SERVER_IMAGE, POSTGRES_IMAGE, REGISTRY_IMAGE)
#: Prints where the job ran (output NODE) and a line the stored log must keep.
COMMAND = ["sh", "-c", 'echo "[COUT] NODE = $CO_SWARM_NODE"; echo "hello from $CO_SWARM_NODE"']


def docker_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr.strip()}"
    return done.stdout


def push(client: docker.DockerClient, image: str, registry: str) -> None:
    """Tag ``image`` as REGISTRY/image and push it: the nodes pull it from there."""
    repository, _, tag = image.rpartition(":")
    client.images.get(image).tag(f"{registry}/{repository}", tag)
    for event in client.images.push(f"{registry}/{repository}", tag, stream=True, decode=True):
        assert "error" not in event, event


def secrets_folder(folder: Path) -> Path:
    """The three files the stack makes into Docker secrets."""
    folder.mkdir(mode=0o700)
    password = secrets.token_urlsafe(16)
    (folder / "db-password").write_text(password)
    (folder / "database-url").write_text(f"postgresql+psycopg://coops:{password}@postgres:5432/coops")
    (folder / "server-key").write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
    return folder


def task_container(node: Worker, service: str) -> Any:
    """The running container of ``service``'s task on ``node``."""
    client = node.client()
    try:
        found = client.containers.list(filters={"label": f"com.docker.swarm.service.name={STACK}_{service}"})
        assert found, f"no {service} container on {node.name}"
        return found[0]
    finally:
        client.close()


def in_container(container: Any, script: str) -> str:
    """Run ``script`` in the container with the stack's secrets read in, as its services do."""
    prelude = (
        'export COOPS_DATABASE_URL="$(cat /run/secrets/database-url)" '
        'COOPS_SERVER_KEY="$(cat /run/secrets/server-key)"; '
    )
    code, output = container.exec_run(["sh", "-c", prelude + script], demux=True)
    stdout, stderr = output
    assert code == 0, (stderr or b"").decode()[-2000:]
    return (stdout or b"").decode()


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def leftovers(swarm: Swarm) -> dict[str, list[str]]:
    """What of the stack or its jobs is still on any node: services, secrets (the swarm is the
    harness's: all of them), networks, volumes, and containers of swarm tasks."""
    found: dict[str, list[str]] = {
        "services": [s.name for s in swarm.client.services.list()],
        "secrets": [s.name for s in swarm.client.secrets.list()],
    }
    clients = {"manager": swarm.client} | {w.name: w.client() for w in swarm.workers}
    try:
        for name, client in clients.items():
            found[f"{name} networks"] = [n.name for n in client.networks.list(filters={"label": STACK_LABEL})]
            found[f"{name} volumes"] = [v.name for v in client.volumes.list(filters={"label": STACK_LABEL})]
            found[f"{name} containers"] = container_names(client, "com.docker.swarm.task")
    finally:
        for name, client in clients.items():
            if name != "manager":
                client.close()
    return {what: names for what, names in found.items() if names}


def container_names(client: docker.DockerClient, label: str) -> list[str]:
    return [c["Names"][0] for c in client.api.containers(all=True, filters={"label": label})]


def what_happened() -> str:
    """The stack's tasks (with their errors) and its services' last log lines."""
    tasks = subprocess.run(
        [
            "docker",
            "stack",
            "ps",
            STACK,
            "--no-trunc",
            "--format",
            "{{.Name}} {{.Node}} {{.CurrentState}} {{.Error}}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    text = tasks.stdout + tasks.stderr
    for service in ("registry", "postgres", "server", "workers"):
        logs = subprocess.run(
            ["docker", "service", "logs", "--tail", "15", f"{STACK}_{service}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        text += f"--- {service}\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}"
    return text


def remove_volumes(swarm: Swarm) -> None:
    """``docker stack rm`` keeps volumes: remove the stack's on every node, once their
    containers are gone."""
    for worker in swarm.workers:
        client = worker.client()
        try:
            for volume in client.volumes.list(filters={"label": STACK_LABEL}):
                volume.remove(force=True)
        finally:
            client.close()


@contextmanager
def deployed(swarm: Swarm, folder: Path, registry_port: int) -> Iterator[Swarm]:
    """deploy/swarm/stack.yaml deployed on the harness (n1 keeps the database), up and
    answering; then removed, and the nodes as they were (labels, the drained manager)."""
    build_server_image()
    build_postgres_image()
    build_registry_image()
    for image in STACK_IMAGES:
        push(swarm.client, image, swarm.registry)
    storage = folder / "registry"
    storage.mkdir()
    os.chown(storage, COOPS_UID, COOPS_UID)
    env = {
        **os.environ,
        "COOPS_REGISTRY": swarm.registry,
        "COOPS_REGISTRY_STORAGE": str(storage),
        "COOPS_STACK_REGISTRY_PORT": str(registry_port),
        "COOPS_SECRETS_DIR": str(secrets_folder(folder / "secrets")),
        "DOCKER_GID": str(os.stat("/var/run/docker.sock").st_gid),
    }
    n1 = swarm.worker("n1")
    swarm.set_availability(swarm.manager_id, "active")
    swarm.set_availability(n1.node_id, "active", {DB_LABEL: "true"})
    try:
        docker_cli("stack", "deploy", "--compose-file", str(STACK_FILE), STACK, env=env)
        urls = [f"http://{worker.address}:8080" for worker in swarm.workers]
        deadline = time.monotonic() + 150
        while not all(answers(url) for url in urls):
            assert time.monotonic() < deadline, f"the stack's servers do not answer:\n{what_happened()}"
            time.sleep(0.5)
        yield swarm
    finally:
        subprocess.run(["docker", "stack", "rm", STACK], capture_output=True, timeout=60, check=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and set(leftovers(swarm)) - {"n1 volumes"}:
            time.sleep(0.5)
        remove_volumes(swarm)
        node = swarm.client.api.inspect_node(n1.node_id)
        labels = {k: v for k, v in (node["Spec"].get("Labels") or {}).items() if k != DB_LABEL}
        swarm.client.api.update_node(n1.node_id, node["Version"]["Index"], {**node["Spec"], "Labels": labels})
        swarm.set_availability(swarm.manager_id, "drain")
        for image in STACK_IMAGES:
            repository, _, tag = image.rpartition(":")
            with suppress(docker.errors.APIError):
                swarm.client.images.remove(f"{swarm.registry}/{repository}:{tag}")


def flow_document() -> dict[str, Any]:
    job = {"endpoint": "containerops/base:busybox", "command": COMMAND}
    return {
        "uri": "acme/shop/ci",
        "triggers": [{"type": "github", "events": ["push"], "branches": ["main"], "secret": "GITHUB_HOOK"}],
        "stages": [
            {"type": "start", "name": "start"},
            {
                "type": "normal",
                "name": "build",
                "sequencing": "parallel",
                "actions": [{"name": f"a{i}", "jobs": [{"name": f"job{i}", **job}]} for i in range(2)],
            },
            {"type": "end", "name": "end"},
        ],
    }


def signed_push(url: str) -> httpx.Response:
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "after": "c" * 40,
            "deleted": False,
            "repository": {"full_name": "acme/shop", "clone_url": "https://github.com/acme/shop.git"},
        }
    ).encode()
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(HOOK_SECRET, body),
        "Content-Type": "application/json",
    }
    return httpx.post(f"{url}/hooks/github/acme/shop/ci", content=body, headers=headers, timeout=30)


@pytest.mark.timeout(600)
def test_the_stack_runs_a_flow_started_by_a_signed_webhook_and_leaves_nothing(
    on_swarm: Swarm, tmp_path: Path
) -> None:
    before = leftovers(on_swarm)  # what earlier tests left is theirs to answer for
    registry_port = free_port()
    with deployed(on_swarm, tmp_path, registry_port) as stack:
        through_the_stack(stack, registry_port)
    after = leftovers(on_swarm)
    new = {what: sorted(set(names) - set(before.get(what, []))) for what, names in after.items()}
    assert {what: names for what, names in new.items() if names} == {}


def through_the_stack(stack: Swarm, registry_port: int) -> None:
    """Set up an administrator, a flow and its webhook secret; trigger it; check the run,
    and that its jobs' image went through the stack's own registry."""
    n1, n2 = stack.worker("n1"), stack.worker("n2")
    server = task_container(n1, "server")
    token = in_container(
        server,
        "coops user create root --admin >/dev/null"
        " && coops token create --user root --scope admin --name stack",
    ).strip()
    auth = {"Authorization": f"Bearer {token}"}
    # The flow and the webhook's secret go through one server, the webhook through the
    # other: both read the same database, with the same server key (a Docker secret).
    with httpx.Client(base_url=f"http://{n1.address}:8080", headers=auth, timeout=30) as one:
        saved = one.post("/api/v1/flows", content=json.dumps(flow_document()))
        assert saved.status_code == 201, saved.text
        secret = one.put("/api/v1/namespaces/acme/secrets/GITHUB_HOOK", json={"value": HOOK_SECRET})
        assert secret.status_code == 201, secret.text
    other = f"http://{n2.address}:8080"
    unsigned = httpx.post(f"{other}/hooks/github/acme/shop/ci", json={}, headers={"X-GitHub-Event": "push"})
    assert unsigned.status_code in (401, 403), unsigned.text
    answer = signed_push(other)
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["run"]["id"]
    with httpx.Client(base_url=other, headers=auth, timeout=30) as two:
        run = wait_for_run(two, run_id, timeout=180)
        lines = two.get(f"/api/v1/runs/{run_id}/logs", params={"plain": True}).json()["lines"]
        stored = "\n".join(line["line"] for line in lines)
        assert run["status"] == "success", f"{json.dumps(run)[:3000]}\n{stored[-3000:]}\n{what_happened()}"
        nodes = {stack.node_name(job["outputs"]["NODE"]) for job in run["jobs"]}
        assert nodes and nodes <= {"manager", "n1", "n2"}, run["jobs"]
        for job in run["jobs"]:
            assert f"hello from {job['outputs']['NODE']}" in stored, stored

        def listed_stack_workers() -> set[str]:  # named by their task slots
            return {
                w["name"] for w in two.get("/api/v1/workers").json() if w["name"].startswith("coops-worker-")
            }

        # Both replicas of the worker service register (one may register after the run has
        # ended: one worker is enough for its two jobs).
        wait_for(lambda: len(listed_stack_workers()) == 2, "both of the stack's workers to register", 120)
        stack_workers = listed_stack_workers()
    # Every job was claimed by a worker of the stack.
    database = task_container(n1, "postgres")
    code, output = database.exec_run(
        [
            "psql",
            "-h",
            "/tmp",
            "-U",
            "coops",
            "-d",
            "coops",
            "-At",
            "-c",
            f"SELECT path || ' ' || worker FROM ready_jobs WHERE run_id = {int(run_id)} ORDER BY path",
        ]
    )
    claimed = output.decode().split("\n")
    assert code == 0 and len([c for c in claimed if c]) == 2, output.decode()
    assert all(line.split(" ")[1] in stack_workers for line in claimed if line), claimed
    # The workers pushed the jobs' image to the stack's registry (on the manager: the one
    # its Engine reaches at 127.0.0.1); every node's registry serves it from the shared
    # storage, and each node that ran a job pulled it from its own, at 127.0.0.1.
    pulled_as = f"127.0.0.1:{registry_port}/containerops/base"
    for worker in (n1, n2):
        catalog = httpx.get(f"http://{worker.address}:{registry_port}/v2/_catalog", timeout=10)
        assert "containerops/base" in catalog.json()["repositories"], (worker.name, catalog.text)
    for node in nodes - {"manager"}:
        client = stack.worker(node).client()
        try:
            digests = [d for image in client.images.list() for d in image.attrs.get("RepoDigests") or []]
        finally:
            client.close()
        assert any(d.startswith(f"{pulled_as}@") for d in digests), (node, digests)
