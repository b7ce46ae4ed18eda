"""The handle on the database every part holds. The queries live in one store module per
entity; the handle opens and closes, makes recorders, and keeps as methods the few queries
most callers use: saving a flow and its source, creating, reading and listing runs, logs."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from containerops.store import flows, logs, runs
from containerops.store.db import autocommitting, create_db_engine, migrate
from containerops.store.recorder import Recorder


class Store:
    """A handle on the database; cheap to keep for the life of a process."""

    def __init__(self, database: sa.Engine) -> None:
        #: SQLAlchemy's connection pool; named so it is not read as the workflow engine.
        self.database = database
        #: The same pool without transactions around single statements (see
        #: :func:`~containerops.store.db.autocommitting`): every read goes through it.
        self.autocommit = autocommitting(database)

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        """Open (and create or upgrade) the database at ``url`` or the default."""
        database = create_db_engine(url)
        migrate(database)
        return cls(database)

    def close(self) -> None:
        self.database.dispose()

    # -- flows -------------------------------------------------------------
    def save_flow(self, uri: str, source: str, fmt: str, by: str | None = None) -> tuple[int, int, int]:
        """See :func:`containerops.store.flows.save_flow`: ``(flow_id, flow_version_id, version_number)``."""
        return flows.save_flow(self, uri, source, fmt, by)

    def flow_source(self, run_id: int) -> str:
        """The source of the flow version the run ran."""
        return flows.run_source(self, run_id)

    # -- runs: their queries are in runs.py and logs.py; these are bound here because most
    # parts that hold a store read runs or their logs -----------------------------------
    create_run = runs.create_run
    get_run = runs.get_run
    list_runs = runs.list_runs
    log_lines = logs.log_lines

    def recorder(
        self,
        run_id: int,
        *,
        mask: Callable[[str], str] | None = None,
        on_logs: Callable[[], None] | None = None,
    ) -> Recorder:
        return Recorder(self.database, run_id, mask=mask, on_logs=on_logs)
