"""``coops run --executor kubernetes`` end to end: the CLI (a real process) reads the
kubeconfig, which names the local API server of tests/kubeapi.py, and runs a flow on it
through the engine: outputs from CO_OUTPUT, the workspace shared across stages, a secret
given to a job through its owned Secret and masked in the log, a failing job's exit code."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from containerops.store import Store
from containerops.store.accounts import create_token, create_user
from containerops.store.runs import get_run, list_runs
from tests.cli.test_abandoned import stored_lines, the_run
from tests.cli.test_cli import COOPS, coops, write
from tests.kubeapi import KubeAPI
from tests.server.conftest import ServerProcess
from tests.waiting import wait_for

FLOW = """\
uri: team/k8s/flow
environments: {TOKEN: "${{ secrets.TOKEN }}"}
stages:
  - name: build
    actions:
      - name: make
        jobs:
          - name: write
            endpoint: registry.local:5000/containerops/base:busybox
            command:
              - sh
              - -c
              - echo built > "$CO_WORKSPACE/artifact"; echo VERSION=1.2 > "$CO_OUTPUT"; echo "token $TOKEN"
            outputs: [VERSION]
  - name: check
    actions:
      - name: read
        jobs:
          - name: read
            endpoint: registry.local:5000/containerops/base:busybox
            command: [sh, -c, 'cat "$CO_WORKSPACE/artifact"; exit 5']
"""


@pytest.fixture
def kubeconfig(tmp_path: Path) -> tuple[KubeAPI, Path]:
    server = KubeAPI(tmp_path / "cluster")
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: local, cluster: {{server: '{server.url}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: local, user: u, namespace: ci}}]\n"
    )
    yield server, path  # type: ignore[misc]
    server.stop()


def test_a_flow_runs_on_kubernetes_through_the_cli(tmp_path: Path, kubeconfig: tuple[KubeAPI, Path]) -> None:
    server, path = kubeconfig
    home = tmp_path / "home"
    flow = write(tmp_path, FLOW)
    token = "k8s-secret-value-0042"
    result = coops(
        "run",
        str(flow),
        "--executor",
        "kubernetes",
        "--secret",
        f"TOKEN={token}",
        home=home,
        extra_env={"KUBECONFIG": str(path)},
    )
    assert result.returncode == 1, result.stderr
    store = Store.open(f"sqlite:///{home / 'containerops.db'}")
    try:
        [summary] = list_runs(store)
        run = get_run(store, summary.id)
    finally:
        store.close()
    jobs = {job.path: job for job in run.jobs}
    assert run.status == "failure" and run.executor == "kubernetes"
    assert jobs["build.make.write"].status == "success"
    assert jobs["build.make.write"].outputs == {"VERSION": "1.2"}
    assert (jobs["check.read.read"].status, jobs["check.read.read"].exit_code) == ("failure", 5)
    logs = coops("logs", str(summary.id), home=home, check=0).stdout
    assert "token ***" in logs and token not in logs
    assert "built" in logs
    # Every Job, pod and Secret of the run is gone, and its workspace claim too.
    for resource in ("jobs", "pods", "secrets", "persistentvolumeclaims"):
        assert server.cluster.list(resource, "ci", "")["items"] == [], resource
    created = [r for r in server.cluster.requests if r.startswith("POST")]
    # The flow's environment (with the secret) is every job's: each has its Secret.
    assert created.count("POST jobs") == 2 and created.count("POST secrets") == 2
    assert created.count("POST persistentvolumeclaims") == 1


def test_a_job_without_an_image_is_refused_before_anything_starts(
    tmp_path: Path, kubeconfig: tuple[KubeAPI, Path]
) -> None:
    server, path = kubeconfig
    flow = write(
        tmp_path,
        "uri: team/k8s/bare\nstages:\n  - name: s\n    actions:\n      - name: a\n"
        "        jobs:\n          - {name: j, command: [sh, -c, 'true']}\n",
    )
    result = coops(
        "run",
        str(flow),
        "--executor",
        "kubernetes",
        home=tmp_path / "home",
        extra_env={"KUBECONFIG": str(path)},
        check=2,
    )
    assert f"{flow}:7:13" in result.stderr + result.stdout
    assert "no endpoint image for the kubernetes executor" in result.stderr + result.stdout
    assert server.cluster.requests == []


def test_the_server_runs_flows_on_kubernetes(
    tmp_path: Path, kubeconfig: tuple[KubeAPI, Path], coops_home: Path
) -> None:
    """``coops server --executor kubernetes`` (a real process, its cluster from KUBECONFIG)
    runs a flow sent by ``coops run --server``; its jobs are Kubernetes Jobs."""
    server, path = kubeconfig
    store = Store.open()
    try:
        create_user(store, "root", admin=True)
        token = create_token(store, "root", "admin")
    finally:
        store.close()
    secret = "served-secret-value-0042"
    coops("secret", "set", "team", "TOKEN", "--value-stdin", home=coops_home, check=0, input=secret)
    process = ServerProcess(coops_home, "kubernetes", env={"KUBECONFIG": str(path)})
    process.start()
    try:
        flow = write(tmp_path, FLOW.replace("uri: team/k8s/flow", "uri: team/k8s/served"))
        client_env = {**os.environ, "COOPS_TOKEN": token, "COOPS_HOME": str(tmp_path / "client-home")}
        result = subprocess.run(
            [*COOPS, "run", str(flow), "--server", process.url],
            env=client_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        process.stop()
    assert result.returncode == 1, result.stderr  # the second job exits 5
    assert "[build.make.write] token ***" in result.stdout and secret not in result.stdout
    assert "[check.read.read] built" in result.stdout
    assert server.cluster.requests.count("POST jobs") == 2
    for resource in ("jobs", "pods", "secrets", "persistentvolumeclaims"):
        assert server.cluster.list(resource, "ci", "")["items"] == [], resource


def test_a_killed_runs_jobs_secrets_and_claim_are_deleted_when_it_is_settled(
    tmp_path: Path, kubeconfig: tuple[KubeAPI, Path]
) -> None:
    """``coops run`` killed with -9 leaves its Job running in the cluster; the next command
    that sees the run abandoned (``coops logs -f``) deletes its Jobs (foreground: the pod goes
    first), its Secrets and its workspace claim, by the run's label, in the namespace the
    run used (here one per coops namespace, so the flow's uri names it)."""
    server, path = kubeconfig
    home = tmp_path / "home"
    env = {"KUBECONFIG": str(path), "COOPS_K8S_NAMESPACE": "coops-{namespace}"}
    flow = write(
        tmp_path,
        "uri: team/k8s/abandon\nenvironments: {TOKEN: '${{ secrets.TOKEN }}'}\nstages:\n  - name: s\n"
        "    actions:\n      - name: a\n        jobs:\n          - name: long\n"
        "            endpoint: registry.local:5000/containerops/base:busybox\n"
        "            command: [sh, -c, 'echo before-kill; sleep 300']\n",
    )
    runner = subprocess.Popen(
        [*COOPS, "run", str(flow), "--executor", "kubernetes", "--secret", "TOKEN=abc"],
        env={**os.environ, "COOPS_HOME": str(home), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: "before-kill" in stored_lines(home), "the job's first line in the store", 60)
    finally:
        runner.kill()
        runner.wait(10)
    uid = str(the_run(home)["uid"])
    left = {r: server.cluster.list(r, "coops-team", "")["items"] for r in ("jobs", "pods", "secrets")}
    assert [len(items) for items in left.values()] == [1, 1, 1], left
    assert all(item["metadata"]["labels"]["containerops.run"] == uid for item in left["jobs"])
    assert len(server.cluster.list("persistentvolumeclaims", "coops-team", "")["items"]) == 1
    assert "DELETECOLLECTION jobs" not in server.cluster.requests  # nobody settled it yet

    followed = coops("logs", "1", "-f", home=home, extra_env=env, check=0)

    assert "before-kill" in followed.stdout
    run = the_run(home)
    assert run["status"] == "failure" and str(run["reason"]).startswith("abandoned:")
    for resource in ("jobs", "pods", "secrets", "persistentvolumeclaims"):
        wait_for(
            lambda resource=resource: server.cluster.list(resource, "coops-team", "")["items"] == [],  # type: ignore[misc]
            f"the run's {resource} to be deleted",
            30,
        )
    assert "DELETECOLLECTION jobs" in server.cluster.requests
