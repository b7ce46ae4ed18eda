"""What every benchmark script shares: the command line, ``name: value`` lines,
targets, the result JSON, and alternating two sides of a comparison.

The convention (see bench/README.md): a benchmark is ``bench/<name>.py``, run as
``.venv/bin/python bench/<name>.py [--quick] [--json PATH]``. It prints
``<name>.<metric>: <value>`` lines and, with ``--json PATH``, writes::

    {"benchmark": name,
     "results": {metric: value, ...},
     "targets": {metric: {"target": x, "op": "<=", "pass": bool}},
     "series": {title: {...}}}          # optional: curves bench/run plots

Exit codes: 0 every target holds, 1 a target missed or a run did not do its work,
2 it cannot run here (bad usage, Docker or an image missing).

Files whose name starts with ``_`` (like this one) are not benchmarks.
"""

from __future__ import annotations

import argparse
import json
import math
import operator
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class BenchError(Exception):
    """A run that did not do its work: its figures would mean nothing."""


def add_standard_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--quick`` and ``--json PATH``, the two options bench/run passes to every benchmark."""
    parser.add_argument(
        "--quick", action="store_true", help="fewer sizes and rounds: a rough figure in seconds"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    return parser


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("the median of no values")
    return float(statistics.median(values))


def ratio(ours: Sequence[float], baseline: Sequence[float]) -> float:
    """Median of ours over median of the baseline (the figure the targets use)."""
    return median(ours) / median(baseline)


def paired_ratio(ours: Sequence[float], baseline: Sequence[float]) -> float:
    """Median of each round's own ratio: steadier when a shared machine drifts."""
    if len(ours) != len(baseline):
        raise ValueError(f"{len(ours)} values against {len(baseline)}: rounds must pair up")
    return median([a / b for a, b in zip(ours, baseline, strict=True)])


def rotation(names: Sequence[str], number: int) -> list[str]:
    """The order of the sides in round ``number``: rotated by one each round, so
    that no side always runs first (on a warm cache) or last (after a busy one)."""
    shift = number % len(names)
    return [*names[shift:], *names[:shift]]


def alternate(
    sides: dict[str, Callable[[], float]],
    rounds: int,
    warmup: int = 0,
    log: Callable[[str], None] | None = print,
) -> dict[str, list[float]]:
    """Run every side once per round, in rotating order; return each side's measured values.

    Each side returns its own measurement (seconds, usually). The first ``warmup``
    rounds are run but not kept.
    """
    if rounds < 1 or warmup < 0 or not sides:
        raise ValueError("at least one side and one round, and no negative warm-up")
    names = list(sides)
    kept: dict[str, list[float]] = {name: [] for name in names}
    for number in range(warmup + rounds):
        order = rotation(names, number)
        took = {name: sides[name]() for name in order}
        measured = number >= warmup
        if log is not None:
            label = f"round {number - warmup + 1}" if measured else f"warm-up {number + 1}"
            log(f"# {label}: " + ", ".join(f"{name} {took[name]:.3f}" for name in order))
        if measured:
            for name in names:
                kept[name].append(took[name])
    return kept


class Results:
    """The figures and targets of one benchmark: printed as they come, written as JSON."""

    def __init__(self, benchmark: str, *, echo: Callable[[str], None] | None = None) -> None:
        self.benchmark = benchmark
        self.results: dict[str, float | int | str] = {}
        self.targets: dict[str, dict[str, Any]] = {}
        self.series: dict[str, dict[str, Any]] = {}
        self.failures: list[str] = []
        self._echo = echo or (lambda line: print(line, flush=True))

    def add(self, metric: str, value: float | int | str, digits: int = 3) -> float | int | str:
        """Record a figure and print ``<benchmark>.<metric>: <value>``."""
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"{metric}: {value} is not a figure")
            value = round(value, digits)
        self.results[metric] = value
        self._echo(f"{self.benchmark}.{metric}: {value}")
        return value

    def target(self, metric: str, op: str, target: float) -> bool:
        """Check a recorded figure against its target; remember whether it held."""
        if op not in OPS:
            raise ValueError(f"unknown comparison {op!r}; one of {', '.join(OPS)}")
        value = self.results.get(metric)
        if not isinstance(value, int | float):
            raise KeyError(f"{metric}: no figure recorded to compare with its target")
        held = OPS[op](float(value), target)
        self.targets[metric] = {"target": target, "op": op, "pass": held}
        return held

    def fail(self, why: str) -> None:
        """A run that did not do its work: the benchmark fails whatever its figures."""
        self.failures.append(why)
        self._echo(f"# {self.benchmark}: {why}")

    def add_series(self, title: str, **curve: Any) -> None:
        """A curve for bench/run to plot: ``x``, ``lines`` ({label: [y...]}), ``xlabel``,
        ``ylabel``, optional ``logx``/``logy``."""
        self.series[title] = curve

    @property
    def passed(self) -> bool:
        return not self.failures and all(entry["pass"] for entry in self.targets.values())

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "benchmark": self.benchmark,
            "results": self.results,
            "targets": self.targets,
        }
        if self.series:
            document["series"] = self.series
        if self.failures:
            document["failures"] = self.failures
        return document

    def write(self, path: Path | None) -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    def finish(self, path: Path | None) -> int:
        """Write the JSON (when asked), print the verdict line; return the exit code."""
        self.write(path)
        missed = [
            f"{metric} {self.results[metric]} (target {entry['op']} {entry['target']})"
            for metric, entry in self.targets.items()
            if not entry["pass"]
        ]
        if self.passed:
            held = ", ".join(
                f"{metric} {self.results[metric]} {entry['op']} {entry['target']}"
                for metric, entry in self.targets.items()
            )
            self._echo(f"{self.benchmark}: PASS ({held or 'no target'})")
            return 0
        self._echo(f"{self.benchmark}: FAIL ({'; '.join(self.failures + missed)})")
        return 1


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    options: Sequence[str], env: dict[str, str], *, timeout: float = 60
) -> tuple[subprocess.Popen[bytes], str]:
    """A ``coops server`` process (``options`` after ``server``; the port is chosen here)
    once its ``/readyz`` answers 200 (its database answers, its workers are started): the
    process and its URL. What it prints goes to a temporary file (a pipe nobody reads would
    fill and stop it and its workers); BenchError with the end of it when the server exits
    or is not ready within ``timeout`` seconds."""
    import httpx  # here: most benchmarks start no server

    port = free_port()
    command = [sys.executable, "-m", "containerops.cli.main", "server", *options, "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as printed:  # the server keeps its own handle of it
        process = subprocess.Popen(command, env=env, stdout=printed, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    return process, url
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        process.kill()
        process.wait()
        printed.seek(0)
        said = printed.read().decode(errors="replace")[-2000:]
    raise BenchError(f"coops server {' '.join(options)} did not start: {said}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop it as Ctrl-C would (its workers with it); killed after 30 s."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_in_home(results: Results, prefix: str, body: Callable[[Path], None], json_path: Path | None) -> int:
    """Run ``body`` with a fresh COOPS_HOME (SQLite, no COOPS_DATABASE_URL), record a
    BenchError as a failure, remove the home, finish the results: the frame every log
    benchmark used to write out by hand."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    saved = {name: os.environ.get(name) for name in ("COOPS_HOME", "COOPS_DATABASE_URL")}
    os.environ["COOPS_HOME"] = str(home)
    os.environ.pop("COOPS_DATABASE_URL", None)
    try:
        body(home)
    except BenchError as error:
        results.fail(str(error))
    finally:
        shutil.rmtree(home, ignore_errors=True)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return results.finish(json_path)
