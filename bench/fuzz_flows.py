#!/usr/bin/env python3
"""The flow loader under 100,000 mutated flows: no exception but diagnostics, none slow.

The 80 original pilotage flows (``../shared/compat/pilotage``) and ``examples/*.yaml``
are mutated one to four times each case (bytes cut and inserted, deep nesting, alias
bombs, lines repeated, swapped and re-indented: ``tests/flowmutations.py``, the same
mutations the suite's fuzz test draws) from a seed, and each is given to
``parse_flow``. A case that raises anything but ``FlowInvalid``, or a ``FlowInvalid``
whose error has no line, is counted as uncaught and printed with its seed (rerun one
case with ``--seed N --cases 1``). Targets: 0 uncaught, the slowest case under 1 s.

Examples::

    .venv/bin/python bench/fuzz_flows.py --quick
    .venv/bin/python bench/fuzz_flows.py --cases 100000 --json /tmp/fuzz.json
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the mutations live with the tests that draw them too

from _benchlib import Results, add_standard_args  # noqa: E402
from tests.flowmutations import mutate  # noqa: E402

from containerops.model.diagnostics import FlowInvalid  # noqa: E402
from containerops.model.loader import parse_flow  # noqa: E402

NAME = "fuzz_flows"
PILOTAGE = ROOT.parent / "shared" / "compat" / "pilotage"


def main() -> int:
    parser = add_standard_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    parser.add_argument("--cases", type=int, default=None, help="how many (100,000; 2,000 with --quick)")
    parser.add_argument("--seed", type=int, default=20261203, help="the first case's seed")
    args = parser.parse_args()
    cases = args.cases or (2_000 if args.quick else 100_000)
    sources = [
        p.read_text() for p in sorted(PILOTAGE.glob("*.y*ml")) + sorted((ROOT / "examples").glob("*.y*ml"))
    ]
    results = Results(NAME)
    if len(sources) < 80:
        print(f"{NAME}: the 80 pilotage flows are not in {PILOTAGE}", file=sys.stderr)
        return 2
    uncaught, slowest, slowest_seed, invalid = 0, 0.0, args.seed, 0
    started = time.perf_counter()
    for seed in range(args.seed, args.seed + cases):
        rng = random.Random(seed)
        text = mutate(rng.choice(sources), rng)
        began = time.perf_counter()
        try:
            parse_flow(text, "fuzzed.yaml")
        except FlowInvalid as error:
            invalid += 1
            if any(d.severity == "error" and d.line is None for d in error.diagnostics):
                uncaught += 1
                print(f"# seed {seed}: an error without a line: {error.diagnostics}")
        except Exception:
            uncaught += 1
            print(f"# seed {seed}: {traceback.format_exc().splitlines()[-1]}")
        took = time.perf_counter() - began
        if took > slowest:
            slowest, slowest_seed = took, seed
    results.add("cases", cases)
    results.add("invalid_share", invalid / cases)
    results.add("uncaught", uncaught)
    results.add("slowest_case_s", slowest, 4)
    results.add("slowest_seed", slowest_seed)
    results.add("cases_per_s", cases / (time.perf_counter() - started), 1)
    results.target("uncaught", "<=", 0)
    results.target("slowest_case_s", "<", 1.0)
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
