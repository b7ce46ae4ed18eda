#!/usr/bin/env python3
"""The engine's own overhead per job, store included, on the dummy executor.

The dummy executor runs nothing, so what is left is the engine: building the
run (``Engine.prepare``: saving the flow, inserting every job row) and running
it (``Engine.run``: asyncio tasks, the executor calls, state bookkeeping and
every batched store write). Each measured run gets a fresh ``COOPS_HOME`` with
an empty SQLite database in WAL mode, exactly as ``coops run`` would use it.

Two shapes of flow, each of N jobs in actions of 100 jobs:

- ``sequence``: one sequence stage, N/100 actions one after another;
- ``parallel``: one parallel stage, N/100 actions side by side.

Every run is checked: the run and every job must have succeeded, and the store
must hold every job, attempt and state change as success. Prints ``name: value``
lines and PASS/FAIL against the target (under 1 ms per job).

Examples::

    .venv/bin/python bench/engine_overhead.py
    .venv/bin/python bench/engine_overhead.py --sizes 100,1000,10000,50000 --repeat 5
    .venv/bin/python bench/engine_overhead.py --sizes 10000 --shapes sequence --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from _benchlib import BenchError, Results, add_standard_args, median

from containerops.engine import Engine, RunState
from containerops.executors import get_executor
from containerops.executors.dummy import DummyExecutor
from containerops.model.loader import LoadResult, parse_flow
from containerops.store import Store
from containerops.store import schema as t
from containerops.store.logs import line_count

#: Its flows go past the 10,000 jobs a flow may have by default.
os.environ.setdefault("COOPS_MAX_JOBS", "100000")
SHAPES = ("sequence", "parallel")
ALLOWED_SIZES = (100, 1000, 10_000, 50_000)
QUICK_SIZES = [100, 1000, 10_000]
DEFAULT_TARGET_MS = 1.0
#: ms per job at the largest size over that at 1,000 jobs: at most this ("linear growth").
GROWTH_TARGET = 2.0
IMAGE = "containerops/base:busybox"  # never pulled: the dummy executor runs nothing


@dataclass(slots=True)
class Timing:
    """One measured run, in seconds."""

    parse: float
    prepare: float
    run: float

    @property
    def engine(self) -> float:
        return self.prepare + self.run


def flow_text(shape: str, size: int, per_action: int, lines: int) -> str:
    """A flow of ``size`` jobs in actions of ``per_action``, as a user would write it."""
    out = [
        f"uri: bench/overhead/{shape}-{size}",
        f"title: Engine overhead, {size} jobs ({shape})",
        "version: 1",
        "stages:",
        "  - {type: start, name: start}",
        "  - type: normal",
        "    name: work",
        f"    sequencing: {shape}",
        "    actions:",
    ]
    env = f", environments: [{{CO_DUMMY_LINES: '{lines}'}}]" if lines else ""
    for first in range(0, size, per_action):
        out.append(f"      - name: a{first // per_action:05d}")
        out.append("        jobs:")
        for number in range(first, min(first + per_action, size)):
            job = f"name: j{number:06d}, endpoint: '{IMAGE}', command: [sh, -c, 'true']{env}"
            out.append(f"          - {{{job}}}")
    out.append("  - {type: end, name: end}")
    return "\n".join(out) + "\n"


def fresh_store(home: Path) -> Store:
    """An empty store in ``home``, opened the way the CLI opens it (COOPS_HOME)."""
    os.environ.pop("COOPS_DATABASE_URL", None)
    os.environ["COOPS_HOME"] = str(home)
    store = Store.open()
    with store.database.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    if str(mode).lower() != "wal":
        raise BenchError(f"the store is not in WAL mode (journal_mode={mode})")
    return store


def count(store: Store, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with store.database.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar() or 0)


def verify(store: Store, state: RunState, executor: DummyExecutor, size: int, lines: int) -> None:
    """Raise BenchError unless the run, every job and the store say success."""
    if state.status != "success":
        raise BenchError(f"run ended {state.status}: {state.reason}")
    bad = [js.path for js in state.jobs.values() if js.status != "success"]
    if len(state.jobs) != size or bad:
        raise BenchError(f"{len(state.jobs)} jobs in the state, {len(bad)} not success (first: {bad[:3]})")
    if len(executor.started) != size or executor.destroyed != size:
        started, destroyed = len(executor.started), executor.destroyed
        raise BenchError(f"the executor started {started} and destroyed {destroyed} of {size} jobs")
    run_id = state.id
    jobs, attempts = t.jobs.c, t.job_attempts.c
    with store.database.connect() as conn:
        run_status = conn.execute(sa.select(t.runs.c.status).where(t.runs.c.id == run_id)).scalar()
    if run_status != "success":
        raise BenchError(f"the store says the run is {run_status}")
    checks = {
        "jobs": (count(store, t.jobs, jobs.run_id == run_id), size),
        "successful jobs": (count(store, t.jobs, jobs.run_id == run_id, jobs.status == "success"), size),
        "attempts": (count(store, t.job_attempts, attempts.run_id == run_id), size),
        "successful attempts": (
            count(store, t.job_attempts, attempts.run_id == run_id, attempts.status == "success"),
            size,
        ),
        "log lines": (line_count(store, run_id), size * lines),
    }
    with store.database.connect() as conn:
        settled = conn.execute(
            sa.select(sa.func.count(sa.distinct(t.state_changes.c.job_id))).where(
                t.state_changes.c.run_id == run_id, t.state_changes.c.status == "success"
            )
        ).scalar()
    checks["jobs with a success state change"] = (int(settled or 0), size)
    wrong = {name: got for name, (got, want) in checks.items() if got != want}
    if wrong:
        detail = ", ".join(f"{name}: {got} (want {checks[name][1]})" for name, got in wrong.items())
        raise BenchError(f"the store does not hold the run as it should: {detail}")


def measure_once(
    text: str, filename: str, size: int, lines: int, profiler: cProfile.Profile | None = None
) -> Timing:
    """Parse, prepare and run the flow once in a fresh store; verify it; return the times."""
    home = Path(tempfile.mkdtemp(prefix="coops-bench-"))
    try:
        store = fresh_store(home)
        try:
            started = time.perf_counter()
            loaded: LoadResult = parse_flow(text, filename)
            parsed = time.perf_counter()
            executor = get_executor("dummy")
            assert isinstance(executor, DummyExecutor)
            engine = Engine(store, executor)
            if profiler is not None:
                profiler.enable()
            begun = time.perf_counter()
            engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)
            prepared = time.perf_counter()
            state = asyncio.run(engine.run())
            finished = time.perf_counter()
            if profiler is not None:
                profiler.disable()
            verify(store, state, executor, size, lines)
            return Timing(parse=parsed - started, prepare=prepared - begun, run=finished - prepared)
        finally:
            store.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def peak_rss_mib() -> float:
    """The process's peak resident set size so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_profile(profiler: cProfile.Profile, sort: str, top: int) -> None:
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats(sort).print_stats(top)


def parse_sizes(value: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes {value!r}: expected numbers like 1000,10000") from None
    wrong = [size for size in sizes if size not in ALLOWED_SIZES]
    if not sizes or wrong:
        allowed = ", ".join(str(size) for size in ALLOWED_SIZES)
        raise argparse.ArgumentTypeError(f"--sizes {value!r}: each size must be one of {allowed}")
    return sorted(set(sizes))


def parse_shapes(value: str) -> list[str]:
    shapes = [part.strip() for part in value.split(",") if part.strip()]
    wrong = [shape for shape in shapes if shape not in SHAPES]
    if not shapes or wrong:
        raise argparse.ArgumentTypeError(f"--shapes {value!r}: choose from {', '.join(SHAPES)}")
    return shapes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(
            "Measure the engine's own overhead per job (prepare + run, SQLite store in WAL mode "
            "included) on the dummy executor, for sequence and parallel flows. Every run is checked "
            "against the store. Target: under 1 ms per job."
        ),
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=None,
        metavar="N[,N...]",
        help=f"flow sizes in jobs, each one of {', '.join(map(str, ALLOWED_SIZES))} "
        "(default: all; with --quick: 100,1000,10000)",
    )
    parser.add_argument(
        "--shapes",
        type=parse_shapes,
        default=list(SHAPES),
        metavar="SHAPE[,SHAPE...]",
        help="sequence: one sequence stage of N/100 actions; parallel: one parallel stage of N/100 actions "
        "(default: sequence,parallel)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="measured runs per case, median quoted (default: 3; --quick: 1)",
    )
    parser.add_argument(
        "--jobs-per-action", type=int, default=100, help="jobs in each action (default: %(default)s)"
    )
    parser.add_argument(
        "--lines",
        type=int,
        default=0,
        help="log lines each dummy job prints; 0 measures the bare engine (default: %(default)s)",
    )
    parser.add_argument(
        "--target-ms",
        type=float,
        default=DEFAULT_TARGET_MS,
        help="the target: ms per job (prepare + run), less than this (default: %(default)s)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the measured runs of each case, run it once more under cProfile (not counted) and "
        "print the top entries",
    )
    parser.add_argument(
        "--profile-sort",
        default="cumulative",
        choices=("cumulative", "tottime", "ncalls"),
        help="how --profile orders the entries (default: %(default)s)",
    )
    parser.add_argument(
        "--profile-top", type=int, default=25, help="how many entries --profile prints (default: %(default)s)"
    )
    return add_standard_args(parser)


def run_case(args: argparse.Namespace, shape: str, size: int, results: Results) -> float:
    """Measure one (shape, size); record its figures; return the median ms per job."""
    text = flow_text(shape, size, args.jobs_per_action, args.lines)
    filename = f"{shape}-{size}.yaml"
    timings = [measure_once(text, filename, size, args.lines) for _ in range(args.repeat)]
    prefix = f"{shape}.{size}"

    def per_job(values: list[float]) -> float:
        return median(values) * 1000 / size

    ms_per_job = per_job([timing.engine for timing in timings])
    results.add(f"{prefix}.ms_per_job", ms_per_job)
    results.add(f"{prefix}.prepare_ms_per_job", per_job([timing.prepare for timing in timings]))
    results.add(f"{prefix}.run_ms_per_job", per_job([timing.run for timing in timings]))
    results.add(f"{prefix}.parse_ms_per_job", per_job([timing.parse for timing in timings]))
    results.add(f"{prefix}.seconds", median([timing.engine for timing in timings]))
    results.add(f"{prefix}.runs", ", ".join(f"{timing.engine * 1000 / size:.3f}" for timing in timings))
    results.add(f"{prefix}.peak_rss_mib_so_far", peak_rss_mib(), 1)
    if args.profile:
        profiler = cProfile.Profile()
        measure_once(text, filename, size, args.lines, profiler)
        print(f"--- profile of prepare + run: {shape}, {size} jobs (sorted by {args.profile_sort}) ---")
        print_profile(profiler, args.profile_sort, args.profile_top)
        sys.stdout.flush()
    return ms_per_job


def growth(per_size: dict[int, float]) -> float:
    """ms per job at the largest size over ms per job at the smallest of at least 1,000 jobs.

    Linear total time keeps this near 1; a cost quadratic in the jobs would make it
    the ratio of the sizes (50 from 1,000 to 50,000). Below 1,000 jobs the fixed
    costs of a run (the flow row, the run row, the executor setup) still show.
    """
    sizes = sorted(size for size in per_size if size >= 1000) or sorted(per_size)
    return per_size[sizes[-1]] / per_size[sizes[0]]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.sizes = args.sizes or QUICK_SIZES
        args.repeat = args.repeat or 1
    args.sizes = args.sizes or list(ALLOWED_SIZES)
    args.repeat = args.repeat or 3
    if args.repeat < 1 or args.jobs_per_action < 1 or args.lines < 0:
        print("error: --repeat and --jobs-per-action must be at least 1, --lines at least 0", file=sys.stderr)
        return 2
    results = Results("engine_overhead")

    home = Path(tempfile.mkdtemp(prefix="coops-bench-open-"))
    try:
        begun = time.perf_counter()
        fresh_store(home).close()
        results.add("store_open_ms", (time.perf_counter() - begun) * 1000, 1)
    finally:
        shutil.rmtree(home, ignore_errors=True)

    per_shape: dict[str, dict[int, float]] = {shape: {} for shape in args.shapes}
    try:
        for size in args.sizes:
            for shape in args.shapes:
                per_shape[shape][size] = run_case(args, shape, size, results)
    except BenchError as error:
        results.fail(f"a run did not succeed: {error}")
        return results.finish(args.json)
    results.add("peak_rss_mib", peak_rss_mib(), 1)
    worst = max(ms for cases in per_shape.values() for ms in cases.values())
    results.add("worst_ms_per_job", worst)
    results.target("worst_ms_per_job", "<", args.target_ms)
    for shape, cases in per_shape.items():
        if len(cases) > 1:
            results.add(f"{shape}.growth", growth(cases))
            results.target(f"{shape}.growth", "<=", GROWTH_TARGET)
    sizes = sorted(args.sizes)
    results.add_series(
        "Engine overhead per job (dummy executor, SQLite store)",
        x=sizes,
        xlabel="jobs in the flow",
        ylabel="ms per job (prepare + run)",
        logx=True,
        lines={shape: [per_shape[shape][size] for size in sizes] for shape in args.shapes},
    )
    results.add_series(
        "Engine time per run (linear growth is a straight line)",
        x=sizes,
        xlabel="jobs in the flow",
        ylabel="seconds (prepare + run)",
        logx=True,
        logy=True,
        lines={shape: [per_shape[shape][size] * size / 1000 for size in sizes] for shape in args.shapes},
    )
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
