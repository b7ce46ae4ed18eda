#!/usr/bin/env python3
"""Reading a big log back: ``coops logs RUN`` of a 1,000,000-line job, and ``--tail 100``.

A fresh ``COOPS_HOME`` (SQLite, WAL); ``coops run`` (local executor) runs one job
printing ``--lines`` numbered lines (1,000,000; ``--quick`` 200,000), not timed. Then,
``--repeat`` times (5; ``--quick`` 3), each figure's median:

- ``whole_seconds``: ``coops logs 1`` as a whole process, its output read through a pipe
  to the end (interpreter start-up included). Target < 1.5 s.
- ``tail_ms``: what ``coops logs 1 --tail 100`` does in-process: the query reading the
  index backwards and the rendering (:func:`raw_log_lines`, :func:`render.log_block`).
  Target < 100 ms, whatever the log's size: ``tail_ms_small`` is the same on a 1,000-line
  job for comparison.
- ``tail_process_ms``: ``coops logs 1 --tail 100`` as a whole process, for information
  (it is mostly the interpreter and the CLI's start-up: ``help_process_ms`` is ``coops
  --help`` beside it, see cli_startup.py).

- ``stored_bytes_per_line``: what the million lines added to the SQLite file (database and
  its WAL, against the file before the run), per line; ``raw_bytes_per_line`` is what
  ``seq`` printed. Target: ``size_budget_share`` (stored over 2x the raw bytes plus 8 bytes
  a line) at most 1.

Checked: every printed log has every line, in order; each tail is the last 100 lines.

    .venv/bin/python bench/log_read.py --quick
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from _benchlib import BenchError, Results, add_standard_args, median, run_in_home

from containerops.cli import render
from containerops.store import Store
from containerops.store.logs import raw_log_lines

COOPS = Path(sys.executable).with_name("coops")
LINES, QUICK_LINES = 1_000_000, 200_000
TARGET_WHOLE_SECONDS = 1.5
TARGET_TAIL_MS = 100.0
#: Stored bytes at most 2x the raw bytes plus this many a line.
BUDGET_PER_LINE = 8


def store_bytes(home: Path) -> int:
    """The SQLite database's size on disk, its WAL included."""
    files = [home / "containerops.db", home / "containerops.db-wal"]
    return sum(path.stat().st_size for path in files if path.exists())


def flow(lines: int, name: str) -> str:
    return (
        f"uri: bench/read/{name}\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n"
        f"          - {{name: job, command: [seq, '1', '{lines}']}}\n"
    )


def make_run(home: Path, lines: int, name: str, env: dict[str, str]) -> None:
    path = home / f"{name}.yaml"
    path.write_text(flow(lines, name))
    done = subprocess.run(
        [str(COOPS), "run", str(path), "--executor", "local"], env=env, capture_output=True, timeout=900
    )
    if done.returncode != 0:
        raise BenchError(f"coops run of {lines} lines exited {done.returncode}: {done.stderr[-500:]!r}")


def whole(env: dict[str, str], run: str, lines: int) -> float:
    begun = time.perf_counter()
    done = subprocess.run([str(COOPS), "logs", run], env=env, capture_output=True, timeout=120)
    took = time.perf_counter() - begun
    printed = done.stdout.split(b"\n")
    if done.returncode != 0 or len(printed) != lines + 1 or printed[-2] != f"[s.a.job] {lines}".encode():
        raise BenchError(f"coops logs {run}: exit {done.returncode}, {len(printed) - 1} lines of {lines}")
    return took


def tail_in_process(store: Store, run_id: int, lines: int) -> float:
    begun = time.perf_counter()
    paths, rows = raw_log_lines(store, run_id, tail=100)
    text = render.log_block(rows, paths, with_job=True, timestamps=False)
    took = time.perf_counter() - begun
    expected = "".join(f"[s.a.job] {n}\n" for n in range(lines - 99, lines + 1))
    if text != expected:
        raise BenchError(f"the tail of run {run_id} is not its last 100 lines: {text[:200]!r}")
    return took


def tail_process(env: dict[str, str]) -> float:
    begun = time.perf_counter()
    command = [str(COOPS), "logs", "1", "--tail", "100"]
    done = subprocess.run(command, env=env, capture_output=True, timeout=60)
    took = time.perf_counter() - begun
    if done.returncode != 0 or done.stdout.count(b"\n") != 100:
        raise BenchError(f"coops logs 1 --tail 100: exit {done.returncode}")
    return took


def help_process(env: dict[str, str]) -> float:
    begun = time.perf_counter()
    done = subprocess.run([str(COOPS), "--help"], env=env, capture_output=True, timeout=60)
    if done.returncode != 0:
        raise BenchError(f"coops --help: exit {done.returncode}")
    return time.perf_counter() - begun


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=None, help=f"lines (default {LINES:,})")
    parser.add_argument("--repeat", type=int, default=None, help="measurements per figure (5; --quick 3)")
    args = add_standard_args(parser).parse_args()
    lines = args.lines or (QUICK_LINES if args.quick else LINES)
    repeat = args.repeat or (3 if args.quick else 5)
    if lines < 100 or repeat < 1:
        print("error: --lines at least 100, --repeat at least 1", file=sys.stderr)
        return 2
    results = Results("log_read")
    results.add("lines", lines)

    def body(home: Path) -> None:
        env = dict(os.environ)
        Store.open().close()  # the empty store: its size is not the log's
        empty = store_bytes(home)
        make_run(home, lines, "big", env)
        stored = store_bytes(home) - empty
        raw = sum(len(str(n)) + 1 for n in range(1, lines + 1))
        make_run(home, 1000, "small", env)
        store = Store.open()
        whole_s = [whole(env, "1", lines) for _ in range(repeat)]
        tails = [tail_in_process(store, 1, lines) for _ in range(repeat)]
        small = [tail_in_process(store, 2, 1000) for _ in range(repeat)]
        processes = [tail_process(env) for _ in range(repeat)]
        helps = [help_process(env) for _ in range(repeat)]
        store.close()
        results.add("whole_seconds", median(whole_s), 3)
        results.add("whole_lines_per_second", lines / median(whole_s), 0)
        results.add("tail_ms", median(tails) * 1000, 2)
        results.add("tail_ms_small", median(small) * 1000, 2)
        results.add("tail_process_ms", median(processes) * 1000, 1)
        results.add("help_process_ms", median(helps) * 1000, 1)
        results.add("stored_bytes_per_line", stored / lines, 2)
        results.add("raw_bytes_per_line", raw / lines, 2)
        results.add("size_budget_share", stored / (2 * raw + BUDGET_PER_LINE * lines), 3)
        results.target("size_budget_share", "<=", 1.0)
        results.target("whole_seconds", "<", TARGET_WHOLE_SECONDS)
        results.target("tail_ms", "<", TARGET_TAIL_MS)

    return run_in_home(results, "coops-bench-read-", body, args.json)


if __name__ == "__main__":
    sys.exit(main())
