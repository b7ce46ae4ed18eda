"""A MariaDB server of a test's own: a fresh data folder (Debian's ``mariadb-server``
binaries) in a temporary folder, listening only on a Unix socket there, killed and
removed after.

``--no-defaults`` keeps the machine's /etc/mysql out of it; the character set is the one
Debian's own configuration gives a new server (utf8mb4, case-insensitive collation), so
that the migrations' own choice of a case-sensitive collation is what the tests see.
When the tests run as root (CI does), the server runs as ``nobody``. One server holds as
many databases as the tests ask for (``new_database``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymysql
import pytest

from tests.dbserver import DatabaseServer, scratch_folder

SERVER = Path("/usr/sbin/mariadbd")
INSTALL = Path("/usr/bin/mariadb-install-db")


class MariaDBServer(DatabaseServer):
    """A running server whose ``root`` needs no password on its socket."""

    ADMIN_DATABASE = "mysql"

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.socket = folder / "mariadb.sock"

    def url(self, database: str) -> str:
        return f"mysql+pymysql://root@localhost/{database}?unix_socket={self.socket}&charset=utf8mb4"


def _owner() -> list[str]:
    return ["--user=nobody"] if os.geteuid() == 0 else []


def _wait_until_ready(process: subprocess.Popen[bytes], server: MariaDBServer, log: Path) -> None:
    deadline = time.monotonic() + 60
    problem = "no answer in 60 s"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            problem = f"mariadbd exited with {process.returncode}"
            break
        try:
            pymysql.connect(unix_socket=str(server.socket), user="root", connect_timeout=2).close()
            return
        except pymysql.err.OperationalError as exc:
            problem = f"no answer on {server.socket}: {exc}"
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    pytest.fail(f"MariaDB did not start: {problem}\n{tail}", pytrace=False)


@contextmanager
def mariadb_server() -> Iterator[MariaDBServer]:
    """A new server; the test FAILS, saying why, when it cannot start."""
    for binary in (SERVER, INSTALL):
        if not binary.exists():
            pytest.fail(f"MariaDB is not installed ({binary} is missing): apt-get install mariadb-server")
    folder = scratch_folder("coops-mariadb-")
    data, log = folder / "data", folder / "mariadb.log"
    # Small and unsafe on a crash of the machine, which a test's database never outlives.
    tuning = [
        "--innodb-buffer-pool-size=64M",
        "--innodb-log-file-size=16M",
        "--innodb-flush-log-at-trx-commit=0",
        "--innodb-doublewrite=0",
    ]
    try:
        installed = subprocess.run(
            [
                str(INSTALL),
                "--no-defaults",
                *_owner(),
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                *tuning,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if installed.returncode != 0:
            pytest.fail(
                f"mariadb-install-db failed ({installed.returncode}):\n{installed.stderr}{installed.stdout}"
            )
        server = MariaDBServer(folder)
        process = subprocess.Popen(
            [
                str(SERVER),
                "--no-defaults",
                *_owner(),
                f"--datadir={data}",
                f"--socket={server.socket}",
                "--skip-networking",
                f"--pid-file={folder / 'mariadb.pid'}",
                f"--log-error={log}",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
                *tuning,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_until_ready(process, server, log)
            yield server
        finally:
            process.kill()  # its data goes with the folder: no clean shutdown needed
            process.wait(timeout=30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def mariadb_database() -> Iterator[str]:
    """The SQLAlchemy URL of an empty database ``coops`` on a new server."""
    with mariadb_server() as server:
        yield server.new_database("coops")
