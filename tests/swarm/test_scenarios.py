"""``coops run --executor swarm`` on the harness's real swarm (a drained manager, workers
n1 and n2): where jobs land, labels, the workspace across nodes, a node that dies, a
drained node, and a cancel that leaves nothing on any node.

Every job prints ``CO_SWARM_NODE`` (the ID of the node that runs it) as an output, which
the harness turns into the node's name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from containerops.executors.base import LABEL_HOME
from tests.cli.test_cli import COOPS
from tests.swarmharness import Swarm
from tests.waiting import wait_for

#: Prints where the job runs, as the output NODE.
WHERE = 'echo "[COUT] NODE = $CO_SWARM_NODE"'


@pytest.fixture
def env(on_swarm: Swarm, tmp_path: Path) -> dict[str, str]:
    """The environment of a `coops run` on the swarm: its own home, the harness's registry,
    a workspace root every node shares (one machine: the same folder for all)."""
    workspaces = tmp_path / "workspaces"
    workspaces.mkdir()
    return {
        **os.environ,
        "COOPS_HOME": str(tmp_path / "home"),
        "COOPS_REGISTRY": on_swarm.registry,
        "COOPS_SWARM_WORKSPACE": str(workspaces),
    }


def flow(tmp_path: Path, stages: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    text = "uri: demo/swarm/scenario\nstages:\n  - {type: start, name: start}\n"
    text += textwrap.indent(textwrap.dedent(stages), "  ")
    text += "  - {type: end, name: end}\n"
    path.write_text(text)
    return path


def job(name: str, command: str, **keys: Any) -> dict[str, Any]:
    return {"name": name, "endpoint": "containerops/base:busybox", "command": ["sh", "-c", command], **keys}


def stage(name: str, *jobs: dict[str, Any], parallel: bool = True) -> str:
    actions = [{"name": f"a{i}", "jobs": [one]} for i, one in enumerate(jobs)]
    body = {"name": name, "sequencing": "parallel" if parallel else "sequence", "actions": actions}
    return "- " + json.dumps(body) + "\n"


def run(path: Path, env: dict[str, str], timeout: float = 180) -> dict[str, Any]:
    done = subprocess.run(
        [*COOPS, "run", str(path), "--executor", "swarm", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.stdout, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def start(path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """``coops run --executor swarm --json`` in the background, its output captured."""
    return subprocess.Popen(
        [*COOPS, "run", str(path), "--executor", "swarm", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def show(run_id: int, env: dict[str, str]) -> dict[str, Any]:
    """``coops runs show --json``: the run with each attempt of each job."""
    done = subprocess.run(
        [*COOPS, "runs", "show", str(run_id), "--json"], env=env, capture_output=True, check=True
    )
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


def where(swarm: Swarm, result: dict[str, Any]) -> dict[str, str]:
    """Job path -> the node it ran on (of those that printed it)."""
    return {
        one["path"]: swarm.node_name(one["outputs"]["NODE"])
        for one in result["jobs"]
        if "NODE" in (one.get("outputs") or {})
    }


@pytest.fixture
def zone_b(swarm: Swarm) -> Iterator[str]:
    """Node n2 labelled zone=b for the test."""
    n2 = swarm.worker("n2").node_id
    swarm.set_availability(n2, "active", {"zone": "b"})
    yield "n2"
    node = swarm.client.api.inspect_node(n2)
    spec = dict(node["Spec"])
    spec["Labels"] = {k: v for k, v in (spec.get("Labels") or {}).items() if k != "zone"}
    swarm.client.api.update_node(n2, node["Version"]["Index"], spec)


def test_parallel_jobs_that_each_need_most_of_a_node_land_on_different_nodes(
    on_swarm: Swarm, env: dict[str, str], tmp_path: Path
) -> None:
    # Each node has 2 cpus: two jobs reserving 1.5 each cannot share one.
    wide = {"resources": {"cpu": 1.5}}
    path = flow(
        tmp_path,
        stage("fan", job("one", f"{WHERE}; sleep 1", **wide), job("two", f"{WHERE}; sleep 1", **wide)),
    )
    result = run(path, env)
    assert result["status"] == "success", result
    ran = where(on_swarm, result)
    assert sorted(ran.values()) == ["n1", "n2"], ran
    home = f"{LABEL_HOME}={Path(env['COOPS_HOME']).resolve()}"
    assert on_swarm.client.api.services(filters={"label": home}) == []
    assert on_swarm.client.api.secrets(filters={"label": home}) == []
    # A finished run leaves nothing on the nodes either (their agents remove the containers).
    wait_for(
        lambda: not any(on_swarm.containers_everywhere(home).values()), "no container left on a node", 60
    )


def test_a_job_pinned_by_labels_runs_only_on_the_nodes_that_have_them(
    on_swarm: Swarm, env: dict[str, str], tmp_path: Path, zone_b: str
) -> None:
    pinned = {"labels": {"zone": "b"}}
    jobs = [job(f"j{i}", WHERE, **pinned) for i in range(3)]
    result = run(flow(tmp_path, stage("pinned", *jobs)), env)
    assert result["status"] == "success", result
    assert set(where(on_swarm, result).values()) == {zone_b}


def test_a_file_written_on_one_node_is_read_by_a_later_job_on_another(
    on_swarm: Swarm, env: dict[str, str], tmp_path: Path
) -> None:
    on = {name: {"labels": {"coops.node": name}} for name in ("n1", "n2")}
    write = f'{WHERE}; echo made-on-n1 > /workspace/note; echo "FROM_FILE=yes" >> "$CO_OUTPUT"'
    stages = stage("write", job("w", write, **on["n1"]))
    stages += stage("read", job("r", f'{WHERE}; echo "[COUT] READ = $(cat $CO_WORKSPACE/note)"', **on["n2"]))
    result = run(flow(tmp_path, stages), env)
    assert result["status"] == "success", result
    assert where(on_swarm, result) == {"write.a0.w": "n1", "read.a0.r": "n2"}
    (reader,) = [one for one in result["jobs"] if one["path"] == "read.a0.r"]
    assert reader["outputs"]["READ"] == "made-on-n1"
    (writer,) = [one for one in result["jobs"] if one["path"] == "write.a0.w"]
    assert writer["outputs"]["FROM_FILE"] == "yes"  # its CO_OUTPUT file, written on n1
    assert list((tmp_path / "workspaces").iterdir()) == []  # removed with the run


def test_a_drained_node_takes_no_new_jobs(on_swarm: Swarm, env: dict[str, str], tmp_path: Path) -> None:
    n1 = on_swarm.worker("n1").node_id
    on_swarm.set_availability(n1, "drain")
    try:
        result = run(flow(tmp_path, stage("fan", *[job(f"j{i}", WHERE) for i in range(4)])), env)
    finally:
        on_swarm.set_availability(n1, "active")
    assert result["status"] == "success", result
    assert set(where(on_swarm, result).values()) == {"n2"}


def test_a_job_whose_node_dies_fails_as_node_lost_and_its_retry_runs_on_another(
    on_swarm: Swarm, env: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "workspaces"
    # The first attempt announces itself in the shared workspace, then waits to be cut off.
    first = job(
        "long",
        f"{WHERE}; if [ ! -e /workspace/tried ]; then "
        'echo "$CO_SWARM_NODE" > /workspace/tried; sleep 120; fi',
        retries=1,
    )
    after = job("report", "echo reported", when="always")
    path = flow(tmp_path, stage("work", first, parallel=False) + stage("report", after, parallel=False))
    process = start(path, env)
    victim = None
    try:
        wait_for(lambda: any(marker.glob("*/tried")), "the first attempt to start", 90)
        node_id = next(marker.glob("*/tried")).read_text().strip()
        victim = on_swarm.worker(on_swarm.node_name(node_id))
        on_swarm.stop_worker(victim)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
        if victim is not None:
            on_swarm.restart_worker(victim)
    result = json.loads(out)
    assert result["status"] == "success", (result, err)
    tries = [a for a in show(result["id"], env)["attempts"] if a["job"] == "work.a0.long"]
    assert [a["status"] for a in tries] == ["failure", "success"]
    assert tries[0]["reason"].startswith(f"node lost ({victim.name})"), tries[0]
    assert on_swarm.node_name(tries[1]["outputs"]["NODE"]) != victim.name
    assert [one["status"] for one in result["jobs"] if one["path"] == "report.a0.report"] == ["success"]


def test_a_node_lost_without_retries_fails_the_job_and_the_flow_follows_its_rules(
    on_swarm: Swarm, env: dict[str, str], tmp_path: Path
) -> None:
    started = tmp_path / "workspaces"
    pinned = {"labels": {"coops.node": "n1"}}
    stages = stage("work", job("long", "touch /workspace/started; sleep 120", **pinned), parallel=False)
    stages += stage("next", job("skipped", "true"), job("always", "true", when="always"))
    path = flow(tmp_path, stages)
    process = start(path, env)
    n1 = on_swarm.worker("n1")
    try:
        wait_for(lambda: any(started.glob("*/started")), "the job to start", 90)
        on_swarm.stop_worker(n1)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
        on_swarm.restart_worker(n1)
    assert process.returncode == 1, err
    result = json.loads(out)
    states = {one["path"]: (one["status"], one["reason"]) for one in result["jobs"]}
    status, reason = states["work.a0.long"]
    assert status == "failure" and reason.startswith("node lost (n1): its Docker Engine is down"), reason
    assert states["next.a0.skipped"][0] == "skipped"
    assert states["next.a1.always"][0] == "success"


def test_cancel_leaves_no_service_secret_or_container_on_any_node(
    on_swarm: Swarm, env: dict[str, str], tmp_path: Path
) -> None:
    home = str(Path(env["COOPS_HOME"]).resolve())
    secret_job = job("secret", "sleep 120", environments={"TOKEN": "${{ secrets.TOKEN }}"})
    path = flow(tmp_path, stage("long", job("plain", "sleep 120"), secret_job))
    process = subprocess.Popen(
        [*COOPS, "run", str(path), "--executor", "swarm", "--secret", "TOKEN=s3cr3t-value"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ours = {"label": f"{LABEL_HOME}={home}"}
    api = on_swarm.client.api

    def running() -> bool:
        tasks = [t for s in api.services(filters=ours) for t in api.tasks(filters={"service": s["ID"]})]
        return len(tasks) == 2 and all(t["Status"]["State"] == "running" for t in tasks)

    try:
        wait_for(running, "both jobs to run", 90)
        assert len(api.secrets(filters=ours)) == 1
        specs = json.dumps([service["Spec"] for service in api.services(filters=ours)])
        assert "s3cr3t-value" not in specs and "TOKEN" not in specs  # in the secret, not the spec
        everywhere = on_swarm.containers_everywhere(f"{LABEL_HOME}={home}")
        assert sum(len(names) for names in everywhere.values()) == 2, everywhere
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 130
    finally:
        if process.poll() is None:
            process.kill()
    assert api.services(filters=ours) == []
    assert api.secrets(filters=ours) == []

    def nothing_left() -> bool:
        return not any(on_swarm.containers_everywhere(f"{LABEL_HOME}={home}").values())

    # The workers remove a removed service's containers by themselves, shortly after.
    wait_for(nothing_left, "no container of the run on any node", 60)
    assert list((tmp_path / "workspaces").iterdir()) == []


def test_a_value_with_braces_and_a_secret_reach_the_job_as_written(
    on_swarm: Swarm, env: dict[str, str], tmp_path: Path
) -> None:
    command = 'echo "[COUT] BRACES = $BRACES"; test "$TOKEN" = "s3cr3t value" && echo "[COUT] OK = yes"'
    one = job("env", command, environments={"BRACES": "{{.Node.ID}}", "TOKEN": "${{ secrets.TOKEN }}"})
    path = flow(tmp_path, stage("env", one))
    done = subprocess.run(
        [*COOPS, "run", str(path), "--executor", "swarm", "--json", "--secret", "TOKEN=s3cr3t value"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(done.stdout)
    (ran,) = result["jobs"]
    assert ran["outputs"] == {"BRACES": "{{.Node.ID}}", "OK": "yes"}, (ran, done.stderr)


def test_a_job_no_node_can_run_fails_at_once_saying_why(
    on_swarm: Swarm, env: dict[str, str], tmp_path: Path
) -> None:
    path = flow(tmp_path, stage("big", job("huge", "true", resources={"memory": "900G"})))
    began = time.monotonic()
    result = run(path, env)
    took = time.monotonic() - began
    (huge,) = result["jobs"]
    assert huge["status"] == "failure"
    assert huge["reason"].startswith(
        "no node of the swarm can run job big.a0.huge (it needs 900 GiB memory): "
    )
    assert "n1: " in huge["reason"] and "n2: " in huge["reason"]
    print(f"refused in {took:.1f} s")


def test_a_timeout_removes_the_service_and_fails_the_job_saying_so(
    on_swarm: Swarm, env: dict[str, str], tmp_path: Path
) -> None:
    home = str(Path(env["COOPS_HOME"]).resolve())
    result = run(flow(tmp_path, stage("slow", job("sleepy", "sleep 60", timeout="2s"))), env)
    (sleepy,) = result["jobs"]
    assert (sleepy["status"], sleepy["reason"]) == ("failure", "timeout after 2 s")
    assert on_swarm.client.api.services(filters={"label": f"{LABEL_HOME}={home}"}) == []


def test_cleanup_removes_the_services_a_killed_coops_left(
    on_swarm: Swarm, env: dict[str, str], tmp_path: Path
) -> None:
    home = str(Path(env["COOPS_HOME"]).resolve())
    ours = {"label": f"{LABEL_HOME}={home}"}
    api = on_swarm.client.api
    path = flow(tmp_path, stage("long", job("plain", "touch /workspace/started; sleep 120")))
    process = subprocess.Popen(
        [*COOPS, "run", str(path), "--executor", "swarm"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: any((tmp_path / "workspaces").glob("*/started")), "the job to start", 90)
    finally:
        process.kill()
        process.wait()
    assert len(api.services(filters=ours)) == 1  # the killed process could not remove it
    done = subprocess.run([*COOPS, "cleanup"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "settled 1 abandoned run" in done.stderr  # which removes what the run left
    assert api.services(filters=ours) == []
    assert list((tmp_path / "workspaces").iterdir()) == []
    wait_for(
        lambda: not any(on_swarm.containers_everywhere(f"{LABEL_HOME}={home}").values()),
        "no container of the killed run on any node",
        60,
    )


def test_lines_are_stored_while_the_job_still_runs_and_oom_is_told(
    on_swarm: Swarm, env: dict[str, str], tmp_path: Path
) -> None:
    go = tmp_path / "workspaces"
    waiter = job(
        "live", "echo first line; while [ ! -e /workspace/go ]; do sleep 0.1; done; echo second line"
    )
    eater = job(
        "eat", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived", resources={"memory": "16M"}
    )
    path = flow(tmp_path, stage("s", waiter, eater))
    process = start(path, env)

    def stored() -> str:
        done = subprocess.run(
            [*COOPS, "logs", "1", "--job", "s.a0.live"], env=env, capture_output=True, text=True
        )
        return done.stdout

    try:
        wait_for(lambda: "first line" in stored(), "the first line in the store while the job waits", 90)
        assert process.poll() is None and "second line" not in stored()
        next(go.iterdir()).joinpath("go").touch()
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    result = json.loads(out)
    states = {one["path"]: one for one in result["jobs"]}
    assert states["s.a0.live"]["status"] == "success", err
    assert "second line" in stored()
    eat = states["s.a1.eat"]
    assert (eat["status"], eat["exit_code"]) == ("failure", 137)
    assert eat["reason"].startswith("out of memory (limit 16M)"), eat


def test_an_engine_that_is_not_a_manager_is_refused_before_any_job_saying_so(
    on_swarm: Swarm, env: dict[str, str], tmp_path: Path
) -> None:
    worker = {**env, "DOCKER_HOST": on_swarm.worker("n1").socket}  # in the swarm, not a manager
    path = flow(tmp_path, stage("one", job("j", "true")))
    done = subprocess.run(
        [*COOPS, "run", str(path), "--executor", "swarm", "--json"],
        env=worker,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "failure"
    assert "the swarm executor needs a swarm manager" in result["reason"], result["reason"]
    assert [one["status"] for one in result["jobs"]] != ["success"]
