#!/usr/bin/env python3
"""A fan-out of containers: ContainerOps against ``xargs -P`` of ``docker run --rm``.

20 (``--steps``) containers of ``containerops/base:busybox`` at once, each
``sh -c 'echo step N'``, host networking on both sides:

- ``coops``: one flow with one parallel stage of 20 one-job actions, run in-process
  (``parse_flow`` + ``Engine.prepare`` + ``Engine.run``, a fresh docker executor,
  a SQLite store that persists across rounds);
- ``shell``: ``seq 1 20 | xargs -P 20`` running ``docker run --rm`` with the
  settings the docker executor puts on its containers.

Rounds alternate the sides and medians are quoted, as in docker_chain.py (whose
machinery this reuses); every run is checked (each step's line stored, no
container left). Target: coops / shell <= 1.15.

Examples::

    .venv/bin/python bench/docker_fanout.py
    .venv/bin/python bench/docker_fanout.py --quick --json /tmp/fanout.json
"""

from __future__ import annotations

import sys

from docker_chain import NETWORK, SHELL_RUN_OPTIONS, Bench, build_parser, run_benchmark

TARGET_RATIO = 1.15
DESCRIPTION = (
    "Time N containers started at once by ContainerOps (one parallel stage, docker executor) "
    "against `xargs -P N` of `docker run --rm` doing the same, both with host networking. "
    f"Target: coops / shell <= {TARGET_RATIO:.2f}."
)


def flow_text(steps: int, image: str) -> str:
    lines = [
        "uri: bench/docker/fanout",
        f"title: A fan-out of {steps} container steps",
        "version: 1",
        "stages:",
        "  - {type: start, name: start}",
        "  - type: normal",
        "    name: fanout",
        "    sequencing: parallel",
        "    actions:",
    ]
    for step in range(1, steps + 1):
        job = f"name: step, endpoint: '{image}', command: [sh, -c, 'echo step {step}']"
        lines.append(f"      - {{name: a{step:02d}, jobs: [{{{job}}}]}}")
    lines.append("  - {type: end, name: end}")
    return "\n".join(lines) + "\n"


def shell_script(steps: int, image: str) -> str:
    return (
        f"seq 1 {steps} | xargs -P {steps} -I N "
        f"docker run --rm --network {NETWORK} {SHELL_RUN_OPTIONS} {image} sh -c 'echo step N'\n"
    )


class FanoutBench(Bench):
    ordered = False

    def make_flow(self) -> str:
        return flow_text(self.args.steps, self.args.image)

    def make_script(self) -> str:
        return shell_script(self.args.steps, self.args.image)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(DESCRIPTION, TARGET_RATIO)
    return run_benchmark("docker_fanout", FanoutBench, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
