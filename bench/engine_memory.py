#!/usr/bin/env python3
"""Peak memory of the engine: the ``coops run`` process running a flow of 10,000 jobs.

``coops run FLOW --executor dummy --json`` runs as a child process with a fresh
``COOPS_HOME`` (SQLite); its peak resident set size is the kernel's ``ru_maxrss``
for that child (``os.wait4``), so everything the command does counts: interpreter
and imports, parsing the YAML, the flow model, the run's state, the store's
buffers, the progress lines, the final JSON. The flow is engine_overhead.py's
``sequence`` shape (actions of 100 jobs).

Also measured without ``--quick`` (no target there): 1,000 and 50,000 jobs,
for the curve of memory against flow size. Checked: the run succeeded with every
job. Target: under 200 MB (MiB here) at 10,000 jobs.

Examples::

    .venv/bin/python bench/engine_memory.py
    .venv/bin/python bench/engine_memory.py --quick --json /tmp/memory.json
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

from _benchlib import BenchError, Results, add_standard_args
from engine_overhead import flow_text

#: Its flows go past the 10,000 jobs a flow may have by default.
os.environ.setdefault("COOPS_MAX_JOBS", "100000")
COOPS = Path(sys.executable).with_name("coops")
TARGET_SIZE = 10_000
TARGET_MIB = 200.0


def peak_rss(size: int) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of one ``coops run`` of a ``size``-job flow."""
    home = Path(tempfile.mkdtemp(prefix="coops-bench-memory-"))
    try:
        flow = home / f"flow-{size}.yaml"
        flow.write_text(flow_text("sequence", size, 100, 0))
        env = {**os.environ, "COOPS_HOME": str(home / "home")}
        env.pop("COOPS_DATABASE_URL", None)
        out = home / "out.json"
        begun = time.perf_counter()
        with out.open("wb") as stdout:
            child = subprocess.Popen(
                [str(COOPS), "run", str(flow), "--executor", "dummy", "--json"],
                stdout=stdout,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            _, status, usage = os.wait4(child.pid, 0)
        took = time.perf_counter() - begun
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise BenchError(f"coops run of {size} jobs exited {child.returncode}")
        document = json.loads(out.read_text())
        ok = sum(job["status"] == "success" for job in document["jobs"])
        if document["status"] != "success" or ok != size:
            raise BenchError(f"the {size}-job run ended {document['status']} with {ok} jobs successful")
        return usage.ru_maxrss / 1024, took  # ru_maxrss is in KiB on Linux
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            "Peak RSS of the `coops run` process (dummy executor, SQLite store) running flows of "
            f"1,000, 10,000 and 50,000 jobs. Target: under {TARGET_MIB:g} MiB at {TARGET_SIZE:,} jobs."
        )
    )
    args = add_standard_args(parser).parse_args(argv)
    sizes = [TARGET_SIZE] if args.quick else [1000, TARGET_SIZE, 50_000]
    results = Results("engine_memory")
    peaks: list[float] = []
    try:
        for size in sizes:
            mib, took = peak_rss(size)
            peaks.append(mib)
            results.add(f"{size}.peak_rss_mib", mib, 1)
            results.add(f"{size}.seconds", took, 2)
    except BenchError as error:
        results.fail(str(error))
        return results.finish(args.json)
    results.target(f"{TARGET_SIZE}.peak_rss_mib", "<", TARGET_MIB)
    results.add_series(
        "Peak RSS of coops run (dummy executor)",
        x=sizes,
        xlabel="jobs in the flow",
        ylabel="peak RSS, MiB",
        logx=True,
        lines={"coops run": peaks},
    )
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
