"""Migration 0009: a SQLite store written before it (naive ``YYYY-MM-DD HH:MM:SS.ffffff``
times) is rewritten to RFC 3339 with its offset, reads back the same instants, and
compares old and new times correctly; the downgrade gives back the old texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from containerops.store import Store
from containerops.store.db import _alembic_config, create_db_engine


def _to(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _raw(engine: sa.Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(sql)]


def test_old_naive_times_are_rewritten_and_read_back(coops_home: Path) -> None:
    url = f"sqlite:///{coops_home / 'old.db'}"
    coops_home.mkdir(parents=True)
    engine = create_db_engine(url)
    _to(engine, "0008")
    with engine.begin() as conn:  # what a store before 0009 held, exactly as SQLAlchemy wrote it
        conn.exec_driver_sql(
            "INSERT INTO flows (id, uri, created_at) "
            "VALUES (1, 'demo/hello/ci', '2026-12-03 22:10:07.123456')"
        )
        conn.exec_driver_sql(
            "INSERT INTO flow_versions (id, flow_id, version, digest, format, source, created_at) "
            "VALUES (1, 1, 1, 'd', 'yaml', 'uri: demo/hello/ci', '2026-12-03 22:10:07.123456')"
        )
        conn.exec_driver_sql(
            "INSERT INTO runs (id, flow_id, flow_version_id, number, uid, status, executor, params, "
            "created_at, started_at, finished_at) VALUES (1, 1, 1, 1, 'u1', 'success', 'dummy', '{}', "
            "'2026-12-03 22:10:07.123456', '2026-12-03 22:10:08.000000', NULL)"
        )
    _to(engine, "0009")
    assert _raw(engine, "SELECT created_at, started_at, finished_at FROM runs") == [
        ("2026-12-03T22:10:07.123456+00:00", "2026-12-03T22:10:08.000000+00:00", None)
    ]
    assert _raw(engine, "SELECT created_at FROM flows") == [("2026-12-03T22:10:07.123456+00:00",)]
    engine.dispose()

    store = Store.open(url)
    row = store.get_run(1)
    assert row.created_at == datetime(2026, 12, 3, 22, 10, 7, 123456, tzinfo=UTC)
    assert row.to_json()["started_at"] == "2026-12-03T22:10:08.000000+00:00"
    # An old time and a new one compare as times, and a bound given in another zone counts
    # as the instant it is (00:10:07.5+02:00 is 22:10:07.5 UTC: after the old run).
    flow_id, version_id, _ = store.save_flow("demo/hello/ci", "uri: demo/hello/ci\n", "yaml")
    newer = store.create_run(flow_id, version_id, "dummy", {}, [])
    since = datetime(2026, 12, 4, 0, 10, 7, 500000, tzinfo=timezone(timedelta(hours=2)))
    assert [r.id for r in store.list_runs(limit=10, since=since)] == [newer.id]
    assert [r.id for r in store.list_runs(limit=10, until=since)] == [1]
    store.close()

    engine = create_db_engine(url)
    _to(engine, "0008", down=True)
    assert _raw(engine, "SELECT created_at, started_at FROM runs WHERE id = 1") == [
        ("2026-12-03 22:10:07.123456", "2026-12-03 22:10:08.000000")
    ]
    engine.dispose()
