#!/usr/bin/env python3
"""Runs completed per minute through the API, on the dummy executor.

A real ``coops server`` process (uvicorn on 127.0.0.1, SQLite in WAL mode in a
fresh ``COOPS_HOME``, ``--executor dummy``) and this process as its client: an
asyncio httpx client that keeps ``--clients`` requests in flight, each
``POST /api/v1/runs`` of a one-job flow (``--jobs`` for more), until ``--runs``
runs are started. The clock runs from the first request until the store holds
every run as ended. The client is another process, so that it does not share
the server's interpreter lock.

Checked: every start answered 202, every run ended ``success`` with all its jobs
``success``. Also reported: the CPU time the server and the client spent per run
(the wall-clock figure depends on what else the machine runs; those much less)
and the 1-minute load average. Prints ``name: value`` lines and PASS/FAIL against the target (at
least 3,000 runs a minute); ``--json PATH`` writes
``{"benchmark", "results", "targets"}``.

Examples::

    .venv/bin/python bench/server_throughput.py --quick
    .venv/bin/python bench/server_throughput.py --runs 5000 --json /tmp/throughput.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from _benchlib import start_server, stop_server

NAME = "server_throughput"
TARGET_RUNS_PER_MINUTE = 3000.0


def flow(jobs: int) -> dict[str, Any]:
    return {
        "uri": "bench/throughput/ci",
        "stages": [
            {"type": "start", "name": "start"},
            {
                "type": "normal",
                "name": "build",
                "actions": [
                    {
                        "name": "unit",
                        "jobs": [
                            {"name": f"job{i}", "endpoint": "containerops/base:busybox"} for i in range(jobs)
                        ],
                    }
                ],
            },
            {"type": "end", "name": "end"},
        ],
    }


async def submit_all(url: str, token: str, runs: int, clients: int) -> tuple[list[int], float]:
    """Start ``runs`` runs with ``clients`` requests in flight; their ids and the first request's time."""
    ids: list[int] = []
    remaining = runs
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60, limits=limits
    ) as client:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                answer = await client.post("/api/v1/runs", json={"flow": "bench/throughput/ci"})
                if answer.status_code != 202:
                    raise SystemExit(f"a start was refused: {answer.status_code} {answer.text}")
                ids.append(int(answer.json()["id"]))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
    return ids, started


def measure(args: argparse.Namespace) -> dict[str, float]:
    from containerops.store import Store
    from containerops.store import schema as t
    from containerops.store.accounts import create_token, create_user

    store = Store.open()
    create_user(store, "bench", admin=True)
    token = create_token(store, "bench", "admin")
    env = {**os.environ}
    env.pop("COOPS_DATABASE_URL", None)
    options = ["--executor", "dummy", "--max-runs", str(args.max_runs), "--log-level", "warning"]
    server, url = start_server(options, env)
    try:
        saved = httpx.post(
            f"{url}/api/v1/flows",
            content=json.dumps(flow(args.jobs)),
            headers={"Authorization": f"Bearer {token}"},
        )
        if saved.status_code != 201:
            raise SystemExit(f"the flow was refused: {saved.text}")
        warm, _ = asyncio.run(submit_all(url, token, args.warmup, min(args.clients, args.warmup) or 1))
        wait_ended(store, t, len(warm), timeout=120)
        server_cpu, client_cpu = process_cpu(server.pid), time.process_time()
        ids, started = asyncio.run(submit_all(url, token, args.runs, args.clients))
        submitted = time.perf_counter()
        client_cpu = time.process_time() - client_cpu  # the client's own work, before polling the store
        ended = wait_ended(store, t, len(warm) + len(ids), timeout=600)
        finished = time.perf_counter()
        server_cpu = process_cpu(server.pid) - server_cpu
        check(store, t, ids, args.jobs)
    finally:
        stop_server(server)
        store.close()
    seconds = finished - started
    return {
        "runs": float(len(ids)),
        "jobs_per_run": float(args.jobs),
        "clients": float(args.clients),
        "max_concurrent_runs": float(args.max_runs),
        "seconds": round(seconds, 3),
        "submit_seconds": round(submitted - started, 3),
        "starts_per_second": round(len(ids) / (submitted - started), 1),
        "runs_per_minute": round(len(ids) / seconds * 60, 1),
        # CPU time per run, which a busy machine inflates far less than the wall clock:
        "server_cpu_ms_per_run": round(server_cpu / len(ids) * 1000, 2),
        "client_cpu_ms_per_run": round(client_cpu / len(ids) * 1000, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "ended": float(ended),
    }


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ended(store: Any, t: Any, count: int, *, timeout: float) -> int:
    """Until ``count`` runs have ended (polled from the store, as any reader would)."""
    deadline = time.monotonic() + timeout
    query = (
        sa.select(sa.func.count()).select_from(t.runs).where(t.runs.c.status.not_in(("pending", "running")))
    )
    while True:
        with store.database.connect() as conn:
            ended = int(conn.execute(query).scalar() or 0)
        if ended >= count:
            return ended
        if time.monotonic() > deadline:
            raise SystemExit(f"only {ended} of {count} runs ended within {timeout:g} s")
        time.sleep(0.01)


def check(store: Any, t: Any, ids: list[int], jobs: int) -> None:
    with store.database.connect() as conn:
        statuses = dict(
            conn.execute(
                sa.select(t.runs.c.status, sa.func.count())
                .where(t.runs.c.id.in_(ids))
                .group_by(t.runs.c.status)
            ).all()
        )
        good_jobs = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.jobs)
            .where(t.jobs.c.run_id.in_(ids), t.jobs.c.status == "success")
        ).scalar()
    if statuses != {"success": len(ids)} or good_jobs != len(ids) * jobs:
        raise SystemExit(f"runs did not all succeed: {statuses}, {good_jobs} jobs succeeded")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 runs instead of 3,000 (a few seconds)")
    parser.add_argument("--runs", type=int, default=None, help="measured runs (default 3,000)")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured runs first (default 50)")
    parser.add_argument("--jobs", type=int, default=1, help="jobs per run (default 1)")
    parser.add_argument("--clients", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--max-runs", type=int, default=64, help="the server's --max-runs (default 64)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results here")
    args = parser.parse_args(argv)
    args.runs = args.runs or (500 if args.quick else 3000)
    if args.runs < 1 or args.jobs < 1 or args.clients < 1 or args.max_runs < 1 or args.warmup < 0:
        parser.error("--runs, --jobs, --clients and --max-runs must be at least 1, --warmup at least 0")
    with tempfile.TemporaryDirectory(prefix="coops-bench-") as home:
        os.environ["COOPS_HOME"] = home
        os.environ.pop("COOPS_DATABASE_URL", None)
        results = measure(args)
    for key, value in results.items():
        print(f"{NAME}.{key}: {value:g}")
    passed = results["runs_per_minute"] >= TARGET_RUNS_PER_MINUTE
    print(f"{NAME}.target.runs_per_minute: >= {TARGET_RUNS_PER_MINUTE:g}")
    if args.json is not None:
        targets = {"runs_per_minute": {"target": TARGET_RUNS_PER_MINUTE, "op": ">=", "pass": passed}}
        args.json.write_text(
            json.dumps({"benchmark": NAME, "results": results, "targets": targets}, indent=2)
        )
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
