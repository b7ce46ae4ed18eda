"""Everything ContainerOps keeps: flows (versioned), runs, state changes, job
attempts and every log line. Logs stay long after containers are gone.

The names below load their module (and SQLAlchemy) on first use, not when the
package is imported: ``coops --help`` and the row types need none of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from containerops.home import coops_home
    from containerops.store.db import create_db_engine, database_url, migrate
    from containerops.store.recorder import Recorder
    from containerops.store.rows import JobRow, LogRow, NewRun, RunRow, StoreError
    from containerops.store.store import Store

_HOMES = {
    "containerops.home": ("coops_home",),
    "containerops.store.db": ("create_db_engine", "database_url", "migrate"),
    "containerops.store.recorder": ("Recorder",),
    "containerops.store.rows": ("JobRow", "LogRow", "NewRun", "RunRow", "StoreError"),
    "containerops.store.store": ("Store",),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

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


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
