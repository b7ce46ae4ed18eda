"""What a job attempt becomes in Kubernetes, without an API server: the Job, its Secret,
the run's workspace claim, each valid against the Kubernetes OpenAPI schemas; and how a
pod's status is read back (tests/executors/kubernetes/test_executor.py sends them)."""

from __future__ import annotations

import base64
import re

import kubernetes_validate
import pytest

from containerops.executors.base import JobSpec
from containerops.executors.kubernetes.convert import (
    OUTPUT_PATH,
    Placement,
    claim_manifest,
    escape,
    exit_status,
    job_failure,
    job_manifest,
    job_name,
    label_value,
    output_message,
    owner_reference,
    secret_manifest,
    stuck,
    terminated,
    unschedulable,
)
from tests.executors.kubernetes.schemas import check

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
PLACE = Placement(namespace="team-a", home="/home/u/.containerops", workspace_claim="coops-workspace-1")


def spec(**fields: object) -> JobSpec:
    values: dict[str, object] = {
        "run_id": "0123456789abcdef0123456789abcdef",
        "path": "build.compile.unit_tests",
        "attempt": 2,
        "image": "registry.local:5000/team/app@sha256:" + "a" * 64,
        "command": ["sh", "-c", "make $(TARGET) && echo $HOME"],
        "env": {"CO_X": "1", "TOKEN": "s3cr3t-value", "PRICE": "$(CO_X)$$"},
        "secret_env": frozenset({"TOKEN"}),
    }
    values.update(fields)
    return JobSpec(**values)  # type: ignore[arg-type]


def container(manifest: dict[str, object]) -> dict[str, object]:
    return manifest["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index,no-any-return]


def test_one_job_per_attempt_that_kubernetes_never_retries_and_removes_when_forgotten() -> None:
    manifest = job_manifest(spec(timeout=90.5, cpu=1.5, memory=64 * 2**20), PLACE, image="img:1")
    check(manifest)
    job = manifest["spec"]
    assert (job["backoffLimit"], job["activeDeadlineSeconds"], job["ttlSecondsAfterFinished"]) == (
        0,
        91,
        3600,
    )
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert container(manifest)["resources"] == {
        "requests": {"cpu": "1500m", "memory": str(64 * 2**20)},
        "limits": {"cpu": "1500m", "memory": str(64 * 2**20)},
    }
    assert manifest["metadata"]["namespace"] == "team-a"


def test_no_timeout_no_deadline_and_no_limits_no_resources() -> None:
    manifest = job_manifest(spec(), PLACE, image="img:1")
    check(manifest)
    assert "activeDeadlineSeconds" not in manifest["spec"]
    assert container(manifest)["resources"] == {}


def test_names_are_dns_labels_unique_per_attempt_and_readable() -> None:
    first, second = job_name(spec()), job_name(spec(attempt=3))
    assert first != second and first.startswith("coops-build-compile-unit-tests-2-")
    assert job_name(spec(run_id="other")) != first
    long = job_name(spec(path="s" * 80 + ".a.Job_With.CAPS"))
    for name in (first, second, long):
        assert len(name) <= 63 and DNS_LABEL.match(name), name


def test_labels_say_whose_it_is_and_hash_what_a_label_cannot_hold() -> None:
    manifest = job_manifest(spec(labels={"team": "a"}), PLACE, image="img:1")
    labels = manifest["metadata"]["labels"]
    assert labels["containerops.run"] == "0123456789abcdef0123456789abcdef"
    assert labels["containerops.job"] == "build.compile.unit_tests"
    assert (labels["containerops.attempt"], labels["containerops.managed"], labels["team"]) == (
        "2",
        "true",
        "a",
    )
    assert labels["containerops.home"] == label_value("/home/u/.containerops") != "/home/u/.containerops"
    assert manifest["metadata"]["annotations"]["containerops.home"] == "/home/u/.containerops"
    assert manifest["spec"]["template"]["metadata"]["labels"] == labels
    for value in labels.values():
        assert len(value) <= 63 and LABEL_VALUE.match(value), value


def test_secret_variables_are_in_an_owned_secret_never_in_the_job() -> None:
    manifest = job_manifest(spec(), PLACE, image="img:1")
    assert "s3cr3t-value" not in repr(manifest)
    env = {entry["name"]: entry for entry in container(manifest)["env"]}  # type: ignore[attr-defined]
    assert env["TOKEN"] == {
        "name": "TOKEN",
        "valueFrom": {"secretKeyRef": {"name": job_name(spec()), "key": "TOKEN"}},
    }
    secret = secret_manifest(spec(), PLACE)
    assert secret is not None
    check(secret)
    assert secret["metadata"]["name"] == job_name(spec())
    assert base64.b64decode(secret["data"]["TOKEN"]) == b"s3cr3t-value"
    assert set(secret["data"]) == {"TOKEN"}
    reference = owner_reference({"metadata": {"name": "coops-x", "uid": "u-1"}})
    assert reference["uid"] == "u-1" and reference["kind"] == "Job" and reference["blockOwnerDeletion"]
    owned = {**secret, "metadata": {**secret["metadata"], "ownerReferences": [reference]}}
    check(owned)


def test_no_secret_variables_no_secret() -> None:
    assert secret_manifest(spec(secret_env=frozenset()), PLACE) is None


def test_a_variable_name_a_secret_cannot_hold_is_refused_with_its_name() -> None:
    bad = spec(env={"A B": "x" * 10}, secret_env=frozenset({"A B"}))
    with pytest.raises(ValueError, match="'A B'"):
        secret_manifest(bad, PLACE)


def test_values_and_args_are_passed_literally_not_expanded_by_kubernetes() -> None:
    manifest = job_manifest(spec(), PLACE, image="img:1")
    env = {entry["name"]: entry.get("value") for entry in container(manifest)["env"]}  # type: ignore[attr-defined]
    assert env["PRICE"] == "$$(CO_X)$$$$"
    assert container(manifest)["args"] == ["sh", "-c", "make $$(TARGET) && echo $$HOME"]
    assert escape("a$b") == "a$$b"
    assert "command" not in container(manifest)  # the image's entrypoint stays, as with Docker


def test_the_workspace_output_file_and_run_contract_variables() -> None:
    manifest = job_manifest(spec(), PLACE, image="img:1")
    pod = manifest["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "workspace", "persistentVolumeClaim": {"claimName": "coops-workspace-1"}}
    ]
    assert container(manifest)["volumeMounts"] == [{"name": "workspace", "mountPath": "/workspace"}]
    env = {entry["name"]: entry.get("value") for entry in container(manifest)["env"]}  # type: ignore[attr-defined]
    assert (env["CO_WORKSPACE"], env["CO_OUTPUT"]) == ("/workspace", OUTPUT_PATH)
    assert container(manifest)["terminationMessagePath"] == OUTPUT_PATH
    assert pod["securityContext"] == {"fsGroup": 1000}
    bare = job_manifest(spec(), Placement(namespace="n", home="/h"), image="img:1")
    check(bare)
    assert "volumes" not in bare["spec"]["template"]["spec"]


def test_node_selector_from_the_job_labels_and_pull_secret_when_the_registry_needs_one() -> None:
    placement = Placement(namespace="n", home="/h", pull_secret="registry-login")
    manifest = job_manifest(spec(node_labels={"disk": "ssd", "zone": "b"}), placement, image="img:1")
    check(manifest)
    pod = manifest["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"disk": "ssd", "zone": "b"}
    assert pod["imagePullSecrets"] == [{"name": "registry-login"}]
    assert "nodeSelector" not in job_manifest(spec(), PLACE, image="i")["spec"]["template"]["spec"]
    assert "imagePullSecrets" not in job_manifest(spec(), PLACE, image="i")["spec"]["template"]["spec"]


def test_the_workspace_is_a_read_write_many_claim_of_the_configured_class() -> None:
    claim = claim_manifest("run-1", PLACE, storage_class="nfs-client", size="2Gi")
    check(claim)
    assert claim["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "2Gi"}},
        "storageClassName": "nfs-client",
    }
    assert "storageClassName" not in claim_manifest("run-1", PLACE, storage_class=None, size="1Gi")["spec"]


def test_the_schema_check_catches_what_the_cluster_would_refuse() -> None:
    """The check itself can fail: a wrong type and an unknown field are refused."""
    manifest = job_manifest(spec(), PLACE, image="img:1")
    manifest["spec"]["backoffLimit"] = "0"
    with pytest.raises(kubernetes_validate.ValidationError):
        check(manifest)
    manifest = job_manifest(spec(), PLACE, image="img:1")
    manifest["spec"]["template"]["spec"]["containers"][0]["memory"] = "1Gi"
    with pytest.raises(kubernetes_validate.ValidationError):
        check(manifest)


def pod(state: dict[str, object], phase: str = "Running") -> dict[str, object]:
    return {"status": {"phase": phase, "containerStatuses": [{"name": "job", "state": state}]}}


def test_exit_code_oom_and_output_from_the_container_status() -> None:
    ended = terminated(pod({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}, "Failed"))
    assert ended is not None
    status = exit_status(ended, 64 * 2**20)
    assert (status.exit_code, status.oom_killed, status.reason) == (137, True, "out of memory (limit 64 MiB)")
    plain = exit_status({"exitCode": 3, "reason": "Error"}, None)
    assert (plain.exit_code, plain.oom_killed, plain.reason) == (3, False, None)
    assert terminated(pod({"running": {}})) is None
    assert output_message({"message": "A=1\n"}) == b"A=1\n"
    assert output_message({"exitCode": 0}) is None


def test_a_container_that_cannot_start_is_told_at_once() -> None:
    waiting = pod({"waiting": {"reason": "ErrImagePull", "message": "not found"}}, "Pending")
    assert stuck(waiting) == "the job's container cannot start: ErrImagePull (not found)"
    assert stuck(pod({"waiting": {"reason": "ContainerCreating"}}, "Pending")) is None


def test_a_job_that_failed_on_its_own_says_why() -> None:
    deadline = {
        "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]}
    }
    assert job_failure(deadline, 5) == "timeout after 5 s"
    assert job_failure({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}, 5) is None


def test_what_the_scheduler_says_while_no_node_can_take_the_pod() -> None:
    waiting = {
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes: memory",
                }
            ],
        }
    }
    assert unschedulable(waiting) == "0/3 nodes: memory"
    assert unschedulable({"status": {"conditions": [{"type": "PodScheduled", "status": "True"}]}}) is None
    assert unschedulable({"status": {"phase": "Pending"}}) is None
