"""Migration 0014 moves stored lines into blocks (and back on downgrade): every line, its
job, attempt, seq, stream and time kept, in the order it was stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command

from containerops.store import Store, logblocks
from containerops.store.db import _alembic_config, create_db_engine


def _migrate(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_lines_survive_the_move_into_blocks_and_back(empty_database: Callable[[], str]) -> None:
    url = empty_database()
    store = Store.open(url)
    engine = create_db_engine(url)
    try:
        flow_id, version_id, _ = store.save_flow("test/migrate/logs", "x", "yaml")
        run = store.create_run(flow_id, version_id, "dummy", {}, [("s.a.one", None), ("s.a.two", None)])
        recorder = store.recorder(run.id)
        base = datetime(2026, 12, 4, 9, 0, 0, 1, tzinfo=UTC)
        count = logblocks.MAX_LINES + 500  # more than a block for one job
        for number in range(count):
            job = "s.a.one" if number % 4 else "s.a.two"
            recorder.log(
                run.job_ids[job],
                1 + number // 30_000,
                number + 1,  # seq: not consecutive per job, so blocks are cut where it jumps
                base + timedelta(microseconds=number // 7),
                "stderr" if number % 11 == 0 else "stdout",
                f"line {number}" if number % 13 else "",
            )
            if number % 1000 == 999:
                recorder.flush()
        recorder.flush()
        before = store.log_lines(run.id, limit=count)
        assert len(before) == count
        _migrate(engine, "0013", down=True)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM log_lines").scalar() == count
        _migrate(engine, "head")
        after = store.log_lines(run.id, limit=count)
        assert after == before
    finally:
        store.close()
        engine.dispose()
