#!/usr/bin/env python3
"""Runs per minute through the API when workers run the jobs, how long a ready job waits for
its claim, and 10,000 queued runs drained.

Throughput: a real ``coops server --workers N --executor dummy`` (N = 1, 2, 4 worker
processes of ``--slots`` jobs each, ``--max-runs 64``) on SQLite (a fresh ``COOPS_HOME``,
WAL) and on PostgreSQL (a fresh cluster of Debian's PostgreSQL 15 on a Unix socket,
``fsync=off`` as in the tests), and this process as its client, as ``server_throughput.py``
does: ``POST /api/v1/runs`` of a one-job flow with ``--clients`` requests in flight; the
clock runs from the first request until the store holds every run as ended. CPU time per
run of the server process, of its workers and of PostgreSQL's backends is printed as
comments (where the time goes). Checked: every run and job ``success``, and every job
claimed by one of the server's workers.

Claim latency (``claim_wait``): with 2 idle workers of that server, ``--claims`` attempts
put up one at a time (``store.workers.enqueue``, as a run's engine does; 20 ms apart), each
from its row's ``created_at`` (put up) to ``claimed_at`` (a worker's claim committed): what
waking a worker costs (PostgreSQL: LISTEN/NOTIFY; SQLite: the workers' poll), p50 and p99
in milliseconds. ``claim_call``: one ``claim`` call's own time with 4 threads claiming from
a full queue at once, for information.

Drain: ``--drain`` runs (10,000; quick 300) submitted as fast as 16 clients can to the
PostgreSQL server with 4 workers, timed from the first request to the last run ended.

Targets (issue 12): PostgreSQL claim_wait p99 under 20 ms; PostgreSQL with 4 workers at
least 3,000 runs a minute. The 1-minute load average is printed beside every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

import httpx
import sqlalchemy as sa
from _benchlib import Results, add_standard_args, start_server, stop_server
from server_throughput import check, flow, submit_all, wait_ended

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.pgserver starts the PostgreSQL cluster

NAME = "workers_throughput"
TARGET_RUNS_PER_MINUTE = 3000.0
TARGET_CLAIM_P99_MS = 20.0
#: Between two attempts put up when the claim wait is timed (the workers are idle again).
CLAIM_GAP = 0.02


def load() -> float:
    return round(os.getloadavg()[0], 2)


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(n) for n in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_split(server: int, postmaster: int | None) -> dict[str, float]:
    """CPU seconds so far of the server process, its workers and PostgreSQL's backends."""
    split = {"server": _cpu(server), "workers": sum(_cpu(pid) for pid in _children(server))}
    if postmaster is not None:
        split["postgres"] = sum(_cpu(pid) for pid in _children(postmaster))
    return split


class Point:
    """One server with N workers on a database emptied first, its admin token and client."""

    def __init__(self, env: dict[str, str], workers: int, slots: int) -> None:
        from containerops.store import Store
        from containerops.store import schema as t
        from containerops.store.accounts import create_token, create_user

        self.t = t
        self.store = Store.open(env.get("COOPS_DATABASE_URL"))
        with self.store.database.begin() as conn:  # every point starts from an empty store
            for table in reversed(t.metadata.sorted_tables):
                conn.execute(table.delete())
        create_user(self.store, "bench", admin=True)
        self.token = create_token(self.store, "bench", "admin")
        options = ["--executor", "dummy", "--max-runs", "64", "--log-level", "warning"]
        options += ["--workers", str(workers), "--worker-slots", str(slots)]
        self.server, self.url = start_server(options, {**os.environ, **env})
        self.workers = workers

    def __enter__(self) -> Point:
        from containerops.store.workers import list_workers

        deadline = time.monotonic() + 60
        while len([row for row in list_workers(self.store) if row.live]) < self.workers:
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.workers} workers did not start")
            time.sleep(0.05)
        headers = {"Authorization": f"Bearer {self.token}"}
        saved = httpx.post(f"{self.url}/api/v1/flows", content=json.dumps(flow(1)), headers=headers)
        if saved.status_code != 201:
            raise SystemExit(f"the flow was refused: {saved.text}")
        return self

    def __exit__(self, *_: object) -> None:
        stop_server(self.server)
        self.store.close()

    def runs(self, count: int, clients: int, postmaster: int | None) -> tuple[float, list[str]]:
        """Runs per minute of ``count`` runs (after 20 not counted), and what went wrong."""
        t = self.t
        warm, _ = asyncio.run(submit_all(self.url, self.token, 20, 4))
        wait_ended(self.store, t, len(warm), timeout=120)
        before = cpu_split(self.server.pid, postmaster)
        ids, started = asyncio.run(submit_all(self.url, self.token, count, clients))
        wait_ended(self.store, t, len(warm) + len(ids), timeout=3600)
        seconds = time.perf_counter() - started
        for part, value in cpu_split(self.server.pid, postmaster).items():
            print(
                f"# {self.workers} workers: {part} CPU {(value - before[part]) / len(ids) * 1000:.2f} ms/run"
            )
        problems: list[str] = []
        try:
            check(self.store, t, ids, 1)
        except SystemExit as error:
            problems.append(str(error))
        with self.store.database.connect() as conn:
            unclaimed = conn.execute(
                sa.select(sa.func.count()).where(
                    t.ready_jobs.c.run_id.in_(ids), t.ready_jobs.c.worker.is_(None)
                )
            ).scalar()
        if unclaimed:
            problems.append(f"{unclaimed} jobs were not run by a worker")
        return len(ids) / seconds * 60, problems

    def claim_waits(self, claims: int) -> list[float]:
        """Milliseconds from put up to claimed of ``claims`` attempts put up one at a time."""
        from containerops.executors.base import JobSpec
        from containerops.store import workers as queue

        t, store = self.t, self.store
        flow_id, version_id, _ = store.save_flow("bench/claims/x", "uri: bench/claims/x\n", "yaml")
        uid = store.create_run(flow_id, version_id, "dummy", {}, []).uid
        ids = []
        for index in range(claims):
            spec = JobSpec(run_id=uid, path=f"s.a.j{index}", attempt=1, image=None, command=None, env={})
            body = asdict(spec) | {"secret_env": []}
            ids.append(queue.enqueue(store, uid, spec.path, 1, {}, body))
            time.sleep(CLAIM_GAP)
        deadline = time.monotonic() + 60
        while True:
            with store.database.connect() as conn:
                rows = conn.execute(
                    sa.select(t.ready_jobs.c.created_at, t.ready_jobs.c.claimed_at).where(
                        t.ready_jobs.c.id.in_(ids), t.ready_jobs.c.claimed_at.is_not(None)
                    )
                ).all()
            if len(rows) == claims:
                return [(row.claimed_at - row.created_at).total_seconds() * 1000 for row in rows]
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(rows)} of {claims} attempts were claimed within 60 s")
            time.sleep(0.05)


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def claim_calls(url: str | None, claims: int) -> list[float]:
    """Milliseconds of each of ``claims`` ``claim`` calls by 4 threads at once."""
    from containerops.store import Store
    from containerops.store import workers as queue

    store = Store.open(url)
    try:
        flow_id, version_id, _ = store.save_flow("bench/calls/x", "uri: bench/calls/x\n", "yaml")
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
    return timings


def main() -> int:
    parser = add_standard_args(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument(
        "--runs", type=int, default=None, help="measured runs a point (default 1,500; quick 100)"
    )
    parser.add_argument("--clients", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--slots", type=int, default=8, help="jobs each worker runs at once (default 8)")
    parser.add_argument("--claims", type=int, default=None, help="claims timed (default 500; quick 100)")
    parser.add_argument("--drain", type=int, default=None, help="runs drained (default 10,000; quick 300)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="which (default sqlite,postgresql)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts (default 1,2,4)")
    args = parser.parse_args()
    args.runs = args.runs or (100 if args.quick else 1500)
    args.claims = args.claims or (100 if args.quick else 500)
    args.drain = args.drain if args.drain is not None else (300 if args.quick else 10_000)
    counts = [int(n) for n in args.workers.split(",")]
    chosen = args.databases.split(",")
    if not counts or min(counts) < 1 or not set(chosen) <= {"sqlite", "postgresql"}:
        parser.error("--workers: counts of at least 1; --databases: sqlite and/or postgresql")
    from tests.pgserver import postgres_server

    results = Results(NAME)
    lines: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="coops-bench-") as home, postgres_server() as server:
        postmaster = int((server.folder / "data" / "postmaster.pid").read_text().split()[0])
        os.environ["COOPS_HOME"] = home
        os.environ.pop("COOPS_DATABASE_URL", None)
        databases = {
            "sqlite": {"COOPS_HOME": home},
            "postgresql": {"COOPS_DATABASE_URL": server.new_database("bench")},
        }
        for kind in chosen:
            env = databases[kind]
            backends = postmaster if kind == "postgresql" else None
            for count in counts:
                with Point(env, count, args.slots) as point:
                    per_minute, problems = point.runs(args.runs, args.clients, backends)
                for problem in problems:
                    results.fail(f"{kind}, {count} workers: {problem}")
                lines.setdefault(kind, []).append(round(per_minute, 1))
                results.add(f"{kind}.runs_per_minute.workers_{count}", round(per_minute, 1))
                results.add(f"{kind}.runs_per_minute.workers_{count}.load", load())
            with Point(env, 2, args.slots) as point:
                p50, p99 = percentiles(point.claim_waits(args.claims))
            results.add(f"{kind}.claim_wait_p50_ms", round(p50, 2))
            results.add(f"{kind}.claim_wait_p99_ms", round(p99, 2))
            results.add(f"{kind}.claim_wait.load", load())
            p50, p99 = percentiles(claim_calls(env.get("COOPS_DATABASE_URL"), args.claims))
            results.add(f"{kind}.claim_call_p50_ms", round(p50, 2))
            results.add(f"{kind}.claim_call_p99_ms", round(p99, 2))
            if kind == "postgresql" and args.drain:
                with Point(env, 4, args.slots) as point:
                    started = time.perf_counter()
                    per_minute, problems = point.runs(args.drain, args.clients, backends)
                    seconds = time.perf_counter() - started
                for problem in problems:
                    results.fail(f"drain: {problem}")
                results.add("postgresql.drain.runs", args.drain)
                results.add("postgresql.drain.seconds", round(seconds, 1))
                results.add("postgresql.drain.runs_per_minute", round(per_minute, 1))
                results.add("postgresql.drain.load", load())
    if "postgresql.claim_wait_p99_ms" in results.results:
        results.target("postgresql.claim_wait_p99_ms", "<", TARGET_CLAIM_P99_MS)
    if "postgresql.runs_per_minute.workers_4" in results.results:
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
