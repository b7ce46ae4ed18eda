"""Every flow written for the original ContainerOps engine must validate (warnings allowed).

The 80 files live in ``../shared/compat/pilotage/`` beside the repository (they
are part of the environment, not of the repository). Their absence is a
failure, not a skip, unless COOPS_SKIP_COMPAT=1 says it is expected.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from containerops.model.flow import Resources, Subscription
from containerops.model.loader import LoadResult, load_flow
from containerops.model.validate import check_runnable_locally

COMPAT = Path(__file__).parents[2].parent / "shared/compat/pilotage"
FILES = sorted(COMPAT.glob("*.yml")) if COMPAT.is_dir() else []
SKIP = os.environ.get("COOPS_SKIP_COMPAT") == "1"
GIB = 1024**3


def load(name: str) -> LoadResult:
    if SKIP:
        pytest.skip("COOPS_SKIP_COMPAT=1")
    return load_flow(COMPAT / name)


def messages(result: LoadResult, *, without: str = "kubectl is not supported; the job runs") -> list[str]:
    """Warnings as ``line:column: message``, leaving out the (many) plain kubectl ones."""
    return [f"{w.line}:{w.column}: {w.message}" for w in result.warnings if not w.message.startswith(without)]


def test_the_original_flows_are_there() -> None:
    if SKIP:
        pytest.skip("COOPS_SKIP_COMPAT=1")
    assert COMPAT.is_dir(), (
        f"{COMPAT} is missing: it holds the 80 original pilotage flows, part of the environment "
        "(set COOPS_SKIP_COMPAT=1 to run without them)"
    )
    assert len(FILES) == 80


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_every_original_flow_validates(path: Path) -> None:
    result = load(path.name)
    assert result.flow.stages
    assert all(w.severity == "warning" and w.line is not None for w in result.warnings)


def test_cncf_demo() -> None:
    result = load("demo_cncf_cncf-demo.yml")
    flow = result.flow
    assert flow.uri == "cncf/demo-for-cncf-ci/build-test-release-deploy"
    assert (flow.version, flow.tag, flow.timeout) == ("4", "latest", None)
    assert [stage.name for stage in flow.stages] == [
        "start",
        "prometheus-test-build-release",
        "coredns-test-build-release",
        "k8s-test-build-release",
        "end",
    ]
    jobs = flow.jobs()
    assert len(jobs) == 9
    assert jobs[0].path == "prometheus-test-build-release.build-prometheus.job-1"
    assert jobs[0].endpoint == "hub.opshub.sh/containerops/cncf-demo-prometheus:latest"
    assert jobs[0].environments == {
        "CO_DATA": "prometheus=https://github.com/prometheus/prometheus.git action=build "
        "release=hub.opshub.sh/containerops/cncf-demo/demo"
    }
    assert jobs[0].resources == Resources(cpu=2.0, memory=4 * GIB)
    assert jobs[0].timeout is None
    assert jobs[5].resources == Resources(cpu=None, memory=None)  # release-coredns: cpu 0, memory 0
    assert jobs[6].resources.memory == 8 * GIB
    # The original ``{type: mail, address: ...}`` is an email receiver for every outcome.
    assert [(r.type, r.to, r.on) for r in flow.receivers] == [
        ("email", ("maquanyi@containerops.sh",), ("always",)),
        ("email", ("wangqilin@containerops.sh",), ("always",)),
    ]
    assert result.warnings == []  # its kubectl lines are commented out


def test_cncf_runtime_dump() -> None:
    result = load("demo_cncf_cncf-demo-runtime.yml")
    assert messages(result) == [
        "16:1: 'number' is ignored: it belongs to a runtime record of the original engine, not to a flow",
        "54:13: 'status' is ignored: it belongs to a runtime record of the original engine, not to a flow",
    ]
    build_kubernetes = result.flow.jobs()[6]
    assert build_kubernetes.path == "k8s-test-build-release.build-kubernetes.build-kubernetes"
    assert build_kubernetes.subscriptions == [
        Subscription(
            "coredns-test-build-release.release-coredns.release-coredns", "CO_COREDNS_URI", "CO_COREDNS_URI"
        )
    ]
    assert "CO_E2E.TEST_URI" in result.flow.jobs()[7].outputs


def test_javadoc_indentation_is_repaired_with_warnings() -> None:
    result = load("component_java_document_javadoc_component-java-gradle-document-javadoc.yml")
    assert messages(result) == [
        f"{line}:14: 'memory:' is indented 1 column less than 'cpu:' on line {line - 1}, which YAML rejects; "
        "assumed it belongs with 'cpu:' (read as if it started at column 15, not 14)"
        for line in (31, 45)
    ]
    assert [job.resources for job in result.flow.jobs()] == [Resources(cpu=2.0, memory=4 * GIB)] * 2


def test_kubectl_only_jobs_validate_but_cannot_run() -> None:
    result = load("demo_serviceComb_bmi-workflow.yml")
    assert [w for w in messages(result) if "kubectl" in w] == [
        f"{line}:13: kubectl is not supported, and this job has no endpoint image to run instead: "
        "the flow validates but this job cannot run"
        for line in (69, 78)
    ]
    assert [str(d) for d in check_runnable_locally(result.flow, "bmi.yml")] == [
        f"bmi.yml:{line}:13: error: job 'servicecomb-bmi-checkstyle.deploy-bmi.{name}' has no endpoint image "
        "for the docker executor (add `endpoint:`, or run it with --executor local)"
        for line, name in ((67, "bmi-calculator"), (76, "bmi-webapp"))
    ]


def test_co_data_with_a_dash() -> None:
    result = load("component_java_java-ci-components.yml")
    assert any(
        w.endswith("'CO-DATA' is read as 'CO_DATA' ('-' is not allowed in a variable name)")
        for w in messages(result)
    )
    assert all("CO_DATA" in job.environments for job in result.flow.jobs())


def test_repeated_action_names_are_renamed() -> None:
    result = load("component_java_compile_jar_component-java-gradle-compile-jar.yml")
    actions = [action.name for action in result.flow.stages[1].actions]
    assert actions == ["compile-java-gradle-jar", "compile-java-gradle-jar-2"]
    assert len({job.path for job in result.flow.jobs()}) == len(result.flow.jobs())


def test_bare_dash_actions_are_ignored() -> None:
    result = load("component_ctest_ci-components.yml")
    assert [action.name for action in result.flow.stages[1].actions] == ["build-component", "flow-component"]
    assert messages(result, without="kubectl") == []
