#!/usr/bin/env python3
"""How long a person waits for the CLI: ``coops --help`` and ``coops validate`` as whole processes.

Each command runs as its own process (``.venv/bin/coops``, as a user types it), warm
(after unmeasured runs), the sides alternating round by round; medians are quoted, with
the bare interpreter (``python -c pass``) beside them as the floor no CLI goes under.
Every run is checked: exit 0, and the output a person expects (the usage text, the
flow said valid). Targets: each under 250 ms. Our modules' bytecode is compiled first, as
pip does for an installed wheel and ``scripts/setup.sh`` does for the editable install:
with ``PYTHONDONTWRITEBYTECODE`` set, a stale ``.pyc`` would otherwise be compiled again at
every start and measured as start-up.

Examples::

    .venv/bin/python bench/cli_startup.py
    .venv/bin/python bench/cli_startup.py --quick --json /tmp/cli.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _benchlib import BenchError, Results, add_standard_args, alternate, median

NAME = "cli_startup"
ROOT = Path(__file__).resolve().parents[1]
COOPS = ROOT / ".venv" / "bin" / "coops"
TARGET_MS = 250.0


def timed(command: list[str], expect: str, env: dict[str, str]) -> Callable[[], float]:
    def run() -> float:
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, cwd=ROOT)
        took = time.perf_counter() - began
        if done.returncode != 0 or expect not in done.stdout + done.stderr:
            raise BenchError(
                f"{' '.join(command)} exited {done.returncode}: {(done.stdout + done.stderr)[-300:]}"
            )
        return took

    return run


def main() -> int:
    parser = add_standard_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    parser.add_argument("--rounds", type=int, default=None, help="measured rounds (21; 7 with --quick)")
    args = parser.parse_args()
    rounds = args.rounds or (7 if args.quick else 21)
    if not COOPS.exists():
        print(f"{NAME}: {COOPS} is missing: run scripts/setup.sh", file=sys.stderr)
        return 2
    results = Results(NAME)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "containerops")], check=True)
    with tempfile.TemporaryDirectory(prefix="coops-bench-cli-") as home:
        env = {**os.environ, "COOPS_HOME": home, "COLUMNS": "100"}
        sides = {
            "python": timed([sys.executable, "-c", "pass"], "", env),
            "help": timed([str(COOPS), "--help"], "Usage", env),
            "validate": timed([str(COOPS), "validate", "examples/demo.yaml"], "valid", env),
        }
        try:
            times = alternate(sides, rounds, warmup=2)
        except BenchError as error:
            results.fail(str(error))
            return results.finish(args.json)
    for side, values in times.items():
        results.add(f"{side}_ms", median(values) * 1000, 1)
    results.target("help_ms", "<", TARGET_MS)
    results.target("validate_ms", "<", TARGET_MS)
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
