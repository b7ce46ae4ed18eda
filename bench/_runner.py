"""bench/run: run every benchmark of bench/ and write bench/results/ (see bench/README.md).

A benchmark is any ``bench/<name>.py`` whose name does not start with ``_``; it is
run as ``python bench/<name>.py [--quick] --json PATH`` and must write that JSON
(see ``_benchlib``). Its output is shown as it comes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _report

HERE = Path(__file__).resolve().parent


def discover(directory: Path) -> list[Path]:
    """Every benchmark script in ``directory``, by name."""
    return sorted(path for path in directory.glob("*.py") if not path.name.startswith("_"))


def select(scripts: list[Path], only: list[str], skip: list[str]) -> list[Path]:
    names = {path.stem for path in scripts}
    unknown = [name for name in [*only, *skip] if name not in names]
    if unknown:
        raise SystemExit(f"error: no benchmark {', '.join(unknown)}; there are: {', '.join(sorted(names))}")
    return [path for path in scripts if (not only or path.stem in only) and path.stem not in skip]


def _follows_convention(entry: dict[str, Any]) -> bool:
    """Targets are ``{metric: {"target": x, "op": "<=", "pass": bool}}`` (a report reads them)."""
    targets = entry.get("targets") or {}
    return isinstance(targets, dict) and all(
        isinstance(t, dict) and {"target", "op", "pass"} <= set(t) for t in targets.values()
    )


def run_one(script: Path, quick: bool, raw_dir: Path, timeout: float) -> dict[str, Any]:
    """Run one benchmark, echoing its output; its JSON plus exit code, seconds and output tail."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    raw = raw_dir / f"{script.stem}.json"
    raw.unlink(missing_ok=True)
    command = [sys.executable, str(script), *(["--quick"] if quick else []), "--json", str(raw)]
    print(f"\n=== {script.stem}: {' '.join(command[1:])}", flush=True)
    begun = time.perf_counter()
    tail: list[str] = []
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=HERE.parent
    )
    assert process.stdout is not None
    deadline = begun + timeout
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        tail = [*tail[-39:], line.rstrip("\n")]
        if time.perf_counter() > deadline:
            process.kill()
            break
    code = process.wait()
    took = time.perf_counter() - begun
    entry: dict[str, Any] = {"benchmark": script.stem}
    if raw.exists():
        entry.update(json.loads(raw.read_text()))
    entry.update(exit_code=code, seconds=round(took, 1), command=" ".join(command[1:]))
    if time.perf_counter() > deadline:
        entry["error"] = f"killed after {timeout:.0f} s"
    elif code == 2:
        entry["error"] = "could not run here: " + " / ".join(tail[-3:])
    elif "results" not in entry:
        entry["error"] = f"exited {code} without writing its JSON: " + " / ".join(tail[-5:])
    elif not _follows_convention(entry):
        entry["error"] = "its JSON does not follow the convention (bench/README.md): " + raw.name
        entry["targets"] = {}
    if "error" in entry:
        entry["output_tail"] = tail
    return entry


def _commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=HERE, check=False
    )
    return done.stdout.strip() or "unknown"


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description=(
            "Run every benchmark in bench/ (each bench/<name>.py not starting with _), then write "
            "bench/results/latest.json, bench/results/report.md and its plots. Exit 0 when every "
            "target holds, 1 otherwise."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="every benchmark's --quick: under two minutes")
    parser.add_argument("--only", default="", help="only these benchmarks (comma-separated names)")
    parser.add_argument("--skip", default="", help="not these benchmarks (comma-separated names)")
    parser.add_argument(
        "--out", type=Path, default=HERE / "results", help="where to write (default: %(default)s)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds a benchmark may take (default: 1800; --quick: 300)",
    )
    args = parser.parse_args(argv)
    split = lambda value: [name.strip() for name in value.split(",") if name.strip()]  # noqa: E731
    scripts = select(discover(HERE), split(args.only), split(args.skip))
    timeout = args.timeout or (300.0 if args.quick else 1800.0)
    raw_dir = args.out / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "commit": _commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_before": _load(),
        },
        "benchmarks": [],
    }
    begun = time.perf_counter()
    for script in scripts:
        summary["benchmarks"].append(run_one(script, args.quick, raw_dir, timeout))
    summary["total_seconds"] = round(time.perf_counter() - begun, 1)
    summary["machine"]["load_after"] = _load()
    report = _report.write(summary, args.out)
    print(f"\n=== {len(scripts)} benchmarks in {summary['total_seconds']:.0f} s; report: {report}")
    for entry in summary["benchmarks"]:
        print(f"    {entry['benchmark']}: {_report.verdict(entry)} ({entry['seconds']:.0f} s)")
    return 0 if all(_report.verdict(entry) == "PASS" for entry in summary["benchmarks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
