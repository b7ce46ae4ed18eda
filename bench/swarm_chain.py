#!/usr/bin/env python3
"""A chain of sequential jobs on a real multi-node Docker Swarm: ContainerOps' swarm
executor against the same services made by hand in a shell loop.

The swarm is the tests' harness (``tests/swarmharness.py``: this machine's Engine as a
drained manager, two ``dockerd`` workers in network namespaces), started for the
benchmark and torn down after it, with a registry of its own; the image of every step
is ``containerops/base:busybox`` pushed there, named by digest on both sides.

- ``coops``: one flow (one sequence stage, one action of N jobs) run in-process by
  ``Engine`` with the swarm executor: parse + prepare + run, store included;
- ``shell``: ``docker service create --mode replicated-job`` (which waits for the job to
  complete), ``docker service logs --raw``, ``docker service rm``, in a ``sh`` loop.

The sides alternate (their order rotating every round) after unmeasured warm-up
rounds; medians are quoted. Every side is checked: each coops run must succeed with
every step's line in the store and leave no service, the shell loop must print every
step. Target: coops / shell at most 1.10. Exit 2 when the machine cannot host the
swarm (not root, no ``ip``, the Engine already in a swarm...).

Examples::

    .venv/bin/python bench/swarm_chain.py
    .venv/bin/python bench/swarm_chain.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _benchlib import BenchError, Results, add_standard_args, alternate, median, paired_ratio, ratio
from docker_chain import check_stored, expect_steps, flow_text

from containerops.engine import Engine, RunState
from containerops.executors.base import LABEL_MANAGED
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

TARGET_RATIO = 1.10
ROUNDS, QUICK_ROUNDS = 5, 1
STEPS, QUICK_STEPS = 20, 5


def shell_script(steps: int, image: str) -> str:
    """The hand-made loop: each step a replicated-job service, waited for, its log, removed."""
    return (
        f"set -e\nfor i in $(seq 1 {steps}); do\n"
        "  name=coops-bench-step-$i\n"
        "  docker service create --quiet --name $name --mode replicated-job --restart-condition none "
        f'--log-driver json-file {image} sh -c "echo step $i" >/dev/null\n'
        "  docker service logs --raw $name\n"
        "  docker service rm $name >/dev/null\n"
        "done\n"
    )


class SwarmChain:
    """The two sides of the chain on one swarm."""

    def __init__(self, args: argparse.Namespace, home: Path, swarm: Swarm, image: str) -> None:
        self.args = args
        self.swarm = swarm
        self.image = image
        self.text = flow_text(args.steps, image)
        self.flow_file = home / "chain.yaml"
        self.flow_file.write_text(self.text)
        os.environ.pop("COOPS_DATABASE_URL", None)
        os.environ["COOPS_HOME"] = str(home)
        self.store = Store.open()

    def close(self) -> None:
        self.store.close()

    async def _engine_run(self, executor: SwarmExecutor) -> RunState:
        loaded = parse_flow(self.text, str(self.flow_file))
        engine = Engine(self.store, executor)
        engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)
        return await engine.run()

    def coops(self) -> float:
        """In-process: parse + prepare + run with a fresh swarm executor, as one ``coops run`` does."""
        executor = SwarmExecutor(registry=self.swarm.registry)
        begun = time.perf_counter()
        state = asyncio.run(self._engine_run(executor))
        took = time.perf_counter() - begun
        executor.close()
        if state.status != "success":
            raise BenchError(f"coops: the run ended {state.status}: {state.reason}")
        check_stored(self.store, state.id, self.args.steps, "coops")
        left = self.swarm.client.api.services(filters={"label": f"{LABEL_MANAGED}=true"})
        if left:
            raise BenchError(f"coops: services left behind: {[s['Spec']['Name'] for s in left]}")
        return took

    def shell(self) -> float:
        begun = time.perf_counter()
        done = subprocess.run(
            ["sh", "-c", shell_script(self.args.steps, self.image)],
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.perf_counter() - begun
        if done.returncode != 0:
            raise BenchError(f"shell: the loop exited {done.returncode}: {done.stderr.strip()[-500:]}")
        expect_steps(done.stdout.splitlines(), self.args.steps, "shell")
        return took


def publish(swarm: Swarm) -> str:
    """``containerops/base:busybox`` in the harness's registry, by digest."""
    repository = f"{swarm.registry}/containerops/base"
    swarm.client.images.get(BUSYBOX_IMAGE).tag(repository, "busybox")
    digest = ""
    for event in swarm.client.api.push(repository, tag="busybox", stream=True, decode=True):
        if "error" in event:
            raise BenchError(f"pushing {BUSYBOX_IMAGE}: {event['error']}")
        digest = str((event.get("aux") or {}).get("Digest") or digest)
    return f"{repository}@{digest}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Time a chain of sequential jobs run by ContainerOps' swarm executor on a "
        "3-node swarm against `docker service create --mode replicated-job` in a shell loop. "
        f"Target: coops / shell <= {TARGET_RATIO:.2f}."
    )
    parser.add_argument(
        "--steps", type=int, default=None, help=f"jobs (default {STEPS}; --quick {QUICK_STEPS})"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help=f"rounds (default {ROUNDS}; --quick {QUICK_ROUNDS})"
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="unmeasured rounds of each side first (1; --quick 0)"
    )
    return add_standard_args(parser)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.steps = args.steps or (QUICK_STEPS if args.quick else STEPS)
    args.rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    if args.warmup is None:
        args.warmup = 0 if args.quick else 1
    if shutil.which("docker") is None:
        print("error: the docker CLI is needed for the shell side", file=sys.stderr)
        return 2
    results = Results("swarm_chain")
    home = Path(tempfile.mkdtemp(prefix="coops-bench-swarm-"))
    os.environ["COOPS_HOME"] = str(home / "registry-home")
    address = registry.start(free_port()).address
    swarm = make_swarm(address)
    try:
        try:
            swarm.start()
        except HarnessUnavailable as error:
            print(f"error: this machine cannot host the swarm: {error}", file=sys.stderr)
            return 2
        chain = SwarmChain(args, home, swarm, publish(swarm))
        try:
            times = alternate({"coops": chain.coops, "shell": chain.shell}, args.rounds, args.warmup)
        except BenchError as error:
            results.fail(f"a side did not do its work: {error}")
            return results.finish(args.json)
        finally:
            chain.close()
    finally:
        swarm.stop()
        os.environ["COOPS_HOME"] = str(home / "registry-home")
        registry.stop()
        shutil.rmtree(home, ignore_errors=True)
    results.add("steps", args.steps)
    results.add("rounds", args.rounds)
    for side in ("coops", "shell"):
        results.add(f"{side}.seconds", median(times[side]))
        results.add(f"{side}.ms_per_step", median(times[side]) * 1000 / args.steps, 1)
    results.add("ratio", ratio(times["coops"], times["shell"]))
    results.target("ratio", "<=", TARGET_RATIO)
    results.add("ratio_paired_median", paired_ratio(times["coops"], times["shell"]))
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
