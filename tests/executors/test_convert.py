"""What a job's container is made of and how its end is told, without a Docker Engine (the
executor hands this to the SDK as it is; tests/executors/test_docker.py runs it for real)."""

from __future__ import annotations

from containerops.executors.base import ExitStatus, JobSpec
from containerops.executors.docker.convert import (
    PIDS_LIMIT,
    container_config,
    container_name,
    exit_status,
    human_size,
    names_registry,
    split_reference,
)


def spec(**fields: object) -> JobSpec:
    values: dict[str, object] = {
        "run_id": "r1",
        "path": "build.compile.unit",
        "attempt": 2,
        "image": "containerops/base:busybox",
        "command": ["sh", "-c", "make"],
        "env": {"CO_X": "1"},
    }
    values.update(fields)
    return JobSpec(**values)  # type: ignore[arg-type]


def test_a_job_runs_unprivileged_with_its_limits_and_whose_it_is() -> None:
    config = container_config(
        spec(cpu=1.5, memory=64 * 2**20, labels={"team": "a"}),
        image="img@sha256:abc",
        workspace=None,
        network_mode="bridge",
        home="/homes/x",
    )
    assert (config.image, config.command, config.environment) == (
        "img@sha256:abc",
        ["sh", "-c", "make"],
        {"CO_X": "1", "CO_OUTPUT": "/tmp/coops-output"},
    )
    assert config.labels == {
        "team": "a",
        "containerops.managed": "true",
        "containerops.run": "r1",
        "containerops.job": "build.compile.unit",
        "containerops.attempt": "2",
        "containerops.home": "/homes/x",
    }
    host = config.host
    assert (host["privileged"], host["security_opt"], host["pids_limit"]) == (
        False,
        ["no-new-privileges"],
        PIDS_LIMIT,
    )
    assert host["mem_limit"] == host["memswap_limit"] == 64 * 2**20  # no swap: the OOM killer kills
    assert (host["nano_cpus"], host["network_mode"], host["mounts"]) == (1_500_000_000, "bridge", None)
    assert host["log_config"]["Type"] == "json-file"


def test_no_limit_means_none_and_labels_given_by_a_job_cannot_disown_it() -> None:
    config = container_config(
        spec(labels={"containerops.run": "someone-else"}),
        image="i",
        workspace=None,
        network_mode="none",
        home="h",
    )
    assert (config.host["mem_limit"], config.host["memswap_limit"], config.host["nano_cpus"]) == (
        None,
        None,
        None,
    )
    assert config.labels["containerops.run"] == "r1"


def test_the_runs_workspace_is_mounted_without_copy_and_named_in_the_environment() -> None:
    config = container_config(
        spec(), image="i", workspace="coops-workspace-r1", network_mode="host", home="h"
    )
    [mount] = config.host["mounts"]
    assert (mount["Target"], mount["Source"], mount["Type"]) == ("/workspace", "coops-workspace-r1", "volume")
    assert mount["VolumeOptions"]["NoCopy"] is True
    assert config.environment == {"CO_X": "1", "CO_OUTPUT": "/tmp/coops-output", "CO_WORKSPACE": "/workspace"}


def test_container_names_are_readable_unique_per_attempt_and_bounded() -> None:
    assert container_name(spec()) == "coops-r1-build-compile-unit-2"
    assert container_name(spec(attempt=3)) != container_name(spec())
    long = container_name(spec(path="s.a." + "j" * 300))
    other = container_name(spec(path="s.a." + "j" * 299 + "k"))
    assert len(long) == 200 and long != other
    assert container_name(spec(run_id="a/b c")) == "coops-a-b-c-build-compile-unit-2"


def test_human_size() -> None:
    assert human_size(32 * 2**20) == "32 MiB"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(100) == "100 B"
    assert human_size(3 * 2**30) == "3 GiB"


def test_a_stopped_containers_state_says_how_the_job_ended() -> None:
    assert exit_status({"ExitCode": 3, "OOMKilled": False}, 2**20) == ExitStatus(3)
    assert exit_status({"ExitCode": 137, "OOMKilled": True}, 32 * 2**20) == ExitStatus(
        137, oom_killed=True, reason="out of memory (limit 32 MiB)"
    )
    assert exit_status({"OOMKilled": True}, None) == ExitStatus(-1, oom_killed=True, reason="out of memory")


def test_only_an_image_naming_a_registry_is_pulled_and_its_tag_split_off() -> None:
    assert names_registry("registry.example:5000/app") and names_registry("localhost/x")
    assert not names_registry("containerops/base:busybox") and not names_registry("busybox")
    assert split_reference("localhost:5000/team/app:1.2") == ("localhost:5000/team/app", "1.2")
    assert split_reference("localhost:5000/app") == ("localhost:5000/app", None)
    assert split_reference("r.example/app@sha256:ab") == ("r.example/app@sha256:ab", None)
