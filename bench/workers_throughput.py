#!/usr/bin/env python3
"""Runs per minute through the API when workers run the jobs, and how long a claim takes.

A real ``coops server --workers N --executor dummy`` (N = 1, 2, 4 worker processes of
``--worker-slots`` jobs each) on SQLite (a fresh ``COOPS_HOME``, WAL) and on PostgreSQL
(a fresh cluster of Debian's PostgreSQL 15 on a Unix socket, ``fsync=off`` as in the
tests), and this process as its client, as ``server_throughput.py`` does: ``POST
/api/v1/runs`` of a one-job flow with ``--clients`` requests in flight; the clock runs
from the first request until the store holds every run as ended. Checked: every run and
job ``success``, and every job claimed by one of the server's workers.

Claim latency: ``--claims`` attempts put up, then claimed by 4 threads at once (each
``store.workers.claim`` call timed: ``SELECT ... FOR UPDATE SKIP LOCKED`` and the update
on PostgreSQL, a compare-and-set on SQLite), p50 and p99 in milliseconds.

Targets (issue 12): PostgreSQL claim p99 under 20 ms; PostgreSQL with 4 workers at least
3,000 runs a minute. The figures for every point are series (runs/min against workers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from _benchlib import Results, add_standard_args
from server_throughput import check, flow, free_port, submit_all, wait_ended

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.pgserver starts the PostgreSQL cluster

NAME = "workers_throughput"
TARGET_RUNS_PER_MINUTE = 3000.0
TARGET_CLAIM_P99_MS = 20.0


def start_server(env: dict[str, str], port: int, workers: int, slots: int) -> subprocess.Popen[bytes]:
    args = [
        sys.executable, "-m", "containerops.cli.main", "server", "--executor", "dummy",
        "--port", str(port), "--max-runs", "64", "--log-level", "warning",
        "--workers", str(workers), "--worker-slots", str(slots),
    ]  # fmt: skip
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("coops server --workers did not start")
        time.sleep(0.05)


def wait_workers(store: Any, count: int) -> None:
    from containerops.store.workers import list_workers

    deadline = time.monotonic() + 60
    while len([row for row in list_workers(store) if row.live]) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"{count} workers did not start")
        time.sleep(0.05)


def throughput(url_env: dict[str, str], workers: int, args: argparse.Namespace) -> tuple[float, list[str]]:
    """Runs per minute with ``workers`` workers, and what went wrong."""
    from containerops.store import Store
    from containerops.store import schema as t
    from containerops.store.accounts import create_token, create_user

    env = {**os.environ, **url_env}
    store = Store.open(url_env.get("COOPS_DATABASE_URL"))
    with store.database.begin() as conn:  # every point starts from an empty store
        for table in reversed(t.metadata.sorted_tables):
            conn.execute(table.delete())
    create_user(store, "bench", admin=True)
    token = create_token(store, "bench", "admin")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(env, port, workers, args.slots)
    problems: list[str] = []
    try:
        wait_workers(store, workers)
        headers = {"Authorization": f"Bearer {token}"}
        saved = httpx.post(f"{url}/api/v1/flows", content=json.dumps(flow(1)), headers=headers)
        if saved.status_code != 201:
            raise SystemExit(f"the flow was refused: {saved.text}")
        warm, _ = asyncio.run(submit_all(url, token, 20, 4))
        wait_ended(store, t, len(warm), timeout=120)
        ids, started = asyncio.run(submit_all(url, token, args.runs, args.clients))
        wait_ended(store, t, len(warm) + len(ids), timeout=600)
        seconds = time.perf_counter() - started
        try:
            check(store, t, ids, 1)
        except SystemExit as error:
            problems.append(str(error))
        with store.database.connect() as conn:
            unclaimed = conn.execute(
                sa.select(sa.func.count()).where(
                    t.ready_jobs.c.run_id.in_(ids), t.ready_jobs.c.worker.is_(None)
                )
            ).scalar()
        if unclaimed:
            problems.append(f"{unclaimed} jobs were not run by a worker")
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        store.close()
    return len(ids) / seconds * 60, problems


def claim_latency(url: str | None, claims: int) -> tuple[float, float]:
    """p50 and p99 (ms) of ``claims`` claims by 4 threads at once."""
    from containerops.store import Store
    from containerops.store import workers as queue

    store = Store.open(url)
    try:
        flow_id, version_id, _ = store.save_flow("bench/claims/x", "uri: bench/claims/x\n", "yaml")
        uid = store.create_run(flow_id, version_id, "dummy", {}, []).uid
        for index in range(claims):
            queue.enqueue(store, uid, f"s.a.j{index}", 1, {}, {})
        timings: list[float] = []
        lock = threading.Lock()

        def claimer(name: str) -> None:
            while True:
                started = time.perf_counter()
                got = queue.claim(store, name, {})
                took = (time.perf_counter() - started) * 1000
                if got is None:
                    return
                with lock:
                    timings.append(took)

        threads = [threading.Thread(target=claimer, args=(f"bench-{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        store.close()
    if len(timings) != claims:
        raise SystemExit(f"{len(timings)} claims of {claims} attempts: some claimed twice or never")
    timings.sort()
    return timings[len(timings) // 2], timings[min(len(timings) - 1, round(0.99 * (len(timings) - 1)))]


def main() -> int:
    parser = add_standard_args(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument(
        "--runs", type=int, default=None, help="measured runs a point (default 1,500; quick 100)"
    )
    parser.add_argument("--clients", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--slots", type=int, default=8, help="jobs each worker runs at once (default 8)")
    parser.add_argument("--claims", type=int, default=None, help="claims timed (default 2,000; quick 200)")
    args = parser.parse_args()
    args.runs = args.runs or (100 if args.quick else 1500)
    args.claims = args.claims or (200 if args.quick else 2000)
    from tests.pgserver import postgres_server

    results = Results(NAME)
    counts = [1, 2, 4]
    lines: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="coops-bench-") as home, postgres_server() as server:
        os.environ["COOPS_HOME"] = home
        os.environ.pop("COOPS_DATABASE_URL", None)
        databases = {
            "sqlite": {"COOPS_HOME": home},
            "postgresql": {"COOPS_DATABASE_URL": server.new_database("bench")},
        }
        for kind, env in databases.items():
            for count in counts:
                per_minute, problems = throughput(env, count, args)
                for problem in problems:
                    results.fail(f"{kind}, {count} workers: {problem}")
                lines.setdefault(kind, []).append(round(per_minute, 1))
                results.add(f"{kind}.runs_per_minute.workers_{count}", round(per_minute, 1))
            p50, p99 = claim_latency(env.get("COOPS_DATABASE_URL"), args.claims)
            results.add(f"{kind}.claim_p50_ms", round(p50, 3))
            results.add(f"{kind}.claim_p99_ms", round(p99, 3))
    results.add("load_average_1m", round(os.getloadavg()[0], 2))
    results.target("postgresql.claim_p99_ms", "<", TARGET_CLAIM_P99_MS)
    results.target("postgresql.runs_per_minute.workers_4", ">=", TARGET_RUNS_PER_MINUTE)
    results.add_series(
        "Runs per minute through the API with N workers (dummy executor)",
        x=counts,
        lines=lines,
        xlabel="worker processes",
        ylabel="runs per minute",
    )
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
