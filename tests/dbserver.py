"""What the test suite's database servers (tests/pgserver.py, tests/mariadbserver.py) share:
one server a session holds as many databases as the tests ask for."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import sqlalchemy as sa

SHARED_MEMORY = Path("/dev/shm")


def scratch_folder(prefix: str) -> Path:
    """A new temporary folder for a server's files, in memory when the machine has room
    there: a test's database never outlives the session, and removing a cluster's
    thousands of files from a busy disk took seconds. Readable by ``nobody`` too."""
    memory = SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK)
    roomy = memory and shutil.disk_usage(SHARED_MEMORY).free > 2 * 1024**3
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=SHARED_MEMORY if roomy else None))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody")
    return folder


class DatabaseServer:
    """A running server of the tests' own; ``url`` names one of its databases."""

    #: The database that is always there, to create the others from.
    ADMIN_DATABASE = ""

    def __init__(self) -> None:
        self._names = itertools.count(1)

    def url(self, database: str) -> str:
        raise NotImplementedError

    def new_database(self, name: str | None = None) -> str:
        """Create an empty database (``name`` or the next ``test_N``) and return its URL."""
        name = name or f"test_{next(self._names)}"
        admin = sa.create_engine(self.url(self.ADMIN_DATABASE), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {conn.dialect.identifier_preparer.quote(name)}")
        finally:
            admin.dispose()
        return self.url(name)
