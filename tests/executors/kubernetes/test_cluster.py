"""The Kubernetes executor's scenarios (scenarios.py) on a real cluster: run when
``KUBECONFIG`` names one, else skipped with the reason printed (``pytest -ra`` lists it).

- ``COOPS_K8S_TEST_NAMESPACE``: the namespace to run in (default ``default``);
- ``COOPS_K8S_TEST_IMAGE``: an image with ``sh``, ``head``, ``tr`` and ``sleep`` the nodes
  can pull (default ``busybox:1.36``).
The workspace scenario needs a ReadWriteMany storage class (``COOPS_K8S_STORAGE_CLASS``),
so it runs only when that is set.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from kubernetes import client as k8s

from containerops.executors.kubernetes import KubernetesExecutor
from containerops.executors.kubernetes.client import connect
from containerops.executors.kubernetes.settings import Settings
from tests.executors.kubernetes import scenarios

pytestmark = pytest.mark.kubernetes_cluster

NAMESPACE = os.environ.get("COOPS_K8S_TEST_NAMESPACE", "default")
IMAGE = os.environ.get("COOPS_K8S_TEST_IMAGE", "busybox:1.36")


@pytest.fixture(scope="module")
def cluster_api() -> Iterator[k8s.ApiClient]:
    if not os.environ.get("KUBECONFIG"):
        reason = "KUBECONFIG is not set: no Kubernetes cluster to run the executor's scenarios on"
        print(reason, file=sys.stderr)
        pytest.skip(reason)
    api, _ = connect()
    yield api
    api.close()


@pytest.fixture
def executor(cluster_api: k8s.ApiClient) -> Iterator[KubernetesExecutor]:
    settings = Settings.from_environment()
    chosen = KubernetesExecutor(
        Settings(NAMESPACE, settings.storage_class, settings.workspace_size, settings.pull_secret, 600),
        api=cluster_api,
        namespace=NAMESPACE,
    )
    yield chosen
    chosen.close()


def view(api: k8s.ApiClient) -> scenarios.Cluster:
    core, batch = k8s.CoreV1Api(api), k8s.BatchV1Api(api)
    calls = {
        "jobs": batch.list_namespaced_job,
        "pods": core.list_namespaced_pod,
        "secrets": core.list_namespaced_secret,
        "persistentvolumeclaims": core.list_namespaced_persistent_volume_claim,
    }

    def list_objects(resource: str, selector: str) -> list[dict[str, Any]]:
        response = calls[resource](NAMESPACE, label_selector=selector, _preload_content=False)
        # Objects being deleted (their finalizers pending) count as gone.
        items = json.loads(response.data)["items"]
        return [item for item in items if "deletionTimestamp" not in item["metadata"]]

    return scenarios.Cluster(NAMESPACE, list_objects)


@pytest.mark.parametrize("scenario", scenarios.SCENARIOS, ids=lambda s: s.__name__)
def test_scenario_on_a_real_cluster(
    scenario: Callable[..., Awaitable[None]], executor: KubernetesExecutor, cluster_api: k8s.ApiClient
) -> None:
    asyncio.run(asyncio.wait_for(scenario(executor, view(cluster_api), IMAGE), 300))


def test_the_workspace_on_a_real_cluster(executor: KubernetesExecutor, cluster_api: k8s.ApiClient) -> None:
    if not os.environ.get("COOPS_K8S_STORAGE_CLASS"):
        reason = "COOPS_K8S_STORAGE_CLASS is not set: no ReadWriteMany storage class to test the workspace on"
        print(reason, file=sys.stderr)
        pytest.skip(reason)
    asyncio.run(scenarios.workspace_shared_by_the_jobs_of_a_run(executor, view(cluster_api), IMAGE))
