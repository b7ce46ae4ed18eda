#!/usr/bin/env python3
"""A matrix of 10,000 instances on the dummy executor: what the engine costs per instance.

``coops run FLOW --executor dummy --json`` runs as a child process with a fresh
``COOPS_HOME`` (SQLite), on a flow of one job fanned out by ``matrix: {n: {count: N}}``
whose instances each print one output (``CO_N``, the group's JSON list of 10,000 values
at the end). The dummy executor does no work, so everything measured is the engine:
parsing, the instances made, their rows and state changes in the store, the progress
lines, the final JSON. Measured side by side in each round with the same command on a
one-instance matrix (its time is the fixed cost of a ``coops run``: interpreter start-up,
imports, opening the store), so that the per-instance figure is:

    (time of N instances - time of 1 instance) / (N - 1)

and, stricter, the whole process's time divided by N. Peak RSS is the child's
``ru_maxrss`` (``os.wait4``). Checked: the run succeeded with every instance, and the
group's output lists every value in order.

Targets: under 1 ms per instance (start-up excluded), peak RSS under 300 MiB, at 10,000.

Examples::

    .venv/bin/python bench/matrix_dummy.py
    .venv/bin/python bench/matrix_dummy.py --quick --json /tmp/matrix.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _benchlib import BenchError, Results, add_standard_args, alternate, median

COOPS = Path(sys.executable).with_name("coops")
SIZE = 10_000
TARGET_MS = 1.0
TARGET_MIB = 300.0


def flow_text(size: int) -> str:
    return (
        "uri: bench/matrix/dummy\n"
        "stages:\n"
        "  - name: test\n"
        "    actions:\n"
        "      - name: fan\n"
        "        jobs:\n"
        "          - name: shard\n"
        "            endpoint: containerops/base:busybox\n"
        f"            matrix: {{n: {{count: {size}}}}}\n"
        '            environments: {CO_DUMMY_OUTPUTS: "CO_N=${{ matrix.n }}"}\n'
        "            outputs: [CO_N]\n"
    )


class Side:
    """One ``coops run`` of an N-instance matrix per call; remembers its peak RSS."""

    def __init__(self, size: int, folder: Path) -> None:
        self.size = size
        self.folder = folder
        self.flow = folder / f"matrix-{size}.yaml"
        self.flow.write_text(flow_text(size))
        self.peaks: list[float] = []

    def __call__(self) -> float:
        home = Path(tempfile.mkdtemp(prefix="home-", dir=self.folder))
        env = {**os.environ, "COOPS_HOME": str(home)}
        env.pop("COOPS_DATABASE_URL", None)
        out = home / "out.json"
        begun = time.perf_counter()
        with out.open("wb") as stdout:
            child = subprocess.Popen(
                [str(COOPS), "run", str(self.flow), "--executor", "dummy", "--json"],
                stdout=stdout,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            _, status, usage = os.wait4(child.pid, 0)
        took = time.perf_counter() - begun
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise BenchError(f"coops run of {self.size} instances exited {code}")
        document = json.loads(out.read_text())
        group = document["jobs"][0]
        ok = sum(job["status"] == "success" for job in document["jobs"][1:])
        if document["status"] != "success" or ok != self.size:
            raise BenchError(f"the {self.size}-instance run ended {document['status']} with {ok} successful")
        if json.loads(group["outputs"]["CO_N"]) != [str(n) for n in range(self.size)]:
            raise BenchError("the group's output does not list every instance's value in order")
        self.peaks.append(usage.ru_maxrss / 1024)  # KiB on Linux
        shutil.rmtree(home, ignore_errors=True)
        return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            f"`coops run` of a {SIZE:,}-instance matrix on the dummy executor, against the same of one "
            f"instance (the fixed cost). Targets: under {TARGET_MS:g} ms per instance, peak RSS under "
            f"{TARGET_MIB:g} MiB."
        )
    )
    parser.add_argument("--size", type=int, default=SIZE, help="instances (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default: 3; --quick: 1)")
    args = add_standard_args(parser).parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    results = Results("matrix_dummy")
    folder = Path(tempfile.mkdtemp(prefix="coops-bench-matrix-"))
    try:
        big, one = Side(args.size, folder), Side(1, folder)
        times = alternate({"matrix": big, "one": one}, rounds)
    except BenchError as error:
        results.fail(str(error))
        return results.finish(args.json)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    whole, fixed = median(times["matrix"]), median(times["one"])
    results.add("instances", args.size)
    results.add("seconds", whole, 2)
    results.add("one_instance.seconds", fixed, 2)
    results.add("ms_per_instance", (whole - fixed) * 1000 / (args.size - 1), 3)
    results.add("whole_process.ms_per_instance", whole * 1000 / args.size, 3)
    results.add("peak_rss_mib", max(big.peaks), 1)
    results.target("ms_per_instance", "<", TARGET_MS)
    results.target("peak_rss_mib", "<", TARGET_MIB)
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
