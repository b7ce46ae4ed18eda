"""The Prefect side of bench/peer_prefect.py; runs inside bench/.venv-prefect.

A long-lived process, so that the benchmark can alternate rounds between Prefect
and ContainerOps: it reads one command per line from stdin (``sequence`` or
``fanout``), runs that flow once, and answers with one JSON line
``{"seconds": ..., "tasks": N, "ok": true}``. Every task starts the same short
process as the ContainerOps jobs (``true``) and checks its exit code.

Prefect runs locally: PREFECT_API_URL unset, so it starts its own temporary
server on 127.0.0.1 (ephemeral mode) the first time; telemetry is off (the
parent sets DO_NOT_TRACK and PREFECT_SERVER_ANALYTICS_ENABLED).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from prefect import flow, task

TASKS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
COMMAND = ["true"]


@task
def start_process(number: int) -> int:
    return subprocess.run(COMMAND, check=True).returncode + number * 0


@flow
def sequence() -> int:
    return sum(start_process(number) for number in range(TASKS))


@flow
def fanout() -> int:
    futures = [start_process.submit(number) for number in range(TASKS)]
    return sum(future.result() for future in futures)


FLOWS = {"sequence": sequence, "fanout": fanout}


def main() -> None:
    for command in sys.stdin:
        name = command.strip()
        if not name:
            continue
        begun = time.perf_counter()
        try:
            failed = FLOWS[name]()
            ok = failed == 0
        except Exception as error:  # answer, so that the parent can report what broke
            print(json.dumps({"ok": False, "error": repr(error)}), flush=True)
            continue
        took = time.perf_counter() - begun
        print(json.dumps({"ok": ok, "seconds": took, "tasks": TASKS}), flush=True)


if __name__ == "__main__":
    main()
