#!/usr/bin/env python3
"""ContainerOps against a peer, Prefect 3: time per task of 40 tasks that each start
the same short process (``true``), in sequence and fanned out.

- ``coops``: a flow of 40 jobs with ``command: [true]`` on the local executor
  (sequence: one action of 40 jobs; fanout: one parallel stage of 40 one-job
  actions), run in-process (``parse_flow`` + ``Engine.prepare`` + ``Engine.run``)
  with a SQLite store, as ``coops run --executor local`` does once it has started;
- ``prefect``: a Prefect 3 ``@flow`` calling a ``@task`` that runs
  ``subprocess.run(["true"])`` 40 times (sequence) or ``.submit()``-ing it 40 times
  (fanout, Prefect's default thread-pool task runner), in a long-lived process of
  its own (``bench/_prefect_side.py``) so that its start-up is not counted either;
- ``cli`` (not with ``--quick``): ``coops run FILE --executor local --json`` as a
  subprocess, interpreter start-up and imports included, for information.

Prefect is installed by this script into ``bench/.venv-prefect`` (git-ignored)
from PyPI the first time (about a minute). It runs locally: PREFECT_API_URL and
PREFECT_API_KEY unset (ephemeral mode: a temporary server on 127.0.0.1, started by
the first flow and not counted), PREFECT_HOME in a temporary folder, telemetry off
(DO_NOT_TRACK=1, PREFECT_SERVER_ANALYTICS_ENABLED=false): nothing leaves this machine.

Rounds alternate the sides (rotating order) after one warm-up round (none with
``--quick``), each flow after a pause of ``--settle`` seconds (1, not counted: Prefect's
server goes on working after a flow returns, and that work would land in the next
side's time on a 2-core machine); medians are quoted. Target: Prefect's time per
task at least 10x ContainerOps' (``speedup``).

Examples::

    .venv/bin/python bench/peer_prefect.py
    .venv/bin/python bench/peer_prefect.py --quick --json /tmp/prefect.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from _benchlib import BenchError, Results, add_standard_args, alternate, median, paired_ratio

from containerops.engine import Engine
from containerops.executors.local import LocalExecutor
from containerops.model.loader import parse_flow
from containerops.store import Store

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-prefect"
SIDE = HERE / "_prefect_side.py"
REQUIREMENT = "prefect>=3,<4"
COOPS = Path(sys.executable).with_name("coops")
SHAPES = ("sequence", "fanout")
TARGET_SPEEDUP = 10.0
ROUNDS, QUICK_ROUNDS = 5, 2


def flow_text(shape: str, tasks: int) -> str:
    out = [
        f"uri: bench/peer/{shape}",
        "version: 1",
        "stages:",
        "  - {type: start, name: start}",
        "  - type: normal",
        "    name: work",
        f"    sequencing: {'parallel' if shape == 'fanout' else 'sequence'}",
        "    actions:",
    ]
    job = "endpoint: 'containerops/base:busybox', command: ['true']"
    if shape == "fanout":
        out += [f"      - {{name: a{n:02d}, jobs: [{{name: t, {job}}}]}}" for n in range(tasks)]
    else:
        out += ["      - name: tasks", "        jobs:"]
        out += [f"          - {{name: t{n:02d}, {job}}}" for n in range(tasks)]
    out.append("  - {type: end, name: end}")
    return "\n".join(out) + "\n"


def prefect_python() -> Path:
    return VENV / "bin" / "python"


def ensure_prefect(results: Results) -> None:
    """Install Prefect 3 into its own virtualenv, once; record how long that took."""
    python = prefect_python()
    check = [str(python), "-c", "import prefect, sys; sys.exit(not prefect.__version__.startswith('3.'))"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return
    print(f"# installing {REQUIREMENT} into {VENV} (once)", flush=True)
    begun = time.perf_counter()
    shutil.rmtree(VENV, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", REQUIREMENT],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchError(f"installing Prefect failed ({' '.join(step[:4])}...): {done.stderr[-800:]}")
    results.add("prefect.install_seconds", time.perf_counter() - begun, 1)


def prefect_env(home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PREFECT_") and key not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env.update(
        PREFECT_HOME=str(home),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_ALLOW_EPHEMERAL_MODE="true",
        # Prefect's own default (20 s) is too short for its server on a busy 2-core machine.
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
    )
    return env


class PrefectSide:
    """The long-lived Prefect process: one flow run per request."""

    def __init__(self, home: Path, tasks: int) -> None:
        self.log_path = home / "prefect-side.log"
        self._log: IO[str] = self.log_path.open("w")
        self.process = subprocess.Popen(
            [str(prefect_python()), str(SIDE), str(tasks)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=prefect_env(home / "prefect-home"),
            cwd=home,
        )
        self.tasks = tasks

    def run(self, shape: str) -> float:
        """Run one flow; its own time, measured inside the Prefect process."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(shape + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            tail = self.log_path.read_text()[-1500:]
            raise BenchError(f"prefect: the process ended ({self.process.poll()}): {tail}")
        reply: dict[str, Any] = json.loads(answer)
        if not reply.get("ok") or reply.get("tasks") != self.tasks:
            raise BenchError(f"prefect: the {shape} flow did not succeed: {reply}")
        return float(reply["seconds"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


class CoopsSide:
    def __init__(self, home: Path, tasks: int) -> None:
        os.environ.pop("COOPS_DATABASE_URL", None)
        os.environ["COOPS_HOME"] = str(home / "coops-home")
        self.store = Store.open()
        self.tasks = tasks
        self.files: dict[str, Path] = {}
        for shape in SHAPES:
            path = home / f"{shape}.yaml"
            path.write_text(flow_text(shape, tasks))
            self.files[shape] = path

    def run(self, shape: str) -> float:
        """parse + prepare + run in this process, as one `coops run` does after start-up."""
        text = self.files[shape].read_text()
        begun = time.perf_counter()
        loaded = parse_flow(text, str(self.files[shape]))
        engine = Engine(self.store, LocalExecutor())
        engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)
        state = asyncio.run(engine.run())
        took = time.perf_counter() - begun
        bad = [js.path for js in state.jobs.values() if js.status != "success"]
        if state.status != "success" or len(state.jobs) != self.tasks or bad:
            why = f"{state.status} ({state.reason}); not ok: {bad[:3]}"
            raise BenchError(f"coops: the {shape} run ended {why}")
        stored = self.store.get_run(state.id)
        if stored.status != "success" or sum(job.status == "success" for job in stored.jobs) != self.tasks:
            raise BenchError(f"coops: the store does not hold the {shape} run as a success")
        return took

    def cli(self, shape: str) -> float:
        command = [str(COOPS), "run", str(self.files[shape]), "--executor", "local", "--json"]
        begun = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        took = time.perf_counter() - begun
        if done.returncode != 0:
            raise BenchError(f"cli: coops run exited {done.returncode}: {done.stderr[-500:]}")
        document = json.loads(done.stdout)
        if document["status"] != "success" or len(document["jobs"]) != self.tasks:
            raise BenchError(f"cli: the {shape} run ended {document['status']}")
        return took


def settled(run: Callable[[str], float], shape: str, pause: float) -> Callable[[], float]:
    """A side that first lets the machine settle (not measured).

    Prefect's temporary server goes on working (events, task-run records) for a
    while after a flow returns; on two cores that work would land in whichever side
    runs next. Both sides get the same pause.
    """

    def side() -> float:
        time.sleep(pause)
        return run(shape)

    return side


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(
            "Time per task of ContainerOps (local executor) against Prefect 3 (installed into "
            "bench/.venv-prefect, local ephemeral mode, telemetry off), 40 tasks each starting `true`, "
            f"in sequence and fanned out. Target: Prefect / coops >= {TARGET_SPEEDUP:g} per task."
        )
    )
    parser.add_argument("--tasks", type=int, default=40, help="tasks per flow (default: %(default)s)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help=f"measured rounds (default: {ROUNDS}; --quick: {QUICK_ROUNDS})",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=1.0,
        help="seconds of pause before each measured flow, not counted (default: %(default)s)",
    )
    parser.add_argument(
        "--target-speedup",
        type=float,
        default=TARGET_SPEEDUP,
        help="the target: Prefect's time per task over ours, at least (default: %(default)s)",
    )
    return add_standard_args(parser)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    if args.tasks < 1 or rounds < 1:
        print("error: --tasks and --rounds must be at least 1", file=sys.stderr)
        return 2
    if shutil.which("true") is None:
        print("error: no `true` command on PATH", file=sys.stderr)
        return 2
    results = Results("peer_prefect")
    home = Path(tempfile.mkdtemp(prefix="coops-bench-peer-"))
    prefect: PrefectSide | None = None
    try:
        ensure_prefect(results)
        prefect = PrefectSide(home, args.tasks)
        coops = CoopsSide(home, args.tasks)
        begun = time.perf_counter()
        prefect.run("sequence")  # starts Prefect's temporary server: not counted in the rounds
        results.add("prefect.first_flow_seconds", time.perf_counter() - begun, 2)
        results.add("tasks", args.tasks)
        results.add("rounds", rounds)
        for shape in SHAPES:
            runs: dict[str, Callable[[str], float]] = {"coops": coops.run, "prefect": prefect.run}
            if not args.quick:
                runs["cli"] = coops.cli
            sides = {name: settled(run, shape, args.settle) for name, run in runs.items()}
            print(f"# {shape}: seconds per flow of {args.tasks} tasks", flush=True)
            times = alternate(sides, rounds, warmup=0 if args.quick else 1)
            for name, values in times.items():
                results.add(f"{shape}.{name}.ms_per_task", median(values) * 1000 / args.tasks, 2)
            speedup = median(times["prefect"]) / median(times["coops"])
            results.add(f"{shape}.speedup", speedup, 1)
            results.add(f"{shape}.speedup_paired_median", paired_ratio(times["prefect"], times["coops"]), 1)
            results.target(f"{shape}.speedup", ">=", args.target_speedup)
        coops.store.close()
    except BenchError as error:
        results.fail(str(error))
    finally:
        if prefect is not None:
            prefect.close()
        shutil.rmtree(home, ignore_errors=True)
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
