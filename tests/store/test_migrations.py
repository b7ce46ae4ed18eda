"""The Alembic revisions on every database: up from an empty database and from each
earlier revision (holding a row written then), to a schema that is exactly schema.py's
and stores what the code writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from containerops.store import Store, flows
from containerops.store.db import HEAD_REVISION, _alembic_config, create_db_engine, current_revision
from containerops.store.schema import metadata
from tests.mariadbserver import MariaDBServer

#: Every revision, oldest first.
REVISIONS = [script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()][
    ::-1
]
STARTS = [None, *REVISIONS[:-1]]

#: A row of the oldest schema, as old code wrote it: the upgrade must keep it.
OLD_FLOW = sa.table("flows", sa.column("uri"), sa.column("created_at", sa.DateTime))


def _upgrade(engine: sa.Engine, revision: str) -> None:
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@pytest.mark.parametrize("start", STARTS, ids=lambda start: f"from-{start or 'empty'}")
def test_upgrading_to_head(start: str | None, empty_database: Callable[[], str]) -> None:
    url = empty_database()
    engine = create_db_engine(url)
    try:
        if start is not None:
            _upgrade(engine, start)
            with engine.begin() as conn:
                conn.execute(
                    OLD_FLOW.insert().values(uri="Old/Flow/ci", created_at=datetime(2026, 1, 2, 3, 4, 5))
                )
        store = Store.open(url)  # what every coops command does: up to the newest revision
        try:
            assert current_revision(engine) == HEAD_REVISION
            with engine.connect() as conn:
                assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            if start is not None:
                assert flows.latest_version(store, "Old/Flow/ci") is None  # kept, and found by its case
                with engine.connect() as conn:
                    assert conn.execute(sa.select(OLD_FLOW.c.uri)).scalars().all() == ["Old/Flow/ci"]
            flow_id, version_id, _ = store.save_flow("old/flow/ci", "uri: old/flow/ci\n" * 5000, "yaml")
            run = store.create_run(flow_id, version_id, "dummy", {}, [("s.a.j", None)])
            at = datetime(2026, 12, 4, 7, 0, 0, 654321, tzinfo=UTC)
            recorder = store.recorder(run.id)
            recorder.run("running", at, started_at=at)
            recorder.flush()
            assert store.get_run(run.id).started_at == at
        finally:
            store.close()
    finally:
        engine.dispose()


def test_mysql_columns_keep_microseconds_long_texts_and_case(mariadb: MariaDBServer) -> None:
    """Checked on the database itself, so that a later revision adding a time or a text
    column with MySQL's short defaults (or a table in another collation) fails here."""
    url = mariadb.new_database()
    Store.open(url).close()
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            database = conn.exec_driver_sql("SELECT DATABASE()").scalar()
            columns = conn.execute(
                sa.text(
                    "SELECT table_name, column_name, data_type, datetime_precision, collation_name "
                    "FROM information_schema.columns "
                    "WHERE table_schema = :db AND table_name != 'alembic_version'"
                ),
                {"db": database},
            ).all()
            tables = conn.execute(
                sa.text(
                    "SELECT table_name, table_collation FROM information_schema.tables "
                    "WHERE table_schema = :db AND table_name != 'alembic_version'"
                ),
                {"db": database},
            ).all()
            default = conn.exec_driver_sql("SELECT @@collation_database").scalar()
    finally:
        engine.dispose()
    assert {name for name, _ in tables} == set(metadata.tables)
    assert [(t, c) for t, c, kind, precision, _ in columns if kind == "datetime" and precision != 6] == []
    assert [(t, c, kind) for t, c, kind, _, _ in columns if kind in ("tinytext", "text", "mediumtext")] == []
    assert {collation for _, _, _, _, collation in columns if collation} == {"utf8mb4_bin"}
    assert {collation for _, collation in tables} == {"utf8mb4_bin"} and default == "utf8mb4_bin"
