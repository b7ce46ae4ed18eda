#!/usr/bin/env python3
"""The store's side of log lines on each database: how fast the recorder stores them, and
what they take on disk, on SQLite, PostgreSQL and MariaDB.

A run of one job gets ``--lines`` short lines (numbers of up to 7 characters, as ``seq``
prints: 4,000,000; ``--quick`` 500,000) through the recorder, as the engine hands them
over (batches of 20,000, written by its writer thread), then the whole log is read back
once and checked. PostgreSQL and MariaDB are servers of the benchmark's own (the tests'
``tests/pgserver.py`` and ``tests/mariadbserver.py``, in a scratch folder).

- ``<db>.lines_per_second``: lines stored per second (the recorder's flushes, to the end);
- ``<db>.bytes_per_line``: what the log's table (blocks and indexes) takes on disk, per
  line: SQLite's file before and after, PostgreSQL's ``pg_total_relation_size``,
  MariaDB's ``data_length + index_length``; target: at most 2x the raw bytes plus 8 a
  line (``<db>.size_budget_share`` <= 1);
- ``<db>.read_seconds``: the whole log read back (``raw_log_lines``), for information.

    .venv/bin/python bench/log_store.py --quick --databases sqlite,postgresql
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from _benchlib import BenchError, Results, add_standard_args

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' database servers

from containerops.store import Store
from containerops.store.logs import line_count, raw_log_lines

LINES, QUICK_LINES = 4_000_000, 500_000
DATABASES = ("sqlite", "postgresql", "mariadb")
BATCH = 20_000
BUDGET_PER_LINE = 8


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A URL of an empty database of that kind, for as long as the block runs."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    if kind == "postgresql":
        from tests.pgserver import postgres_server

        with postgres_server() as server:
            yield server.new_database("bench")
        return
    from tests.mariadbserver import mariadb_server

    with mariadb_server() as server:
        yield server.new_database("bench")


def table_bytes(store: Store, folder: Path) -> int:
    with store.database.connect() as conn:
        name = conn.dialect.name
        if name == "postgresql":
            return int(conn.exec_driver_sql("SELECT pg_total_relation_size('log_blocks')").scalar() or 0)
        if name in ("mysql", "mariadb"):
            conn.exec_driver_sql("ANALYZE TABLE log_blocks")
            query = sa.text(
                "SELECT data_length + index_length FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name = 'log_blocks'"
            )
            return int(conn.execute(query).scalar() or 0)
    return sum(path.stat().st_size for path in folder.glob("bench.db*"))


def measure(kind: str, lines: int, folder: Path) -> dict[str, float]:
    with database(kind, folder) as url:
        store = Store.open(url)
        try:
            empty = table_bytes(store, folder)
            flow_id, version_id, _ = store.save_flow("bench/store/logs", "x", "yaml")
            new = store.create_run(flow_id, version_id, "dummy", {}, [("s.a.seq", None)])
            job_id = new.job_ids["s.a.seq"]
            recorder = store.recorder(new.id)
            begun = time.perf_counter()
            for start in range(0, lines, BATCH):
                end = min(lines, start + BATCH)
                now = datetime.now(UTC)
                texts = [str(n) for n in range(start + 1, end + 1)]
                count = end - start
                recorder.log_batch(job_id, 1, start + 1, [now] * count, ["stdout"] * count, texts)
                recorder.flush(wait=False)
            recorder.flush()
            stored_in = time.perf_counter() - begun
            if kind == "sqlite":
                with store.database.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            size = table_bytes(store, folder) - empty
            begun = time.perf_counter()
            _, rows = raw_log_lines(store, new.id, limit=lines + 1)
            read_in = time.perf_counter() - begun
            if line_count(store, new.id) != lines or len(rows) != lines or rows[-1][5] != str(lines):
                raise BenchError(f"{kind}: {len(rows)} lines read back of {lines}")
        finally:
            store.close()
    raw = sum(len(str(n)) + 1 for n in range(1, lines + 1))
    return {
        "lines_per_second": lines / stored_in,
        "bytes_per_line": size / lines,
        "raw_bytes_per_line": raw / lines,
        "size_budget_share": size / (2 * raw + BUDGET_PER_LINE * lines),
        "read_seconds": read_in,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=None, help=f"lines (default {LINES:,})")
    parser.add_argument(
        "--databases", default=",".join(DATABASES), help="comma-separated (default: %(default)s)"
    )
    args = add_standard_args(parser).parse_args()
    lines = args.lines or (QUICK_LINES if args.quick else LINES)
    kinds = [name.strip() for name in args.databases.split(",") if name.strip()]
    if lines < 1000 or any(kind not in DATABASES for kind in kinds):
        print(f"error: --lines at least 1000, databases among {DATABASES}", file=sys.stderr)
        return 2
    results = Results("log_store")
    results.add("lines", lines)
    folder = Path(tempfile.mkdtemp(prefix="coops-bench-store-"))
    os.environ.pop("COOPS_DATABASE_URL", None)
    try:
        for kind in kinds:
            figures = measure(kind, lines, folder)
            for name, value in figures.items():
                results.add(f"{kind}.{name}", value, 3 if "share" in name or "seconds" in name else 2)
            results.target(f"{kind}.size_budget_share", "<=", 1.0)
    except BenchError as error:
        results.fail(str(error))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
