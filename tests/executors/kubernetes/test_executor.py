"""The Kubernetes executor end to end against the local API server of tests/kubeapi.py (a
real HTTP server on 127.0.0.1 speaking the Kubernetes API, whose kubelet runs the jobs'
commands as local processes); the same scenarios run on a real cluster in test_cluster.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.config import incluster_config

from containerops.engine.attempt import secret_names
from containerops.engine.masking import Masker
from containerops.executors import get_executor
from containerops.executors.base import ExecutorError, ExitStatus, JobHandle, RunContext
from containerops.executors.kubernetes import KubernetesExecutor
from containerops.executors.kubernetes import client as kubernetes_client
from containerops.executors.kubernetes.settings import Settings
from tests.executors.kubernetes import scenarios
from tests.executors.kubernetes.schemas import check
from tests.kubeapi import KubeAPI

NAMESPACE = "coops-test"
IMAGE = "registry.local:5000/containerops/base:busybox"


@pytest.fixture
def kubeapi(tmp_path: Path) -> Iterator[KubeAPI]:
    server = KubeAPI(tmp_path / "cluster")
    yield server
    server.stop()


@pytest.fixture
def executor(kubeapi: KubeAPI) -> Iterator[KubernetesExecutor]:
    configuration = k8s.Configuration(host=kubeapi.url)
    chosen = KubernetesExecutor(Settings(namespace=NAMESPACE), api=k8s.ApiClient(configuration))
    yield chosen
    chosen.close()


def view(kubeapi: KubeAPI) -> scenarios.Cluster:
    def list_objects(resource: str, selector: str) -> list[dict[str, Any]]:
        return list(kubeapi.cluster.list(resource, NAMESPACE, selector)["items"])

    return scenarios.Cluster(NAMESPACE, list_objects)


@pytest.mark.parametrize("scenario", scenarios.SCENARIOS, ids=lambda s: s.__name__)
def test_scenario_on_the_local_api_server(
    scenario: Callable[..., Awaitable[None]], executor: KubernetesExecutor, kubeapi: KubeAPI
) -> None:
    asyncio.run(asyncio.wait_for(scenario(executor, view(kubeapi), IMAGE), 60))


def test_the_workspace_is_one_claim_per_run_shared_by_its_jobs(
    executor: KubernetesExecutor, kubeapi: KubeAPI
) -> None:
    asyncio.run(scenarios.workspace_shared_by_the_jobs_of_a_run(executor, view(kubeapi), IMAGE))


def test_everything_the_executor_sends_is_valid_for_kubernetes(
    executor: KubernetesExecutor, kubeapi: KubeAPI
) -> None:
    """Every object the executor created on the server, as it sent it, passes the schema check."""
    sent: list[dict[str, Any]] = []
    original = kubeapi.cluster.create

    def recording(resource: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        if resource != "pods":  # pods are the fake Job controller's
            sent.append(json.loads(json.dumps(body)))
        return original(resource, namespace, body)

    kubeapi.cluster.create = recording  # type: ignore[method-assign]
    asyncio.run(scenarios.workspace_shared_by_the_jobs_of_a_run(executor, view(kubeapi), IMAGE))
    asyncio.run(scenarios.secrets_stay_out_of_the_job(executor, view(kubeapi), IMAGE))
    assert sorted({body["kind"] for body in sent}) == ["Job", "PersistentVolumeClaim", "Secret"]
    for body in sent:
        check(body)


def test_a_watch_whose_version_expired_lists_again_and_goes_on(
    executor: KubernetesExecutor, kubeapi: KubeAPI, tmp_path: Path
) -> None:
    """410 Gone: the server forgot the version the executor watches from (and ended the
    watch, as a restarting API server does); the executor lists anew and still sees the end."""
    cluster = kubeapi.cluster
    go = tmp_path / "go"  # the job ends once this exists (the kubelet runs it here)

    async def scenario() -> ExitStatus:
        run_id = scenarios.new_run()
        command = f"while [ ! -e {go} ]; do sleep 0.05; done; exit 4"
        handle = await executor.start(scenarios.spec(run_id, command, image=IMAGE))
        waiting = asyncio.ensure_future(executor.wait(handle))
        for _ in range(200):  # until the wait has listed and is watching
            if "WATCH pods" in cluster.requests:
                break
            await asyncio.sleep(0.05)
        lists = cluster.requests.count("LIST pods")
        # Something else changes, then the server forgets: the version the wait watches
        # from is older than any the server still has.
        cluster.create("secrets", NAMESPACE, {"metadata": {"name": "unrelated"}, "data": {}})
        cluster.compact()
        cluster.drop_watches()
        for _ in range(400):  # until the wait watched again from its old version: 410
            if cluster.gone_sent:
                break
            await asyncio.sleep(0.05)
        go.touch()
        status = await asyncio.wait_for(waiting, 30)
        assert cluster.gone_sent == 1
        assert cluster.requests.count("LIST pods") > lists
        await executor.destroy(handle)
        return status

    assert asyncio.run(scenario()) == ExitStatus(4)


def test_an_image_that_cannot_be_pulled_fails_at_once_with_why(
    executor: KubernetesExecutor, kubeapi: KubeAPI
) -> None:
    async def scenario() -> scenarios.Outcome:
        run_id = scenarios.new_run()
        return await scenarios.run_attempt(executor, scenarios.spec(run_id, "true", image="missing/app:1"))

    outcome = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert outcome.error is not None and "ErrImagePull" in outcome.error
    assert "missing/app:1" in outcome.error


def test_cancel_kills_the_process_through_the_pods_deletion(
    executor: KubernetesExecutor, kubeapi: KubeAPI
) -> None:
    asyncio.run(scenarios.cancel(executor, view(kubeapi), IMAGE))
    assert len(kubeapi.cluster.killed) == 1
    assert "DELETE jobs" in kubeapi.cluster.requests


def test_a_job_without_an_image_is_refused(executor: KubernetesExecutor, kubeapi: KubeAPI) -> None:
    job = scenarios.spec("r", "true", image=None)
    with pytest.raises(ExecutorError, match="needs an image"):
        asyncio.run(executor.start(job))
    assert kubeapi.cluster.requests == []


def test_an_api_server_out_of_reach_fails_the_run_at_setup_with_why(tmp_path: Path) -> None:
    configuration = k8s.Configuration(host="http://127.0.0.1:9")  # nothing listens on the discard port
    configuration.retries = 0
    unreachable = KubernetesExecutor(Settings(namespace=NAMESPACE), api=k8s.ApiClient(configuration))
    with pytest.raises(ExecutorError, match="cannot reach the Kubernetes API server"):
        asyncio.run(unreachable.setup(RunContext(run_id="r", flow_uri="a/b/c")))


def test_the_namespace_is_one_configured_or_one_per_coops_namespace() -> None:
    assert Settings(namespace="ci").namespace_for("team_a/repo/flow", "default") == "ci"
    assert Settings(namespace="coops-{namespace}").namespace_for("team_a/repo/flow", "x") == "coops-team-a"
    assert Settings().namespace_for("team/repo/flow", "from-kubeconfig") == "from-kubeconfig"
    with pytest.raises(ExecutorError, match="not a DNS label"):
        Settings(namespace="Bad_Name").namespace_for("t/r/f", "default")


def test_the_executor_is_chosen_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COOPS_K8S_NAMESPACE", "ci")
    chosen = get_executor("kubernetes")
    assert isinstance(chosen, KubernetesExecutor) and chosen.settings.namespace == "ci"


def test_handles_of_other_executors_are_refused(executor: KubernetesExecutor) -> None:
    with pytest.raises(ExecutorError, match="not a kubernetes job handle"):
        asyncio.run(executor.wait(JobHandle(scenarios.spec("r", "true"))))


def test_the_engine_marks_the_variables_that_hold_a_secret() -> None:
    masker = Masker(["hunter2-long-secret"])
    env = {"A": "plain", "B": "x hunter2-long-secret y", "C": "aHVudGVyMi1sb25nLXNlY3JldA=="}
    assert secret_names(env, masker.mask) == frozenset({"B", "C"})  # C: the secret in base64
    assert secret_names(env, Masker().mask) == frozenset()


def test_a_log_stream_cut_off_is_followed_again_without_a_line_lost_or_repeated(
    executor: KubernetesExecutor, kubeapi: KubeAPI
) -> None:
    cluster = kubeapi.cluster

    async def scenario() -> list[str]:
        run_id = scenarios.new_run()
        command = "for i in $(seq 1 30); do echo line-$i; sleep 0.05; done"
        handle = await executor.start(scenarios.spec(run_id, command, image=IMAGE))
        lines: list[str] = []
        async for line in executor.logs(handle):
            lines.append(line.text)
            if line.text in ("line-5", "line-15"):
                cluster.cut_logs()
        assert await executor.wait(handle) == ExitStatus(0)
        await executor.destroy(handle)
        return lines

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == [f"line-{i}" for i in range(1, 31)]
    assert kubeapi.cluster.requests.count("GET pods/log") >= 2  # followed again at least once


def test_a_long_wait_holds_up_no_other_job(executor: KubernetesExecutor, kubeapi: KubeAPI) -> None:
    """Waits run in threads of their own: with the event loop's shared pool down to one
    thread, the wait of a long job still leaves room for a short job's wait to end."""

    async def scenario() -> ExitStatus:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(1))
        run_id = scenarios.new_run()
        long = await executor.start(scenarios.spec(run_id, "sleep 30", image=IMAGE, path="s.a.long"))
        short = await executor.start(scenarios.spec(run_id, "exit 0", image=IMAGE, path="s.a.short"))
        waiting_long = asyncio.ensure_future(executor.wait(long))
        await asyncio.sleep(0.2)
        try:
            return await asyncio.wait_for(executor.wait(short), 15)
        finally:
            waiting_long.cancel()
            await executor.destroy(long)
            await executor.destroy(short)

    assert asyncio.run(scenario()) == ExitStatus(0)


def test_a_job_waits_for_a_node_with_its_labels_and_says_so(
    executor: KubernetesExecutor, kubeapi: KubeAPI
) -> None:
    """nodeSelector: no node has ``disk=ssd``, so the pod is unschedulable and the job's log
    says what the scheduler says; once a node is labelled so, the job runs there."""

    async def scenario() -> tuple[list[str], ExitStatus]:
        run_id = scenarios.new_run()
        job = scenarios.spec(run_id, "echo ran", image=IMAGE, node_labels={"disk": "ssd"})
        handle = await executor.start(job)
        lines: list[str] = []
        said = asyncio.Event()

        async def read() -> None:
            async for line in executor.logs(handle):
                lines.append(line.text)
                said.set()

        reading = asyncio.ensure_future(read())
        await asyncio.wait_for(said.wait(), 10)
        [pod] = kubeapi.cluster.list("pods", NAMESPACE, handle.selector)["items"]
        assert pod["spec"]["nodeSelector"] == {"disk": "ssd"} and "nodeName" not in pod["spec"]
        kubeapi.cluster.label_node(disk="ssd")
        await reading
        status = await executor.wait(handle)
        await executor.destroy(handle)
        return lines, status

    lines, status = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert status == ExitStatus(0)
    assert lines[-1] == "ran" and len(lines) == 2
    assert lines[0].startswith("[coops] waiting for a node: 0/1 nodes are available")


def test_a_job_past_its_deadline_is_stopped_by_kubernetes_after_its_first_lines(
    executor: KubernetesExecutor, kubeapi: KubeAPI
) -> None:
    """activeDeadlineSeconds: the Job controller deletes the pod, whose process is killed;
    what it printed before is kept, and the reason is the timeout."""
    asyncio.run(scenarios.timeout(executor, view(kubeapi), IMAGE))
    [killed] = kubeapi.cluster.killed
    assert killed.startswith("coops-build-test-job-1-")


def test_an_api_server_lost_mid_job_fails_the_job_with_why(tmp_path: Path) -> None:
    """What the client raises (connection refused...) reaches the engine as an
    ExecutorError, the job's reason, not as an exception that would end the run."""
    server = KubeAPI(tmp_path / "cluster")
    configuration = k8s.Configuration(host=server.url)
    configuration.retries = 0
    executor = KubernetesExecutor(Settings(namespace=NAMESPACE), api=k8s.ApiClient(configuration))

    async def scenario() -> None:
        handle = await executor.start(scenarios.spec(scenarios.new_run(), "sleep 30", image=IMAGE))
        server.stop()
        with pytest.raises(
            ExecutorError, match=r"waiting for job build\.test\.job: cannot reach the Kubernetes API"
        ):
            await asyncio.wait_for(executor.wait(handle), 30)
        with pytest.raises(ExecutorError, match="cannot delete the Kubernetes Job"):
            await executor.destroy(handle)

    try:
        asyncio.run(scenario())
    finally:
        executor.close()


def test_in_a_pod_the_service_account_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No kubeconfig: the pod's service account (its token, CA and namespace files, and
    the KUBERNETES_SERVICE_* variables) names the cluster; nothing is sent anywhere."""
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("the-token")
    (account / "ca.crt").write_text("a CA")
    (account / "namespace").write_text("jobs\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(account / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(account / "ca.crt"))
    monkeypatch.setattr(kubernetes_client, "SERVICE_ACCOUNT_NAMESPACE", account / "namespace")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    api, namespace = kubernetes_client.connect()
    assert namespace == "jobs"
    assert api.configuration.host == "https://kubernetes.default.svc:443"
    assert api.configuration.api_key["BearerToken"].lower() == "bearer the-token"
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(ExecutorError, match="no Kubernetes cluster configured"):
        kubernetes_client.connect()


def second_executor(kubeapi: KubeAPI) -> KubernetesExecutor:
    """Another coops on the same cluster: the one that takes up a killed one's attempts."""
    configuration = k8s.Configuration(host=kubeapi.url)
    return KubernetesExecutor(Settings(namespace=NAMESPACE), api=k8s.ApiClient(configuration))


async def follow_adopted(executor: KubernetesExecutor, handle: JobHandle) -> tuple[list[str], ExitStatus]:
    async def collect() -> list[str]:
        return [line.text async for line in executor.logs(handle)]

    try:
        return await asyncio.gather(collect(), executor.wait(handle))
    finally:
        await executor.destroy(handle)


def test_another_executor_follows_a_running_job_after_the_stored_lines(
    executor: KubernetesExecutor, kubeapi: KubeAPI
) -> None:
    """A worker killed mid-job leaves its Job running: the next one finds it by name and
    reads its log on from the line after those stored, then its end. Its Secret goes with it."""
    run = RunContext(run_id=scenarios.new_run(), flow_uri="test/k8s/adopt")
    command = 'for i in $(seq 1 8); do echo "line-$i"; sleep 0.2; done; exit 3'
    job = scenarios.spec(
        run.run_id, command, image=IMAGE, env={"TOKEN": "s3"}, secret_env=frozenset({"TOKEN"})
    )
    second = second_executor(kubeapi)

    async def scenario() -> tuple[list[str], list[str], ExitStatus]:
        await executor.setup(run)
        lines = executor.logs(await executor.start(job))
        stored = [(await anext(lines)).text for _ in range(2)]
        await lines.aclose()  # type: ignore[attr-defined]  # the killed worker's reader
        await second.setup(run)
        adopted = await second.adopt(job, stored)
        assert adopted is not None
        rest, status = await follow_adopted(second, adopted)
        await second.teardown(run)
        return stored, rest, status

    try:
        stored, rest, status = asyncio.run(asyncio.wait_for(scenario(), 30))
    finally:
        second.close()
    assert stored == ["line-1", "line-2"]
    assert rest == [f"line-{i}" for i in range(3, 9)]
    assert status.exit_code == 3
    scenarios.nothing_left(view(kubeapi), run.run_id)


def test_a_job_that_ended_while_nobody_watched_is_adopted_with_its_end(
    executor: KubernetesExecutor, kubeapi: KubeAPI
) -> None:
    run = RunContext(run_id=scenarios.new_run(), flow_uri="test/k8s/adopt")
    job = scenarios.spec(run.run_id, "echo one; echo two; exit 5", image=IMAGE)
    second = second_executor(kubeapi)

    async def scenario() -> tuple[list[str], ExitStatus]:
        await executor.setup(run)
        await executor.wait(await executor.start(job))
        await second.setup(run)
        adopted = await second.adopt(job, [])
        assert adopted is not None
        found = await follow_adopted(second, adopted)
        await second.teardown(run)
        return found

    try:
        lines, status = asyncio.run(asyncio.wait_for(scenario(), 30))
    finally:
        second.close()
    assert (lines, status.exit_code) == (["one", "two"], 5)
    scenarios.nothing_left(view(kubeapi), run.run_id)


def test_an_attempt_whose_job_is_gone_is_not_adopted(executor: KubernetesExecutor) -> None:
    job = scenarios.spec(scenarios.new_run(), "true", image=IMAGE)
    assert asyncio.run(executor.adopt(job, [])) is None
