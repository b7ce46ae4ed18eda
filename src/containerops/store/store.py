"""The handle on the database every part holds. The queries live in one store module per
entity; the handle opens and closes, makes recorders, and keeps as methods the few queries
most callers use: saving a flow and its source, creating, reading and listing runs, logs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import sqlalchemy as sa

from containerops.store import logs, runs
from containerops.store import schema as t
from containerops.store.db import create_db_engine, migrate
from containerops.store.recorder import Recorder
from containerops.store.rows import StoreError
from containerops.store.values import new_id, utcnow


class Store:
    """A handle on the database; cheap to keep for the life of a process."""

    def __init__(self, database: sa.Engine) -> None:
        #: SQLAlchemy's connection pool; named so it is not read as the workflow engine.
        self.database = database

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        """Open (and create or upgrade) the database at ``url`` or the default."""
        database = create_db_engine(url)
        migrate(database)
        return cls(database)

    def close(self) -> None:
        self.database.dispose()

    # -- flows -------------------------------------------------------------
    def save_flow(self, uri: str, source: str, fmt: str) -> tuple[int, int, int]:
        """Keep this definition of the flow; a changed source makes a new version.

        Returns ``(flow_id, flow_version_id, version_number)``.
        """
        digest = hashlib.sha256(source.encode()).hexdigest()
        now = utcnow()
        with self.database.begin() as conn:
            flow_id = conn.execute(sa.select(t.flows.c.id).where(t.flows.c.uri == uri)).scalar()
            if flow_id is None:
                flow_id = new_id(conn.execute(t.flows.insert().values(uri=uri, created_at=now)))
            latest = conn.execute(
                sa.select(t.flow_versions.c.id, t.flow_versions.c.version, t.flow_versions.c.digest)
                .where(t.flow_versions.c.flow_id == flow_id)
                .order_by(t.flow_versions.c.version.desc())
                .limit(1)
            ).first()
            if latest is not None and latest.digest == digest:
                return flow_id, latest.id, latest.version
            version = 1 if latest is None else latest.version + 1
            version_id = new_id(
                conn.execute(
                    t.flow_versions.insert().values(
                        flow_id=flow_id,
                        version=version,
                        digest=digest,
                        format=fmt,
                        source=source,
                        created_at=now,
                    )
                )
            )
            return flow_id, version_id, version

    def flow_source(self, run_id: int) -> str:
        with self.database.connect() as conn:
            source = conn.execute(
                sa.select(t.flow_versions.c.source)
                .join(t.runs, t.runs.c.flow_version_id == t.flow_versions.c.id)
                .where(t.runs.c.id == run_id)
            ).scalar()
        if source is None:
            raise StoreError(f"no run with id {run_id}")
        return str(source)

    # -- runs: their queries are in runs.py and logs.py; these are bound here because most
    # parts that hold a store read runs or their logs -----------------------------------
    create_run = runs.create_run
    get_run = runs.get_run
    list_runs = runs.list_runs
    log_lines = logs.log_lines

    def recorder(self, run_id: int, *, mask: Callable[[str], str] | None = None) -> Recorder:
        return Recorder(self.database, run_id, mask=mask)
