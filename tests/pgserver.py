"""A PostgreSQL server of a test's own: a fresh cluster (Debian's PostgreSQL 15 binaries)
in a temporary folder, listening only on a Unix socket there, stopped and removed after.

PostgreSQL refuses to run as root, so the cluster belongs to ``nobody`` when the tests
run as root (CI does). One server holds as many databases as the tests ask for: the
store's tests start one a session and take a fresh database from it (``new_database``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.dbserver import DatabaseServer, scratch_folder

BIN = Path("/usr/lib/postgresql/15/bin")


def _as_owner(*command: str) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else list(command)


class PostgresServer(DatabaseServer):
    """A running cluster whose superuser ``coops`` needs no password on its socket."""

    ADMIN_DATABASE = "postgres"

    def __init__(self, folder: Path, port: str, options: str = "") -> None:
        super().__init__()
        self.folder, self.port, self.options = folder, port, options

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection is cut; back once it accepts them."""
        command = [str(BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-o", self.options]
        command += ["-l", str(self.folder / "log"), "-m", "fast", "-w", "restart"]
        done = subprocess.run(_as_owner(*command), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"pg_ctl restart failed: {done.stderr}{done.stdout}"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://coops@/{database}?host={self.folder}&port={self.port}"


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A new cluster; the test FAILS, saying why, when it cannot start."""
    if not (BIN / "postgres").exists():
        pytest.fail(f"PostgreSQL 15 is not installed ({BIN}/postgres is missing): apt-get install postgresql")
    folder = scratch_folder("coops-pg-")
    data, port = folder / "data", "5432"  # the port only names the socket file in ``folder``

    def run(*command: str) -> None:
        done = subprocess.run(_as_owner(*command), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            pytest.fail(
                f"PostgreSQL: {' '.join(command)} failed ({done.returncode}):\n{done.stderr}{done.stdout}"
            )

    try:
        run(str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "coops", "--no-sync")
        options = f"-k {folder} -p {port} -c listen_addresses='' -c fsync=off"
        run(str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
        try:
            yield PostgresServer(folder, port, options)
        finally:
            run(str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_database() -> Iterator[str]:
    """The SQLAlchemy URL of an empty database ``coops`` on a new server."""
    with postgres_server() as server:
        yield server.new_database("coops")
