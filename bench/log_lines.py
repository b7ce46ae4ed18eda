#!/usr/bin/env python3
"""Log lines: how fast a chatty job's lines reach SQLite, and how late a follower sees them.

One job prints 1,000,000 lines (``--lines``); ``coops run`` runs it as a real
process, and a real ``coops logs RUN -f`` process follows the run from the start.
The job is a small Python program (``python3`` on this machine for the local
executor, ``containerops/base:python`` for docker: the same clock, the same kernel)
that prints ``first <unix time>``, then the lines, then ``last <N> <unix time>``.
The benchmark reads the follower's output and notes when ``last`` shows up.

Two modes per executor:

- ``burst``: the job prints as fast as it can (a few hundred ms for a million
  lines); ``lines_per_second`` = lines / (``last`` seen by the follower - ``first``
  printed): the rate at which lines are stored *and* visible to a reader,
  the follower's polling included. (``burst_delay_ms`` is reported too: it is the
  backlog that a faster-than-the-store producer leaves.)
- ``paced``: the job prints at the target rate (200,000 lines/s, in 100 slices a
  second); ``delay_ms`` = ``last`` seen by the follower - ``last`` printed: what a
  user watching a job that prints a lot, at a rate the store sustains, waits for
  its newest line.

With docker, each burst run alternates with the baseline ``docker run --rm IMAGE
python3 -c JOB | wc -l`` (the same job; its output counted in large blocks): its
lines/s from ``first`` printed to the end of the output (``run_wc_lines_per_second``,
and with the container's start, ``..._with_start``); ``ratio_to_docker_run`` is the
median of each round's ratio (target >= 0.8).

Checked: the run succeeded, the store holds every line once (count and the last
one), and the follower printed every line. Targets (each executor): at least
200,000 lines/s and a delay under 250 ms.

Examples::

    .venv/bin/python bench/log_lines.py
    .venv/bin/python bench/log_lines.py --quick --executors local --json /tmp/logs.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from _benchlib import BenchError, Results, add_standard_args, alternate, median

from containerops.store import Store
from containerops.store import schema as t
from containerops.store.logs import line_count, raw_log_lines

COOPS = Path(sys.executable).with_name("coops")
IMAGE = "containerops/base:python"
LINES, QUICK_LINES = 1_000_000, 100_000
TARGET_RATE = 200_000.0
TARGET_DELAY_MS = 250.0
#: Docker jobs: lines stored per second at least this share of what `docker run | wc -l` moves.
TARGET_RATIO = 0.8
EXECUTORS = ("local", "docker")

#: The job: ``first T``, N-2 numbered lines, ``last N T``; paced (lines/s) when RATE > 0.
JOB = r"""
import sys, time
n, rate = int(sys.argv[1]), float(sys.argv[2])
write, flush = sys.stdout.write, sys.stdout.flush
write(f"first {time.time():.6f}\n")
flush()
slices = max(1, int(rate / 100)) if rate else 10000
begun = time.monotonic()
done = 1
while done < n - 1:
    upto = min(n - 1, done + slices)
    write("".join([f"line {i} of a job that prints a lot\n" for i in range(done, upto)]))
    done = upto
    if rate:
        flush()
        wait = begun + done / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
flush()
write(f"last {n} {time.time():.6f}\n")
flush()
"""


def flow_text(executor: str, lines: int, rate: float) -> str:
    command = json.dumps(["python3", "-c", JOB, str(lines), str(rate)])
    return (
        f"uri: bench/logs/{executor}\n"
        "stages:\n"
        "  - {type: start, name: start}\n"
        "  - type: normal\n"
        "    name: logs\n"
        "    actions:\n"
        "      - name: chatty\n"
        "        jobs:\n"
        f"          - {{name: job, endpoint: '{IMAGE}', command: {command}}}\n"
        "  - {type: end, name: end}\n"
    )


class Follower:
    """A ``coops logs RUN -f`` process; notes when its ``first`` and ``last`` lines appear."""

    def __init__(self, ref: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [str(COOPS), "logs", ref, "-f"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.lines = 0
        self.first_seen: float | None = None
        self.last_seen: float | None = None
        self.last_line = b""
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        tail = b""
        while True:
            block = os.read(fd, 1 << 20)
            if not block:
                break
            now = time.time()
            self.lines += block.count(b"\n")
            if self.first_seen is None and b"] first " in block:
                self.first_seen = now
            if b"] last " in tail[-200:] + block:
                self.last_seen = now
            tail = (tail + block)[-400:]
        self.last_line = tail.rstrip(b"\n").rpartition(b"\n")[2]

    def wait(self, timeout: float) -> None:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise BenchError(f"coops logs -f did not end within {timeout:.0f} s after the run") from None
        self._thread.join(timeout)
        if self.process.returncode != 0:
            assert self.process.stderr is not None
            raise BenchError(
                f"coops logs -f exited {self.process.returncode}: {self.process.stderr.read()!r}"
            )


def wait_for_run(store: Store, uri: str, deadline: float) -> None:
    """Until ``coops run`` has created the run (the follower needs it to exist)."""
    query = sa.select(sa.func.count()).select_from(t.runs)
    while time.monotonic() < deadline:
        with store.database.connect() as conn:
            if conn.execute(query).scalar():
                return
        time.sleep(0.005)
    raise BenchError(f"coops run did not create its run of {uri} in time")


def measure(executor: str, lines: int, rate: float) -> dict[str, float]:
    """One run of the job under ``coops run`` with a follower; the figures of that run."""
    home = Path(tempfile.mkdtemp(prefix="coops-bench-logs-"))
    try:
        env = {**os.environ, "COOPS_HOME": str(home / "home")}
        env.pop("COOPS_DATABASE_URL", None)
        os.environ["COOPS_HOME"] = env["COOPS_HOME"]
        store = Store.open()  # created first, so that neither process migrates under the other
        flow = home / "logs.yaml"
        flow.write_text(flow_text(executor, lines, rate))
        command = [str(COOPS), "run", str(flow), "--executor", executor, "--json"]
        if executor == "docker":
            command += ["--network", "host"]
        begun = time.monotonic()
        runner = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            wait_for_run(store, f"bench/logs/{executor}", begun + 60)
            follower = Follower(f"bench/logs/{executor}#1", env)
            out, errors = runner.communicate(timeout=600)
        finally:
            if runner.poll() is None:
                runner.kill()
        if runner.returncode != 0:
            raise BenchError(f"{executor}: coops run exited {runner.returncode}: {errors.decode()[-800:]}")
        follower.wait(60)
        document = json.loads(out)
        if document["status"] != "success":
            raise BenchError(f"{executor}: the run ended {document['status']}: {document.get('reason')}")
        run_id = int(document["id"])
        stored = line_count(store, run_id)
        newest = raw_log_lines(store, run_id, tail=1)[1][0][5]
        first = store.log_lines(run_id, limit=1)[0].line
        store.close()
        if stored != lines or not str(newest).startswith(f"last {lines} "):
            raise BenchError(
                f"{executor}: the store holds {stored} lines (want {lines}), the newest {newest!r}"
            )
        if follower.lines != lines or follower.last_seen is None or follower.first_seen is None:
            raise BenchError(f"{executor}: the follower printed {follower.lines} of {lines} lines")
        printed_first = float(first.split()[1])
        printed_last = float(str(newest).split()[2])
        return {
            "rate": lines / (follower.last_seen - printed_first),
            "delay_ms": (follower.last_seen - printed_last) * 1000,
            "print_seconds": printed_last - printed_first,
            "run_seconds": time.monotonic() - begun,
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def docker_run_wc(lines: int) -> dict[str, float]:
    """The baseline: ``docker run --rm IMAGE python3 -c JOB`` with its output counted as
    ``| wc -l`` would (read in large blocks, newlines counted), the same job and image."""
    command = ["docker", "run", "--rm", "--network", "host", IMAGE, "python3", "-c", JOB, str(lines), "0"]
    begun = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    fd, count, head = process.stdout.fileno(), 0, b""
    while block := os.read(fd, 1 << 20):
        count += block.count(b"\n")
        if len(head) < 64:
            head += block[:64]
    ended = time.time()
    if process.wait(60) != 0 or count != lines:
        raise BenchError(f"docker run | wc -l: exit {process.returncode}, {count} of {lines} lines")
    printed_first = float(head.split(b"\n", 1)[0].split()[1])
    return {"rate": lines / (ended - printed_first), "with_start": lines / (ended - begun)}


def against_docker_run(lines: int, repeat: int) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Burst runs of the docker executor and of ``docker run | wc -l``, alternating."""
    ours: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []

    def coops() -> float:
        ours.append(measure("docker", lines, 0))
        return ours[-1]["rate"]

    def docker_run() -> float:
        theirs.append(docker_run_wc(lines))
        return theirs[-1]["rate"]

    alternate({"coops": coops, "docker_run": docker_run}, repeat)
    return ours, theirs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(
            "Lines per second from a chatty job into SQLite (and to `coops logs -f`), and the delay from "
            "the last line printed to the last line a follower shows, with the local and docker "
            f"executors. Targets: >= {TARGET_RATE:,.0f} lines/s, < {TARGET_DELAY_MS:g} ms."
        )
    )
    parser.add_argument(
        "--lines", type=int, default=None, help=f"lines (default {LINES:,}; --quick {QUICK_LINES:,})"
    )
    parser.add_argument(
        "--executors",
        default=",".join(EXECUTORS),
        help="which executors, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs per mode and executor, median quoted (default 1: a million lines take a while)",
    )
    parser.add_argument(
        "--pace", type=float, default=TARGET_RATE, help="lines/s of the paced mode (default: %(default)s)"
    )
    return add_standard_args(parser)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    lines = args.lines or (QUICK_LINES if args.quick else LINES)
    repeat = args.repeat or 1
    executors = [name.strip() for name in args.executors.split(",") if name.strip()]
    if lines < 3 or repeat < 1 or not executors or any(name not in EXECUTORS for name in executors):
        print(f"error: --lines at least 3, --repeat at least 1, executors among {EXECUTORS}", file=sys.stderr)
        return 2
    if "local" in executors and shutil.which("python3") is None:
        print("error: the local executor's job needs python3 on PATH", file=sys.stderr)
        return 2
    results = Results("log_lines")
    results.add("lines", lines)
    try:
        for executor in executors:
            if executor == "docker":
                try:
                    done = subprocess.run(
                        ["docker", "image", "inspect", IMAGE], capture_output=True, check=False, timeout=60
                    )
                except subprocess.TimeoutExpired:
                    results.fail("docker: the Docker Engine did not answer within 60 s")
                    continue
                if done.returncode != 0:
                    results.fail(f"docker: image {IMAGE} missing (coops images build-base)")
                    continue
            if executor == "docker":  # against `docker run | wc -l`, rounds alternating
                burst, baseline = against_docker_run(lines, repeat)
                results.add("docker.run_wc_lines_per_second", median([r["rate"] for r in baseline]), 0)
                results.add(
                    "docker.run_wc_lines_per_second_with_start",
                    median([r["with_start"] for r in baseline]),
                    0,
                )
                ratios = [ours["rate"] / theirs["rate"] for ours, theirs in zip(burst, baseline, strict=True)]
                results.add("docker.ratio_to_docker_run", median(ratios), 3)
                results.target("docker.ratio_to_docker_run", ">=", TARGET_RATIO)
            else:
                burst = [measure(executor, lines, 0) for _ in range(repeat)]
            results.add(f"{executor}.lines_per_second", median([r["rate"] for r in burst]), 0)
            results.add(f"{executor}.burst_delay_ms", median([r["delay_ms"] for r in burst]), 0)
            results.add(f"{executor}.burst_print_seconds", median([r["print_seconds"] for r in burst]), 2)
            results.target(f"{executor}.lines_per_second", ">=", TARGET_RATE)
            paced = [measure(executor, lines, args.pace) for _ in range(repeat)]
            results.add(f"{executor}.delay_ms", median([r["delay_ms"] for r in paced]), 0)
            results.add(f"{executor}.paced_print_seconds", median([r["print_seconds"] for r in paced]), 2)
            results.add(f"{executor}.paced_lines_per_second", median([r["rate"] for r in paced]), 0)
            results.target(f"{executor}.delay_ms", "<", TARGET_DELAY_MS)
    except BenchError as error:
        results.fail(str(error))
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
