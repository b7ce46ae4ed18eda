"""The Kubernetes executor's scenarios, run on the local API server of tests/kubeapi.py
(test_executor.py) and, when ``KUBECONFIG`` is set, on a real cluster (test_cluster.py):
each takes the executor, a :class:`Cluster` view to look at what is left, and the image
the jobs run in (the local server's kubelet runs their commands as local processes)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from containerops.executors.base import ExecutorError, ExitStatus, JobSpec, RunContext
from containerops.executors.kubernetes import KubernetesExecutor, KubernetesJobHandle
from containerops.executors.kubernetes.convert import job_name


@dataclass
class Cluster:
    """What a scenario may look at in the cluster: the objects of one kind, by label."""

    namespace: str
    list_objects: Callable[[str, str], list[dict[str, Any]]]  # (resource, selector) -> objects


@dataclass
class Outcome:
    lines: list[str]
    status: ExitStatus | None
    error: str | None
    output: bytes | None


def spec(run_id: str, command: str, **fields: Any) -> JobSpec:
    values: dict[str, Any] = {
        "run_id": run_id,
        "path": "build.test.job",
        "attempt": 1,
        "image": "",
        "command": ["sh", "-c", command],
        "env": {"CO_X": "x-value"},
    }
    values.update(fields)
    return JobSpec(**values)


async def run_attempt(
    executor: KubernetesExecutor,
    job: JobSpec,
    during: Callable[[KubernetesJobHandle], Awaitable[None]] | None = None,
) -> Outcome:
    """One attempt as the engine runs it: start, every log line, wait, output, destroy."""
    handle = await executor.start(job)
    assert isinstance(handle, KubernetesJobHandle)
    lines: list[str] = []
    status: ExitStatus | None = None
    error: str | None = None
    output: bytes | None = None
    try:
        if during is not None:
            await during(handle)
        async for line in executor.logs(handle):
            lines.append(line.text)
        status = await executor.wait(handle)
        output = await executor.output_file(handle)
    except ExecutorError as exc:
        error = str(exc)
    finally:
        await executor.destroy(handle)
    return Outcome(lines, status, error, output)


def run_selector(run_id: str) -> str:
    return f"containerops.run={run_id}"


def nothing_left(cluster: Cluster, run_id: str) -> None:
    for resource in ("jobs", "pods", "secrets"):
        left = cluster.list_objects(resource, run_selector(run_id))
        assert left == [], f"{resource} left: {[o['metadata']['name'] for o in left]}"


def new_run() -> str:
    return uuid.uuid4().hex


async def success_with_logs_and_output(executor: KubernetesExecutor, cluster: Cluster, image: str) -> None:
    run_id = new_run()
    command = 'echo hello; echo "x is $CO_X"; echo \'cost $(CO_X) $$\'; printf "A=1\\n" > "$CO_OUTPUT"'
    outcome = await run_attempt(executor, spec(run_id, command, image=image))
    assert outcome.error is None
    assert outcome.lines == ["hello", "x is x-value", "cost $(CO_X) $$"]
    assert outcome.status is not None and (outcome.status.exit_code, outcome.status.oom_killed) == (0, False)
    assert outcome.output == b"A=1\n"
    nothing_left(cluster, run_id)


async def failure_exit_code(executor: KubernetesExecutor, cluster: Cluster, image: str) -> None:
    run_id = new_run()
    outcome = await run_attempt(executor, spec(run_id, "echo failing >&2; exit 3", image=image))
    assert outcome.lines == ["failing"]
    assert outcome.status is not None and (outcome.status.exit_code, outcome.status.oom_killed) == (3, False)
    nothing_left(cluster, run_id)


async def out_of_memory(executor: KubernetesExecutor, cluster: Cluster, image: str) -> None:
    run_id = new_run()
    # The shell keeps 200 MB of "a" in a variable: far past the 32 MiB limit.
    hog = 'echo start; x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo never; sleep 5'
    outcome = await run_attempt(executor, spec(run_id, hog, image=image, memory=32 * 2**20))
    assert outcome.status is not None, outcome.error
    assert outcome.status.oom_killed and outcome.status.exit_code == 137
    assert outcome.status.reason == "out of memory (limit 32 MiB)"
    assert "never" not in outcome.lines
    nothing_left(cluster, run_id)


async def timeout(executor: KubernetesExecutor, cluster: Cluster, image: str) -> None:
    run_id = new_run()
    outcome = await run_attempt(executor, spec(run_id, "echo started; sleep 60", image=image, timeout=2))
    assert outcome.error == "timeout after 2 s"
    # A cluster that takes longer to start the container than the deadline leaves no line.
    assert outcome.lines in (["started"], [])
    nothing_left(cluster, run_id)


async def cancel(executor: KubernetesExecutor, cluster: Cluster, image: str) -> None:
    """The engine cancels a job by leaving its log and destroying it: the Job is deleted
    with foreground propagation, and nothing of it is left once destroy returns."""
    run_id = new_run()
    handle = await executor.start(spec(run_id, "echo started; sleep 60", image=image))
    lines = executor.logs(handle)
    first = await anext(lines)
    assert first.text == "started"
    await lines.aclose()  # type: ignore[attr-defined]
    await asyncio.wait_for(executor.destroy(handle), 30)
    nothing_left(cluster, run_id)


async def secrets_stay_out_of_the_job(executor: KubernetesExecutor, cluster: Cluster, image: str) -> None:
    run_id = new_run()
    token = f"tok-{uuid.uuid4().hex}"
    job = spec(
        run_id,
        'echo "token=$TOKEN"',
        image=image,
        env={"TOKEN": token, "PLAIN": "p"},
        secret_env=frozenset({"TOKEN"}),
    )
    seen: dict[str, Any] = {}

    async def look(handle: KubernetesJobHandle) -> None:
        [stored] = cluster.list_objects("jobs", run_selector(run_id))
        [secret] = cluster.list_objects("secrets", run_selector(run_id))
        seen.update(job=stored, secret=secret, uid=handle.uid)

    outcome = await run_attempt(executor, job, during=look)
    assert outcome.lines == [f"token={token}"]
    assert token not in repr(seen["job"])
    env = {e["name"]: e for e in seen["job"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": job_name(job), "key": "TOKEN"}
    owners = seen["secret"]["metadata"]["ownerReferences"]
    assert [(o["kind"], o["uid"]) for o in owners] == [("Job", seen["uid"])]
    nothing_left(cluster, run_id)


async def workspace_shared_by_the_jobs_of_a_run(
    executor: KubernetesExecutor, cluster: Cluster, image: str
) -> None:
    run_id = new_run()
    run = RunContext(run_id=run_id, flow_uri="team/repo/flow")
    await executor.setup(run)
    try:
        [claim] = cluster.list_objects("persistentvolumeclaims", run_selector(run_id))
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
        write = spec(run_id, 'echo shared > "$CO_WORKSPACE/note"', image=image)
        read = spec(run_id, 'cat "$CO_WORKSPACE/note"', image=image, path="build.test.reader")
        assert (await run_attempt(executor, write)).status == ExitStatus(0)
        assert (await run_attempt(executor, read)).lines == ["shared"]
    finally:
        await executor.teardown(run)
    assert cluster.list_objects("persistentvolumeclaims", run_selector(run_id)) == []


async def a_leftover_of_the_same_attempt_is_replaced(
    executor: KubernetesExecutor, cluster: Cluster, image: str
) -> None:
    """A Job of the same name (an earlier engine's, of the same attempt) is deleted and the
    attempt made anew, not refused with 409 AlreadyExists."""
    run_id = new_run()
    job = spec(run_id, "echo again", image=image)
    stale = await executor.start(job)
    outcome = await run_attempt(executor, job)
    assert outcome.lines == ["again"]
    with contextlib.suppress(ExecutorError):
        await executor.destroy(stale)
    nothing_left(cluster, run_id)


SCENARIOS = [
    success_with_logs_and_output,
    failure_exit_code,
    out_of_memory,
    timeout,
    cancel,
    secrets_stay_out_of_the_job,
    a_leftover_of_the_same_attempt_is_replaced,
]
