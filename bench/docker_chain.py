#!/usr/bin/env python3
"""A chain of sequential container jobs: ContainerOps against a plain shell loop.

Both sides run the same steps (``sh -c 'echo step N'``) one after another, each
in a fresh container of ``containerops/base:busybox`` with host networking:

- ``coops``: one flow (one sequence stage, one action of N jobs) run in-process
  by ``Engine`` with the docker executor: parse + prepare + run, store included;
- ``cli``: the same flow through ``coops run --json`` as a whole process, Python
  start-up and imports included: what a user waits for (``--no-cli`` skips it);
- ``shell``: ``docker run --rm`` in a ``sh`` loop, with the container settings
  the docker executor uses (json-file logs, pids limit, no-new-privileges).

The sides alternate (their order rotates every round), after unmeasured warm-up
rounds; medians are quoted. Every side is checked: each coops run must succeed
with every step's line in the store, the shell loop must print every step, and
no container of ours (label ``containerops.managed=true``) may be left behind.

Targets: coops / shell and cli / shell each at most 1.10.

Examples::

    .venv/bin/python bench/docker_chain.py
    .venv/bin/python bench/docker_chain.py --rounds 7 --breakdown
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import docker
from _benchlib import BenchError, Results, add_standard_args, alternate, median, paired_ratio, ratio

from containerops.engine import Engine, RunState
from containerops.executors import get_executor
from containerops.executors.base import (
    LABEL_MANAGED,
    LABEL_RUN,
    Executor,
    ExitStatus,
    JobHandle,
    JobSpec,
    LogLine,
    RunContext,
)
from containerops.model.loader import parse_flow
from containerops.store import Store

IMAGE = "containerops/base:busybox"
NETWORK = "host"
TARGET_RATIO = 1.10
#: Fewer rounds are too noisy for a verdict on a shared 2-core machine.
ROUNDS, QUICK_ROUNDS = 15, 3
T = TypeVar("T")
COOPS = Path(sys.executable).with_name("coops")
#: What the docker executor sets on every container, so that the shell side does the same work.
SHELL_RUN_OPTIONS = "--log-driver json-file --pids-limit 4096 --security-opt no-new-privileges"


def flow_text(steps: int, image: str) -> str:
    lines = [
        "uri: bench/docker/chain",
        f"title: A chain of {steps} container steps",
        "version: 1",
        "stages:",
        "  - {type: start, name: start}",
        "  - type: normal",
        "    name: chain",
        "    sequencing: sequence",
        "    actions:",
        "      - name: steps",
        "        jobs:",
    ]
    for step in range(1, steps + 1):
        job = f"name: step{step:02d}, endpoint: '{image}', command: [sh, -c, 'echo step {step}']"
        lines.append(f"          - {{{job}}}")
    lines.append("  - {type: end, name: end}")
    return "\n".join(lines) + "\n"


def shell_script(steps: int, image: str) -> str:
    return (
        f"set -e\nfor i in $(seq 1 {steps}); do\n"
        f'  docker run --rm --network {NETWORK} {SHELL_RUN_OPTIONS} {image} sh -c "echo step $i"\n'
        "done\n"
    )


def expect_steps(lines: list[str], steps: int, side: str, *, ordered: bool = True) -> None:
    """The lines must be ``step 1`` .. ``step N``: in that order, or in any (parallel steps)."""
    want = [f"step {step}" for step in range(1, steps + 1)]
    if (lines if ordered else sorted(lines, key=_step_number)) != want:
        raise BenchError(f"{side}: printed {lines[:5]}... ({len(lines)} lines), not step 1..{steps}")


def our_leftovers(client: docker.DockerClient, run_uids: set[str]) -> tuple[list[str], list[str]]:
    """Containers labelled ``containerops.managed=true``: (of our runs, of other runs)."""
    ours: list[str] = []
    others: list[str] = []
    for container in client.containers.list(all=True, filters={"label": f"{LABEL_MANAGED}=true"}):
        (ours if container.labels.get(LABEL_RUN) in run_uids else others).append(container.name)
    return ours, others


def _step_number(line: str) -> tuple[int, str]:
    number = line.rpartition(" ")[2]
    return (int(number), line) if number.isdigit() else (-1, line)


def check_run(
    store: Store, state: RunState, steps: int, side: str, client: docker.DockerClient, *, ordered: bool = True
) -> None:
    """The run and every job succeeded, the store holds each step's line, no container is left."""
    if state.status != "success":
        raise BenchError(f"{side}: the run ended {state.status}: {state.reason}")
    check_stored(store, state.id, steps, side, ordered=ordered)
    left = client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={state.uid}"})
    if left:
        raise BenchError(f"{side}: containers left behind: {[c.name for c in left]}")


def check_stored(store: Store, run_id: int, steps: int, side: str, *, ordered: bool = True) -> None:
    row = store.get_run(run_id)
    groups = row.groups()  # a matrix job's own row runs nothing: its instances are the steps
    run_jobs = [job for job in row.jobs if job.path not in groups]
    if row.status != "success" or len(run_jobs) != steps:
        raise BenchError(f"{side}: the store has run {run_id} as {row.status} with {len(run_jobs)} jobs")
    failed = [job.path for job in row.jobs if job.status != "success"]
    if failed:
        raise BenchError(f"{side}: jobs not successful in the store: {failed}")
    stored = [line.line for line in store.log_lines(run_id)]
    expect_steps(stored, steps, f"{side} (stored logs)", ordered=ordered)


class TimedExecutor(Executor):
    """Wraps an executor and records how long each of its calls takes (for --breakdown)."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.name = inner.name
        self.times: dict[str, list[float]] = defaultdict(list)

    def _record(self, what: str, since: float) -> None:
        self.times[what].append(time.perf_counter() - since)

    async def _timed(self, what: str, call: Awaitable[T]) -> T:
        begun = time.perf_counter()
        result = await call
        self._record(what, begun)
        return result

    async def setup(self, run: RunContext) -> None:
        await self._timed("setup (connect + ping)", self.inner.setup(run))

    async def start(self, spec: JobSpec) -> JobHandle:
        return await self._timed("start (inspect image, create, start)", self.inner.start(spec))

    async def logs(self, handle: JobHandle) -> AsyncIterator[LogLine]:
        begun = time.perf_counter()
        first = True
        async for line in self.inner.logs(handle):
            if first:
                self._record("logs: until the first line", begun)
                first = False
            yield line
        self._record("logs: whole stream (until it closes)", begun)

    async def wait(self, handle: JobHandle) -> ExitStatus:
        return await self._timed("wait (after the log stream ended; + inspect)", self.inner.wait(handle))

    async def destroy(self, handle: JobHandle) -> None:
        await self._timed("destroy (remove the container)", self.inner.destroy(handle))

    async def teardown(self, run: RunContext) -> None:
        await self._timed("teardown (list by label)", self.inner.teardown(run))


class Bench:
    """The sides of a chain: one flow of sequential steps, and a shell loop."""

    #: Whether the steps' lines come out in order (a chain) or in any order (a fan-out).
    ordered = True

    def make_flow(self) -> str:
        return flow_text(self.args.steps, self.args.image)

    def make_script(self) -> str:
        return shell_script(self.args.steps, self.args.image)

    def __init__(self, args: argparse.Namespace, home: Path) -> None:
        self.args = args
        self.home = home
        self.text = self.make_flow()
        self.flow_file = home / "chain.yaml"
        self.flow_file.write_text(self.text)
        os.environ.pop("COOPS_DATABASE_URL", None)
        os.environ["COOPS_HOME"] = str(home)
        self.store = Store.open()
        self.client = docker.from_env()
        self.run_uids: set[str] = set()

    def close(self) -> None:
        self.store.close()
        self.client.close()

    async def _engine_run(self, executor: Executor) -> RunState:
        loaded = parse_flow(self.text, str(self.flow_file))
        engine = Engine(self.store, executor)
        engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)
        return await engine.run()

    def coops(self) -> float:
        """In-process: parse + prepare + run with a fresh docker executor, as one ``coops run`` does."""
        executor = get_executor("docker", network_mode=NETWORK)
        begun = time.perf_counter()
        state = asyncio.run(self._engine_run(executor))
        took = time.perf_counter() - begun
        close = getattr(executor, "close", None)
        if close is not None:
            close()
        self.run_uids.add(state.uid)
        check_run(self.store, state, self.args.steps, "coops", self.client, ordered=self.ordered)
        return took

    def cli(self) -> float:
        command = [
            str(COOPS),
            "run",
            str(self.flow_file),
            "--executor",
            "docker",
            "--network",
            NETWORK,
            "--json",
        ]
        begun = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
        took = time.perf_counter() - begun
        if done.returncode != 0:
            raise BenchError(f"cli: coops run exited {done.returncode}: {done.stderr.strip()[-500:]}")
        document = json.loads(done.stdout)
        if document["status"] != "success" or any(job["status"] != "success" for job in document["jobs"]):
            raise BenchError(f"cli: the run ended {document['status']}: {document.get('reason')}")
        run = self.store.get_run(int(document["id"]), with_jobs=False)
        self.run_uids.add(run.uid)
        check_stored(self.store, run.id, self.args.steps, "cli", ordered=self.ordered)
        left = self.client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={run.uid}"})
        if left:
            raise BenchError(f"cli: containers left behind: {[c.name for c in left]}")
        return took

    def shell(self) -> float:
        script = self.make_script()
        begun = time.perf_counter()
        done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
        took = time.perf_counter() - begun
        if done.returncode != 0:
            raise BenchError(f"shell: the loop exited {done.returncode}: {done.stderr.strip()[-500:]}")
        expect_steps(done.stdout.splitlines(), self.args.steps, "shell", ordered=self.ordered)
        return took

    def breakdown(self) -> dict[str, list[float]]:
        """One more in-process run, with every executor call timed (not counted)."""
        inner = get_executor("docker", network_mode=NETWORK)
        timed = TimedExecutor(inner)
        begun = time.perf_counter()
        state = asyncio.run(self._engine_run(timed))
        timed.times["whole run (parse + prepare + run)"].append(time.perf_counter() - begun)
        close = getattr(inner, "close", None)
        if close is not None:
            close()
        self.run_uids.add(state.uid)
        check_run(self.store, state, self.args.steps, "breakdown", self.client, ordered=self.ordered)
        return timed.times


def image_present(client: docker.DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


DESCRIPTION = (
    "Time a chain of sequential container steps run by ContainerOps (docker executor) "
    "against a plain `docker run --rm` shell loop doing the same steps, both with host "
    f"networking. Target: coops / shell <= {TARGET_RATIO:.2f}."
)


def build_parser(
    description: str = DESCRIPTION, target_ratio: float = TARGET_RATIO
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=20, help="steps (containers) (default: %(default)s)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help=f"measured rounds of each side, alternating (default: {ROUNDS}; --quick: {QUICK_ROUNDS})",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="unmeasured rounds of each side first (default: 1; --quick: 0)",
    )
    parser.add_argument(
        "--no-cli",
        dest="via_cli",
        action="store_false",
        help="skip the whole-process side (`coops run --json` as a subprocess, start-up included)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="after the rounds, one more in-process run with every executor call timed",
    )
    parser.add_argument(
        "--image",
        default=IMAGE,
        help="the image of every step; change it only for a trial (default: %(default)s)",
    )
    parser.add_argument(
        "--target-ratio",
        type=float,
        default=target_ratio,
        help="the target: coops / shell at most this (default: %(default)s)",
    )
    return add_standard_args(parser)


def main(argv: list[str] | None = None) -> int:
    return run_benchmark("docker_chain", Bench, build_parser(), argv)


def run_benchmark(
    name: str,
    bench_class: type[Bench],
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    more: Callable[[Bench, Results], None] | None = None,
) -> int:
    """Alternate the coops and shell sides of ``bench_class``; print and check the figures.
    ``more`` measures what else the benchmark wants with the same bench, after the rounds."""
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = QUICK_ROUNDS if args.quick else ROUNDS
    if args.warmup is None:
        args.warmup = 0 if args.quick else 1
    if args.steps < 1 or args.rounds < 1 or args.warmup < 0:
        print("error: --steps and --rounds must be at least 1, --warmup at least 0", file=sys.stderr)
        return 2
    if shutil.which("docker") is None:
        print("error: the docker CLI is needed for the shell side", file=sys.stderr)
        return 2
    results = Results(name)
    home = Path(tempfile.mkdtemp(prefix="coops-bench-docker-"))
    bench = bench_class(args, home)
    try:
        if not image_present(bench.client, args.image):
            print(
                f"error: image {args.image} is missing; build it: .venv/bin/coops images build-base",
                file=sys.stderr,
            )
            return 2
        sides: dict[str, Callable[[], float]] = {"coops": bench.coops, "shell": bench.shell}
        if args.via_cli:
            sides["cli"] = bench.cli
        try:
            times = alternate(sides, args.rounds, args.warmup)
            breakdown = bench.breakdown() if args.breakdown else None
            if more is not None:
                more(bench, results)
        except BenchError as error:
            results.fail(f"a side did not do its work: {error}")
            return results.finish(args.json)
        ours, others = our_leftovers(bench.client, bench.run_uids)
    finally:
        bench.close()
        shutil.rmtree(home, ignore_errors=True)

    steps = args.steps
    results.add("steps", steps)
    results.add("rounds", args.rounds)
    for name in sides:
        results.add(f"{name}.seconds", median(times[name]))
        results.add(f"{name}.ms_per_step", median(times[name]) * 1000 / steps, 1)
    results.add("ratio", ratio(times["coops"], times["shell"]))
    results.target("ratio", "<=", args.target_ratio)
    # The same round's two sides ran back to back: their ratio shrugs off slow drifts of a shared machine.
    results.add("ratio_paired_median", paired_ratio(times["coops"], times["shell"]))
    overhead = (median(times["coops"]) - median(times["shell"])) * 1000 / steps
    results.add("coops.overhead_ms_per_step", overhead, 1)
    if args.via_cli:
        results.add("cli_ratio", ratio(times["cli"], times["shell"]))
        results.target("cli_ratio", "<=", args.target_ratio)
    results.add("leftover_containers", len(ours))
    results.target("leftover_containers", "<=", 0)
    if others:
        print(f"# note: {len(others)} managed container(s) of other runs exist (not ours): {others[:5]}")
    if breakdown is not None:
        print("# breakdown of one more in-process run, per executor call: calls, median / mean / max, total")
        for what, values in breakdown.items():
            ms = [value * 1000 for value in values]
            figures = f"{statistics.median(ms):.1f} / {statistics.mean(ms):.1f} / {max(ms):.1f} ms"
            print(f"#   {what}: {len(ms)} x {figures}, total {sum(ms):.0f} ms")
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
