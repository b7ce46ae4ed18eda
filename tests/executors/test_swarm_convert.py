"""What a job's swarm service is made of, whether any node can run it, and how its task's
end is told, without a swarm (tests/swarm/ runs the executor on a real one)."""

from __future__ import annotations

import subprocess
from typing import Any

from containerops.executors.base import ExitStatus
from containerops.executors.swarm.convert import (
    MAX_NAME,
    NO_EXIT_CODE,
    SECRET_FILE,
    SECRET_LOADER,
    constraints,
    env_file,
    job_mode,
    service_config,
    service_name,
    task_outcome,
    unsatisfiable,
)
from containerops.executors.swarm.handle import newest_task
from tests.executors.test_convert import spec


def test_a_job_is_a_one_task_replicated_job_never_restarted_with_its_limits_reserved() -> None:
    config = service_config(
        spec(cpu=1.5, memory=64 * 2**20, labels={"team": "a"}),
        image="127.0.0.1:5000/img@sha256:abc",
        home="/homes/x",
        workspace="/shared/coops-workspace-r1",
    )
    assert config.mode == {"ReplicatedJob": {}}
    template: dict[str, Any] = dict(config.task_template)
    assert template["RestartPolicy"]["Condition"] == "none"
    assert template["Resources"] == {
        "Limits": {"NanoCPUs": 1_500_000_000, "MemoryBytes": 64 * 2**20},
        "Reservations": {"NanoCPUs": 1_500_000_000, "MemoryBytes": 64 * 2**20},
    }
    assert template["LogDriver"]["Name"] == "json-file"
    assert "Placement" not in template  # no labels: any node
    container = template["ContainerSpec"]
    assert container["Image"] == "127.0.0.1:5000/img@sha256:abc"
    assert container["Args"] == ["sh", "-c", "make"]  # as `docker run IMAGE cmd`: the entrypoint stays
    assert container.get("Command") is None
    assert container["StopGracePeriod"] == 1_000_000_000  # a cancel does not wait 10 s on a job
    assert sorted(container["Env"]) == [
        "CO_OUTPUT=/workspace/.coops-outputs/coops-r1-build-compile-unit-2",  # read from the shared folder
        "CO_SWARM_NODE={{.Node.ID}}",
        "CO_WORKSPACE=/workspace",
        "CO_X=1",
    ]
    assert container["Mounts"] == [
        {"Target": "/workspace", "Source": "/shared/coops-workspace-r1", "Type": "bind", "ReadOnly": False}
    ]
    expected = {
        "team": "a",
        "containerops.managed": "true",
        "containerops.run": "r1",
        "containerops.job": "build.compile.unit",
        "containerops.attempt": "2",
        "containerops.home": "/homes/x",
    }
    assert config.labels == expected
    assert container["Labels"] == expected  # its containers are found by them on every node
    assert config.secret_data is None and config.secret_name is None


def test_before_engine_24_a_job_is_a_one_task_replicated_service_never_restarted() -> None:
    # Docker 20.10 leaves a removed replicated-job's tasks (and a running one's container) behind.
    assert (job_mode("20.10.24+dfsg1"), job_mode("23.0.6"), job_mode("24.0.0"), job_mode("27.3.1")) == (
        False,
        False,
        True,
        True,
    )
    config = service_config(spec(), image="i", home="/h", workspace=None, job_mode=False)
    assert config.mode == {"replicated": {"Replicas": 1}}  # the SDK's spelling; the API takes it
    assert dict(config.task_template)["RestartPolicy"]["Condition"] == "none"


def test_a_jobs_labels_become_placement_constraints_on_node_labels() -> None:
    config = service_config(
        spec(node_labels={"zone": "b", "disk": "ssd"}), image="i", home="/h", workspace=None
    )
    placement = dict(config.task_template)["Placement"]
    assert placement == {"Constraints": ["node.labels.disk == ssd", "node.labels.zone == b"]}
    assert constraints({}) == []


def test_secret_variables_leave_the_spec_for_a_docker_secret_loaded_before_the_command() -> None:
    job = spec(
        env={"CO_X": "1", "TOKEN": "s3cr3t value", "CO_DATA": "k=s3cr3t value"},
        secret_env=frozenset({"TOKEN", "CO_DATA"}),
        command=None,
    )
    first = service_config(
        job, image="i", home="/h", workspace=None, image_command=(["/entry"], ["serve", "-v"])
    )
    assert first.secret_name is not None and first.secret_data is not None
    assert b"s3cr3t" in first.secret_data
    config = service_config(
        job,
        image="i",
        home="/h",
        workspace=None,
        image_command=(["/entry"], ["serve", "-v"]),
        secret_id="sid",
    )
    container = dict(config.task_template)["ContainerSpec"]
    assert "s3cr3t" not in repr(container) and "s3cr3t" not in repr(config.labels)
    assert container["Env"] == ["CO_X=1", "CO_SWARM_NODE={{.Node.ID}}"]
    assert container["Command"] == ["/bin/sh", "-c", SECRET_LOADER, "sh"]
    assert container["Args"] == ["/entry", "serve", "-v"]  # the image's entrypoint and command
    (reference,) = container["Secrets"]
    assert reference["SecretID"] == "sid"
    assert reference["File"]["Name"] == SECRET_FILE
    # the job's own command replaces the image's Cmd, not its Entrypoint
    own = service_config(
        spec(env={"T": "x"}, secret_env=frozenset({"T"})),
        image="i",
        home="/h",
        workspace=None,
        image_command=(["/entry"], ["serve"]),
        secret_id="sid",
    )
    assert dict(own.task_template)["ContainerSpec"]["Args"] == ["/entry", "sh", "-c", "make"]


def test_env_values_reach_the_job_as_written_though_swarm_reads_env_as_templates() -> None:
    config = service_config(spec(env={"T": "{{.Node.ID}} and {{ x }}"}), image="i", home="/h", workspace=None)
    env = dict(config.task_template)["ContainerSpec"]["Env"]
    assert env[0] == 'T={{"{{"}}.Node.ID}} and {{"{{"}} x }}'


def test_the_env_file_gives_back_every_value_as_written_to_a_shell(tmp_path: Any) -> None:
    values = {"A": 'it\'s $HOME `x` \\ "q"', "B": "two\nlines", "C": ""}
    (tmp_path / "env").write_bytes(env_file(values))
    printed = subprocess.run(
        ["sh", "-c", f'set -a; . {tmp_path}/env; printf "%s|" "$A" "$B" "$C"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert printed == 'it\'s $HOME `x` \\ "q"|two\nlines||'


def test_service_names_are_dns_labels_unique_per_attempt() -> None:
    short = service_name(spec())
    assert short == "coops-r1-build-compile-unit-2"
    long = service_name(spec(path="s." + "a" * 100 + ".j"))
    other = service_name(spec(path="s." + "a" * 100 + ".k"))
    assert len(long) <= MAX_NAME and len(other) <= MAX_NAME and long != other
    assert service_name(spec(path="s.a.j[shard=3]")) == "coops-r1-s-a-j-shard-3-2"


def node(
    name: str, *, cpus: float = 2, memory: int = 2**30, labels: dict[str, str] | None = None, **status: str
) -> dict[str, Any]:
    return {
        "ID": f"id-{name}",
        "Spec": {
            "Labels": {"coops.node": name, **(labels or {})},
            "Availability": status.get("availability", "active"),
        },
        "Description": {"Hostname": "vm", "Resources": {"NanoCPUs": int(cpus * 1e9), "MemoryBytes": memory}},
        "Status": {"State": status.get("state", "ready")},
    }


def test_a_job_no_node_can_ever_run_is_refused_saying_what_each_node_lacks() -> None:
    nodes = [
        node("n1", labels={"zone": "a"}),
        node("n2", cpus=1),
        node("n3", state="down", labels={"zone": "b"}),
    ]
    assert unsatisfiable(spec(node_labels={"zone": "a"}), nodes) is None
    assert unsatisfiable(spec(cpu=1), nodes) is None
    why = unsatisfiable(spec(node_labels={"zone": "b"}, cpu=2, memory=4 * 2**30), nodes)
    assert why == (
        "no node of the swarm can run job build.compile.unit (it needs labels zone=b; 2 cpu; 4 GiB memory): "
        "n1: no label zone=b, 1 GiB memory; n2: no label zone=b, 1 cpu, 1 GiB memory; "
        "n3: down, 1 GiB memory"
    )
    drained = [node("n1", availability="drain")]
    assert "n1: drain" in (unsatisfiable(spec(), drained) or "")
    assert unsatisfiable(spec(), []) == (
        "no node of the swarm can run job build.compile.unit (it needs a ready, active node): "
        "the swarm has no nodes"
    )


def task(state: str, exit_code: int | None = None, err: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"State": state, "Err": err}
    if exit_code is not None:
        status["ContainerStatus"] = {"ExitCode": exit_code}
    return {"Status": status}


def test_a_tasks_status_tells_how_the_job_ended() -> None:
    assert task_outcome(task("running"), None) is None
    assert task_outcome(task("pending", err="no suitable node"), None) is None
    assert task_outcome(task("complete", 0), None) == ExitStatus(0)
    assert task_outcome(task("failed", 3, "task: non-zero exit (3)"), None) == ExitStatus(3)
    assert task_outcome(task("failed", 137), 2**20) == ExitStatus(137, oom_killed=True)
    assert task_outcome(task("failed", 137), None) == ExitStatus(137)  # no limit of ours: a kill
    rejected = task_outcome(task("rejected", err="No such image: x"), None)
    assert rejected == ExitStatus(NO_EXIT_CODE, reason="the swarm could not run the job: No such image: x")
    orphaned = task_outcome(task("orphaned"), None)
    assert orphaned is not None and (orphaned.reason or "").startswith("node lost")


def test_the_newest_task_is_the_one_that_counts() -> None:
    old = {"ID": "a", "CreatedAt": "2026-12-04T09:00:00Z", "Version": {"Index": 9}}
    new = {"ID": "b", "CreatedAt": "2026-12-04T09:00:01Z", "Version": {"Index": 3}}
    assert newest_task([new, old]) == new
    assert newest_task([]) is None
