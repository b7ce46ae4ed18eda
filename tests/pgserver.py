"""A PostgreSQL server of a test's own: a fresh cluster (Debian's PostgreSQL 15 binaries)
in a temporary folder, listening only on a Unix socket there, stopped and removed after.

PostgreSQL refuses to run as root, so the cluster belongs to ``nobody`` when the tests
run as root (CI does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BIN = Path("/usr/lib/postgresql/15/bin")


def _as_owner(*command: str) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else list(command)


@contextmanager
def postgres_database() -> Iterator[str]:
    """The SQLAlchemy URL of an empty database ``coops`` on a new server."""
    if not (BIN / "postgres").exists():
        pytest.fail(f"PostgreSQL 15 is not installed ({BIN}/postgres is missing): apt-get install postgresql")
    folder = Path(tempfile.mkdtemp(prefix="coops-pg-"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody")
    data, port = folder / "data", "5432"  # the port only names the socket file in ``folder``

    def run(*command: str) -> None:
        subprocess.run(_as_owner(*command), check=True, capture_output=True, timeout=120)

    try:
        run(str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "coops", "--no-sync")
        options = f"-k {folder} -p {port} -c listen_addresses='' -c fsync=off"
        run(str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
        try:
            run(str(BIN / "createdb"), "-h", str(folder), "-p", port, "-U", "coops", "coops")
            yield f"postgresql+psycopg://coops@/coops?host={folder}&port={port}"
        finally:
            run(str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
