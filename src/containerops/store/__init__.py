"""Everything ContainerOps keeps: flows (versioned), runs, state changes, job
attempts and every log line. Logs stay long after containers are gone."""

from containerops.store.db import coops_home, create_db_engine, database_url, migrate
from containerops.store.recorder import Recorder
from containerops.store.store import JobRow, LogRow, NewRun, RunRow, Store, StoreError

__all__ = [
    "JobRow",
    "LogRow",
    "NewRun",
    "Recorder",
    "RunRow",
    "Store",
    "StoreError",
    "coops_home",
    "create_db_engine",
    "database_url",
    "migrate",
]
