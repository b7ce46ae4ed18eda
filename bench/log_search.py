#!/usr/bin/env python3
"""Searching stored logs: one run of 10,000,000 lines, and a flow's last 100 runs.

A fresh SQLite store (``COOPS_HOME`` in a temporary folder) gets, through the recorder
as a run stores them (compressed blocks), two sets of lines like a build's output
(``compiling module 123 of a job that prints a lot``), with rare known needles:

- ``one_run``: one run of ``--lines`` lines (10,000,000; ``--quick`` 1,000,000);
- ``flow``: ``--runs`` runs (100; ``--quick`` 20) of one flow, together as many lines.

Then, ``--repeat`` times (3), each figure's median, :func:`search_run` (what ``coops logs
--grep`` and ``/api/v1/runs/{id}/logs?q=`` call) and the newest runs of the flow searched
one after another (what ``/api/v1/logs?q=&flow=`` does):

- ``one_run_literal_seconds``: a literal (``data race``); target < 1 s;
- ``one_run_regex_seconds``: ``(?i)panic|data race``; target < 1 s;
- ``flow_seconds``: ``(?i)panic|data race`` over the flow's runs; target < 2 s.

Checked: every search finds exactly the needles put there.

    .venv/bin/python bench/log_search.py --quick
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from _benchlib import BenchError, Results, add_standard_args, median, run_in_home

from containerops.store import Store
from containerops.store.logsearch import compile_pattern, search_run

LINES, QUICK_LINES = 10_000_000, 1_000_000
RUNS, QUICK_RUNS = 100, 20
TARGET_ONE_RUN_SECONDS = 1.0
TARGET_FLOW_SECONDS = 2.0
#: A needle every this many lines.
EVERY = 1_000_003
BATCH = 20_000


def store_run(store: Store, uri: str, lines: int, needles: list[int]) -> int:
    """A run of one job that printed ``lines`` lines; the line numbers in ``needles`` say
    ``PANIC: data race``."""
    flow_id, version_id, _ = store.save_flow(uri, "x", "yaml")
    new = store.create_run(flow_id, version_id, "dummy", {}, [("build.compile.all", None)])
    job_id = new.job_ids["build.compile.all"]
    recorder = store.recorder(new.id)
    marked = set(needles)
    now = datetime.now(UTC)
    for start in range(0, lines, BATCH):
        end = min(lines, start + BATCH)
        texts = [f"compiling module {n} of a job that prints a lot" for n in range(start, end)]
        for n in marked.intersection(range(start, end)):
            texts[n - start] = f"PANIC: data race in module {n}"
        count = end - start
        recorder.log_batch(job_id, 1, start + 1, [now] * count, ["stdout"] * count, texts)
        recorder.flush(wait=False)
    recorder.run("success", now, finished_at=now)
    recorder.flush()
    return new.id


def timed_search(store: Store, run_ids: list[int], pattern: str, expected: int) -> float:
    compiled = compile_pattern(pattern)
    begun = time.perf_counter()
    found = 0
    for run_id in run_ids:
        rows, more = search_run(store, run_id, compiled, limit=1000)
        found += len(rows)
        if more is not None:
            raise BenchError(f"search of run {run_id} stopped at its limit")
    took = time.perf_counter() - begun
    if found != expected:
        raise BenchError(f"{pattern!r}: found {found} lines, {expected} were put there")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=None, help=f"lines of the big run (default {LINES:,})")
    parser.add_argument("--runs", type=int, default=None, help=f"runs of the flow (default {RUNS})")
    parser.add_argument("--repeat", type=int, default=3, help="searches per figure (default 3)")
    args = add_standard_args(parser).parse_args()
    lines = args.lines or (QUICK_LINES if args.quick else LINES)
    runs = args.runs or (QUICK_RUNS if args.quick else RUNS)
    if lines < 1000 or runs < 1 or args.repeat < 1:
        print("error: --lines at least 1000, --runs and --repeat at least 1", file=sys.stderr)
        return 2
    results = Results("log_search")
    results.add("lines", lines)
    results.add("flow_runs", runs)

    def body(home: Path) -> None:
        store = Store.open()
        needles = list(range(7, lines, EVERY))
        begun = time.perf_counter()
        big = store_run(store, "bench/search/big", lines, needles)
        results.add("store_lines_per_second", lines / (time.perf_counter() - begun), 0)
        per_run = lines // runs
        flow_runs = [store_run(store, "bench/search/flow", per_run, [per_run // 2]) for _ in range(runs)]
        literal = [timed_search(store, [big], "data race", len(needles)) for _ in range(args.repeat)]
        regex = [timed_search(store, [big], "(?i)panic|data race", len(needles)) for _ in range(args.repeat)]
        newest = flow_runs[::-1]
        flow = [timed_search(store, newest, "(?i)panic|data race", runs) for _ in range(args.repeat)]
        store.close()
        results.add("one_run_literal_seconds", median(literal), 3)
        results.add("one_run_regex_seconds", median(regex), 3)
        results.add("flow_seconds", median(flow), 3)
        results.add("stored_mib", sum(p.stat().st_size for p in home.glob("containerops.db*")) / 2**20, 1)
        results.target("one_run_literal_seconds", "<", TARGET_ONE_RUN_SECONDS)
        results.target("one_run_regex_seconds", "<", TARGET_ONE_RUN_SECONDS)
        results.target("flow_seconds", "<", TARGET_FLOW_SECONDS)

    return run_in_home(results, "coops-bench-search-", body, args.json)


if __name__ == "__main__":
    sys.exit(main())
