#!/usr/bin/env python3
"""A matrix of busybox jobs on Docker at ``max_parallel: 20`` against ``xargs -P 20``.

- ``coops`` (in-process) and ``cli`` (``coops run --json`` as a whole process, start-up
  included): one job with ``matrix: {n: {count: 1000}}`` and ``strategy: {max_parallel:
  20}``, each instance ``sh -c 'echo step $((CO_MATRIX_N + 1))'``;
- ``shell``: ``seq 1 1000 | xargs -P 20 -I N docker run --rm ... sh -c 'echo step N'``
  with the settings the docker executor puts on its containers.

Rounds alternate the sides (docker_chain.py's machinery); every run is checked (each
instance's line stored, no container left). Then ``fail_fast``: 20 instances at once,
instance 0 fails after 1 s while the others sleep 60 s; measured from the failing
instance's end to the group's end (store timestamps): how long the rest take to stop.

Targets: cli / shell <= 1.15 (whole process, what a user waits for), fail_fast stop <= 1 s.

Examples::

    .venv/bin/python bench/docker_matrix.py
    .venv/bin/python bench/docker_matrix.py --quick --json /tmp/docker-matrix.json
"""

from __future__ import annotations

import asyncio
import sys

from _benchlib import BenchError, Results
from docker_chain import NETWORK, SHELL_RUN_OPTIONS, Bench, build_parser, run_benchmark

from containerops.engine import Engine
from containerops.executors import get_executor
from containerops.executors.base import LABEL_RUN
from containerops.model.loader import parse_flow

TARGET_RATIO = 1.15
TARGET_STOP = 1.0
PARALLEL = 20
STEPS, QUICK_STEPS = 1000, 60
DESCRIPTION = (
    f"Time a {STEPS}-instance matrix of busybox jobs at max_parallel {PARALLEL} run by ContainerOps "
    f"against `xargs -P {PARALLEL}` of `docker run --rm`, both with host networking; then how fast "
    f"fail_fast stops the rest. Targets: cli / shell <= {TARGET_RATIO:.2f}, stop <= {TARGET_STOP:g} s."
)


def matrix_flow(image: str, steps: int, *, fail_fast: bool = False) -> str:
    if fail_fast:
        script = "if [ $CO_MATRIX_N = 0 ]; then sleep 1; exit 1; fi; sleep 60"
    else:
        script = "echo step $((CO_MATRIX_N + 1))"
    return (
        "uri: bench/docker/matrix\n"
        "stages:\n"
        "  - name: fan\n"
        "    actions:\n"
        "      - name: out\n"
        "        jobs:\n"
        "          - name: step\n"
        f"            endpoint: '{image}'\n"
        f"            matrix: {{n: {{count: {steps}}}}}\n"
        f"            strategy: {{max_parallel: {PARALLEL}, fail_fast: {'true' if fail_fast else 'false'}}}\n"
        f"            command: [sh, -c, '{script}']\n"
    )


class MatrixBench(Bench):
    ordered = False

    def make_flow(self) -> str:
        return matrix_flow(self.args.image, self.args.steps)

    def make_script(self) -> str:
        return (
            f"seq 1 {self.args.steps} | xargs -P {PARALLEL} -I N "
            f"docker run --rm --network {NETWORK} {SHELL_RUN_OPTIONS} {self.args.image} sh -c 'echo step N'\n"
        )


def fail_fast_stop(bench: Bench, results: Results) -> None:
    """Seconds from the failing instance's end to its group's end, the others sleeping 60 s."""
    loaded = parse_flow(matrix_flow(bench.args.image, PARALLEL, fail_fast=True), "fail-fast.yaml")
    executor = get_executor("docker", network_mode=NETWORK)
    engine = Engine(bench.store, executor)
    engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)
    state = asyncio.run(engine.run())
    close = getattr(executor, "close", None)
    if close is not None:
        close()
    bench.run_uids.add(state.uid)
    group = state.jobs["fan.out.step"]
    members = [state.jobs[path] for path in state.instances["fan.out.step"]]
    statuses = [js.status for js in members]
    if statuses != ["failure"] + ["cancelled"] * (PARALLEL - 1) or group.status != "failure":
        raise BenchError(f"fail_fast: instances ended {statuses}, the group {group.status}")
    failed, ended = members[0].finished_at, group.finished_at
    assert failed is not None and ended is not None
    left = bench.client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={state.uid}"})
    if left:
        raise BenchError(f"fail_fast: containers left behind: {[c.name for c in left]}")
    results.add("fail_fast.stop_seconds", (ended - failed).total_seconds(), 3)
    results.target("fail_fast.stop_seconds", "<=", TARGET_STOP)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(DESCRIPTION, TARGET_RATIO)
    parser.set_defaults(steps=None)
    args, _ = parser.parse_known_args(argv)
    argv = list(argv if argv is not None else sys.argv[1:])
    if args.steps is None:
        argv += ["--steps", str(QUICK_STEPS if args.quick else STEPS)]
    if args.rounds is None:
        argv += ["--rounds", "1" if args.quick else "3"]
    return run_benchmark("docker_matrix", MatrixBench, parser, argv, more=fail_fast_stop)


if __name__ == "__main__":
    sys.exit(main())
