#!/usr/bin/env python3
"""A wide fan-out on a real 3-node Docker Swarm against the single-engine Docker executor.

200 (``--jobs``) one-job actions in one parallel stage, each ``echo step N`` and its node
as an output (``[COUT] NODE = $CO_SWARM_NODE``; ``engine`` off the swarm), run in-process by ``Engine``:

- ``swarm``: the swarm executor on the tests' harness (``tests/swarmharness.py``: this
  machine's Engine as a drained manager, two ``dockerd`` workers in network namespaces,
  a registry of its own), image ``containerops/base:busybox`` pushed there;
- ``docker``: the docker executor on this machine's Engine alone, the same image.

Both sides run on the same 2 cores (the swarm's workers are processes of this machine),
so the swarm cannot be faster here: the figures say what it costs to spread the jobs
across nodes, and how evenly they spread. The sides alternate round by round (the first
rotating); jobs per minute are medians, each with the 1-minute load average right
after the side's runs. Every run is checked (success, each step's line in the store, no
container or service left). Target: the swarm's busiest worker ran at most 75% of the
jobs (the drained manager runs none). Exit 2 when this machine cannot host the swarm.

Examples::

    .venv/bin/python bench/swarm_fanout.py
    .venv/bin/python bench/swarm_fanout.py --quick --json /tmp/fanout.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _benchlib import BenchError, Results, add_standard_args, alternate, median
from docker_chain import NETWORK, expect_steps
from swarm_chain import publish

from containerops.engine import Engine, RunState
from containerops.executors import get_executor
from containerops.executors.base import LABEL_MANAGED, LABEL_RUN, Executor
from containerops.executors.swarm import SwarmExecutor
from containerops.images import BUSYBOX_IMAGE
from containerops.model.loader import parse_flow
from containerops.repository import registry
from containerops.store import Store

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the harness lives with the tests
    sys.path.insert(0, str(ROOT))

from tests.repository.conftest import free_port  # noqa: E402
from tests.swarmharness import HarnessUnavailable, Swarm, make_swarm  # noqa: E402

JOBS, QUICK_JOBS = 200, 20
ROUNDS, QUICK_ROUNDS = 2, 1
#: At most this share of the jobs on one worker: the swarm spread them.
TARGET_BUSIEST_SHARE = 0.75


def flow_text(jobs: int, image: str) -> str:
    """One parallel stage of ``jobs`` one-job actions; each prints its step, outputs its node."""
    lines = ["uri: bench/swarm/fanout", "stages:", "  - name: fanout", "    sequencing: parallel"]
    lines.append("    actions:")
    for step in range(1, jobs + 1):
        command = f'echo step {step}; echo "[COUT] NODE = ${{CO_SWARM_NODE:-engine}}"'
        job = f"name: step, endpoint: '{image}', outputs: [NODE], command: [sh, -c, '{command}']"
        lines.append(f"      - {{name: a{step:03d}, jobs: [{{{job}}}]}}")
    return "\n".join(lines) + "\n"


class Fanout:
    """The two sides on one store; each run's nodes and the load average after it."""

    def __init__(self, args: argparse.Namespace, home: Path, swarm: Swarm, image: str) -> None:
        self.args = args
        self.swarm = swarm
        self.texts = {"swarm": flow_text(args.jobs, image), "docker": flow_text(args.jobs, BUSYBOX_IMAGE)}
        self.flow_file = home / "fanout.yaml"
        os.environ.pop("COOPS_DATABASE_URL", None)
        os.environ["COOPS_HOME"] = str(home)
        self.store = Store.open()
        self.nodes: dict[str, Counter[str]] = {"swarm": Counter(), "docker": Counter()}
        self.load: dict[str, list[float]] = {"swarm": [], "docker": []}

    def close(self) -> None:
        self.store.close()

    async def _engine_run(self, text: str, executor: Executor) -> RunState:
        loaded = parse_flow(text, str(self.flow_file))
        engine = Engine(self.store, executor)
        engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)
        return await engine.run()

    def _side(self, side: str, executor: Executor) -> float:
        begun = time.perf_counter()
        state = asyncio.run(self._engine_run(self.texts[side], executor))
        took = time.perf_counter() - begun
        self.load[side].append(os.getloadavg()[0])
        close = getattr(executor, "close", None)
        if close is not None:
            close()
        if state.status != "success":
            raise BenchError(f"{side}: the run ended {state.status}: {state.reason}")
        run = self.store.get_run(state.id)
        if len(run.jobs) != self.args.jobs or any(job.status != "success" for job in run.jobs):
            raise BenchError(f"{side}: the store has {len(run.jobs)} jobs, not all successful")
        stored = [line.line for line in self.store.log_lines(state.id) if line.line.startswith("step ")]
        expect_steps(stored, self.args.jobs, f"{side} (stored logs)", ordered=False)
        api = self.swarm.client.api
        if api.containers(all=True, filters={"label": f"{LABEL_RUN}={state.uid}"}) or api.services(
            filters={"label": f"{LABEL_MANAGED}=true"}
        ):
            raise BenchError(f"{side}: containers or services left behind")
        for job in run.jobs:
            node = str(job.outputs.get("NODE", ""))
            self.nodes[side][self.swarm.node_name(node) if side == "swarm" else "this engine"] += 1
        return took

    def on_swarm(self) -> float:
        return self._side("swarm", SwarmExecutor(registry=self.swarm.registry))

    def on_docker(self) -> float:
        return self._side("docker", get_executor("docker", network_mode=NETWORK))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Jobs per minute of a wide fan-out on the 3-node swarm harness against the "
        "single-engine docker executor, and how the swarm spread the jobs across its nodes. "
        f"Target: the busiest worker ran at most {TARGET_BUSIEST_SHARE:.0%} of the jobs."
    )
    parser.add_argument("--jobs", type=int, default=None, help=f"jobs (default {JOBS}; --quick {QUICK_JOBS})")
    parser.add_argument(
        "--rounds", type=int, default=None, help=f"rounds (default {ROUNDS}; --quick {QUICK_ROUNDS})"
    )
    return add_standard_args(parser)


def report(results: Results, fanout: Fanout, times: dict[str, list[float]], args: argparse.Namespace) -> None:
    results.add("jobs", args.jobs)
    results.add("rounds", args.rounds)
    for side in ("swarm", "docker"):
        results.add(f"{side}.jobs_per_minute", args.jobs * 60 / median(times[side]), 1)
        results.add(f"{side}.load1_after", median(fanout.load[side]), 2)
    names = ["manager", *(worker.name for worker in fanout.swarm.workers)]
    runs = args.rounds
    spread = [fanout.nodes["swarm"][name] / runs for name in names]
    for name, count in zip(names, spread, strict=True):
        results.add(f"swarm.jobs_on.{name}", count, 1)
    busiest = max(spread) / args.jobs
    results.add("swarm.busiest_share", busiest)
    results.target("swarm.busiest_share", "<=", TARGET_BUSIEST_SHARE)
    load = {side: median(fanout.load[side]) for side in ("swarm", "docker")}
    results.add_series(
        f"Jobs per minute, {args.jobs}-job fan-out, swarm against one engine",
        x=list(range(1, runs + 1)),
        lines={
            f"swarm, 3 nodes (load1 {load['swarm']:.1f})": [args.jobs * 60 / t for t in times["swarm"]],
            f"docker, one engine (load1 {load['docker']:.1f})": [args.jobs * 60 / t for t in times["docker"]],
        },
        xlabel="round",
        ylabel="jobs per minute",
    )
    results.add_series(
        f"Jobs per node of the swarm, {args.jobs}-job fan-out (load1 {load['swarm']:.1f})",
        x=list(range(1, len(names) + 1)),
        lines={"jobs (1 = drained manager, 2.. = workers " + ", ".join(names[1:]) + ")": spread},
        xlabel="node",
        ylabel="jobs per run",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.jobs = args.jobs or (QUICK_JOBS if args.quick else JOBS)
    args.rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    results = Results("swarm_fanout")
    home = Path(tempfile.mkdtemp(prefix="coops-bench-fanout-"))
    os.environ["COOPS_HOME"] = str(home / "registry-home")
    address = registry.start(free_port()).address
    swarm = make_swarm(address)
    try:
        try:
            swarm.start()
        except HarnessUnavailable as error:
            print(f"error: this machine cannot host the swarm: {error}", file=sys.stderr)
            return 2
        fanout = Fanout(args, home, swarm, publish(swarm))
        try:
            times = alternate({"swarm": fanout.on_swarm, "docker": fanout.on_docker}, args.rounds, 0)
        except BenchError as error:
            results.fail(f"a side did not do its work: {error}")
            return results.finish(args.json)
        finally:
            fanout.close()
        report(results, fanout, times, args)
    finally:
        swarm.stop()
        os.environ["COOPS_HOME"] = str(home / "registry-home")
        registry.stop()
        shutil.rmtree(home, ignore_errors=True)
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
