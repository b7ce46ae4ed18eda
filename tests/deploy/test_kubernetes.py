"""deploy/kubernetes: every object valid against the Kubernetes OpenAPI schemas, and the
Role allowing every call the Kubernetes executor makes (as recorded by the local API
server of tests/kubeapi.py while the executor runs its scenarios) and nothing it does not.

``kubectl apply --dry-run=client`` runs on them too, against the local API server (even
in client mode kubectl asks a server which resources there are: tests/kubeapi.py serves
that discovery), with ``--validate=false``: kubectl's own validation needs the server's
OpenAPI documents, which the local server does not serve; the schema check stands in.
Without kubectl on the PATH that test is skipped, saying so.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from containerops.executors.kubernetes import KubernetesExecutor
from containerops.executors.kubernetes.settings import Settings
from tests.conftest import ROOT
from tests.executors.kubernetes import scenarios
from tests.executors.kubernetes.schemas import check
from tests.kubeapi import KubeAPI

DEPLOY = ROOT / "deploy" / "kubernetes"
FILES = ("rbac.yaml", "server.yaml", "workers.yaml")
#: The HTTP verb the fake server records -> the RBAC verb it needs.
RBAC_VERBS = {
    "POST": "create",
    "GET": "get",
    "LIST": "list",
    "WATCH": "watch",
    "PATCH": "patch",
    "DELETE": "delete",
    "DELETECOLLECTION": "deletecollection",
}
GROUPS = {"jobs": "batch", "pods": "", "pods/log": "", "secrets": "", "persistentvolumeclaims": ""}


def objects() -> list[dict[str, Any]]:
    found = []
    for name in FILES:
        found += [doc for doc in yaml.safe_load_all((DEPLOY / name).read_text()) if doc]
    return found


def test_every_object_is_valid_for_kubernetes() -> None:
    kinds = []
    for obj in objects():
        check(obj)
        kinds.append(obj["kind"])
    assert sorted(kinds) == ["Deployment", "Deployment", "Role", "RoleBinding", "Service", "ServiceAccount"]
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(FILES)


def test_the_deployments_run_as_the_service_account_the_role_is_bound_to() -> None:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects():
        by_kind.setdefault(obj["kind"], []).append(obj)
    [account], [binding], [role] = by_kind["ServiceAccount"], by_kind["RoleBinding"], by_kind["Role"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"]}]
    for deployment in by_kind["Deployment"]:
        pod = deployment["spec"]["template"]
        assert pod["spec"]["serviceAccountName"] == account["metadata"]["name"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_the_role_allows_exactly_what_the_executor_does(tmp_path: Path) -> None:
    server = KubeAPI(tmp_path / "cluster")
    executor = KubernetesExecutor(
        Settings(namespace="coops"), api=k8s.ApiClient(k8s.Configuration(host=server.url))
    )
    try:
        cluster = scenarios.Cluster(
            "coops", lambda resource, selector: server.cluster.list(resource, "coops", selector)["items"]
        )
        for scenario in (
            scenarios.secrets_stay_out_of_the_job,
            scenarios.workspace_shared_by_the_jobs_of_a_run,
            scenarios.a_leftover_of_the_same_attempt_is_replaced,
            scenarios.timeout,
        ):
            asyncio.run(scenario(executor, cluster, "image:1"))
    finally:
        executor.close()
        server.stop()
    used = set()
    for request in server.cluster.requests:
        verb, resource = request.split(" ")
        used.add((GROUPS[resource], resource, RBAC_VERBS[verb]))
    [role] = [obj for obj in objects() if obj["kind"] == "Role"]
    allowed = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert used - allowed == set()
    # Nothing granted that the executor does not use; these two it uses only in some
    # timings (a pod not yet running when first listed; a leftover Secret of the attempt).
    assert allowed - used <= {("", "pods", "watch"), ("", "secrets", "get")}


def kubectl_apply(server: KubeAPI, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        reason = "kubectl is not installed: kubectl apply --dry-run=client not run (the schema check was)"
        print(reason, file=sys.stderr)
        pytest.skip(reason)
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: local, cluster: {{server: '{server.url}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: local, user: u, namespace: coops}}]\n"
    )
    env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(tmp_path)}
    command = [kubectl, "apply", "--dry-run=client", "--validate=false", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_kubectl_apply_dry_run_takes_them(tmp_path: Path) -> None:
    server = KubeAPI(tmp_path / "cluster")
    try:
        applied = kubectl_apply(server, tmp_path, "-k", str(DEPLOY))
        assert applied.returncode == 0, applied.stderr
        for line in (
            "serviceaccount/coops",
            "role.rbac.authorization.k8s.io/coops-jobs",
            "rolebinding.rbac.authorization.k8s.io/coops-jobs",
            "service/coops-server",
            "deployment.apps/coops-server",
            "deployment.apps/coops-workers",
        ):
            assert f"{line} created (dry run)" in applied.stdout
        # The check can fail: a kind the server does not have is refused.
        wrong = tmp_path / "wrong.yaml"
        wrong.write_text("apiVersion: apps/v1\nkind: Deploymint\nmetadata: {name: x}\n")
        refused = kubectl_apply(server, tmp_path, "-f", str(wrong))
        assert refused.returncode != 0 and "Deploymint" in refused.stderr
        assert server.cluster.objects == {}  # a dry run: nothing was created
    finally:
        server.stop()
