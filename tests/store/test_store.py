"""The store: flow versions, run numbers, batched writes, reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from containerops.store import Store, StoreError
from containerops.store import schema as t
from containerops.store.db import HEAD_REVISION
from containerops.store.runs import attempts, resolve_run, state_changes


def test_open_twice_migrates_once(coops_home: Path) -> None:
    first = Store.open()
    first.close()
    second = Store.open()
    with second.database.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    second.close()
    assert (coops_home / "containerops.db").exists()


def test_flow_versions_change_only_with_the_source(store: Store) -> None:
    flow_id, v1, n1 = store.save_flow("a/b/c", "source one", "yaml")
    assert store.save_flow("a/b/c", "source one", "yaml") == (flow_id, v1, n1)
    _, v2, n2 = store.save_flow("a/b/c", "source two", "yaml")
    assert (n1, n2) == (1, 2) and v2 != v1
    other, _, n = store.save_flow("a/b/d", "source one", "json")
    assert other != flow_id and n == 1


def test_runs_are_numbered_per_flow(store: Store) -> None:
    f1, v1, _ = store.save_flow("a/b/c", "x", "yaml")
    f2, v2, _ = store.save_flow("a/b/d", "x", "yaml")
    numbers = [store.create_run(f1, v1, "dummy", {}, []).number for _ in range(3)]
    assert numbers == [1, 2, 3]
    assert store.create_run(f2, v2, "dummy", {}, []).number == 1
    run = store.create_run(f1, v1, "dummy", {"set": {"A": "1"}}, [("s.a.j", "img"), ("s.a.k", None)])
    assert run.number == 4 and set(run.job_ids) == {"s.a.j", "s.a.k"} and len(run.uid) == 32
    row = store.get_run(run.id)
    assert row.uri == "a/b/c" and row.status == "pending" and row.params == {"set": {"A": "1"}}
    assert [(j.path, j.image, j.status) for j in row.jobs] == [
        ("s.a.j", "img", "pending"),
        ("s.a.k", None, "pending"),
    ]
    assert resolve_run(store, str(run.id)) == run.id
    assert resolve_run(store, "a/b/c#4") == run.id


@pytest.mark.parametrize("ref", ["999", "a/b/c#9", "nonsense", ""])
def test_unknown_runs_are_said_plainly(store: Store, ref: str) -> None:
    store.create_run(*store.save_flow("a/b/c", "x", "yaml")[:2], "dummy", {}, [])
    with pytest.raises(StoreError) as error:
        resolve_run(store, ref)
    assert "run" in str(error.value)


def test_recorder_merges_and_writes_in_one_flush(store: Store) -> None:
    flow_id, version_id, _ = store.save_flow("a/b/c", "x", "yaml")
    run = store.create_run(flow_id, version_id, "dummy", {}, [("s.a.j", None)])
    job_id = run.job_ids["s.a.j"]
    recorder = store.recorder(run.id)
    now = datetime.now(UTC)
    recorder.run("running", now, started_at=now)
    recorder.job(job_id, status="running", started_at=now)
    recorder.attempt(job_id, 1, _new=True, status="running", started_at=now)
    recorder.change(job_id, 1, "running", now, None)
    for seq in range(1, 4):
        recorder.log(job_id, 1, seq, now, "stdout" if seq != 2 else "stderr", f"line {seq}")
    recorder.attempt(job_id, 1, status="failure", exit_code=3, reason="exit code 3", finished_at=now)
    recorder.job(job_id, status="failure", exit_code=3, reason="exit code 3", attempts=1, finished_at=now)
    # nothing reaches the database before the flush
    assert store.get_run(run.id).status == "pending"
    recorder.flush()
    row = store.get_run(run.id)
    assert row.status == "running" and row.started_at == now
    assert (row.jobs[0].status, row.jobs[0].exit_code, row.jobs[0].reason) == ("failure", 3, "exit code 3")
    tried = attempts(store, run.id)
    assert [(a["attempt"], a["status"], a["exit_code"]) for a in tried] == [(1, "failure", 3)]
    # a later update of an already written attempt is an UPDATE, not a second row
    recorder.attempt(job_id, 1, reason="changed")
    recorder.flush()
    assert [a["reason"] for a in attempts(store, run.id)] == ["changed"]
    lines = store.log_lines(run.id)
    assert [(line.seq, line.stream, line.line) for line in lines] == [
        (1, "stdout", "line 1"),
        (2, "stderr", "line 2"),
        (3, "stdout", "line 3"),
    ]
    assert store.log_lines(run.id, after_id=lines[0].id)[0].line == "line 2"
    assert store.log_lines(run.id, job_path="s.a.other") == []
    history = state_changes(store, run.id)
    assert [(h["job"], h["status"]) for h in history] == [
        (None, "pending"),
        (None, "running"),
        ("s.a.j", "running"),
    ]
    blocks = t.log_blocks.c
    with store.database.connect() as conn:  # one block of the job's three lines
        assert conn.execute(sa.select(blocks.first_line, blocks.last_line)).all() == [(1, 3)]


def test_flush_with_nothing_pending_is_a_no_op(store: Store) -> None:
    flow_id, version_id, _ = store.save_flow("a/b/c", "x", "yaml")
    run = store.create_run(flow_id, version_id, "dummy", {}, [])
    store.recorder(run.id).flush()
    assert store.get_run(run.id).status == "pending"


def test_database_url_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("COOPS_DATABASE_URL", url)
    opened = Store.open()
    opened.save_flow("a/b/c", "x", "yaml")
    opened.close()
    assert (tmp_path / "elsewhere.db").exists()


def test_head_revision_constant_matches_the_migrations() -> None:
    from alembic.script import ScriptDirectory

    from containerops.store.db import HEAD_REVISION, _alembic_config

    assert ScriptDirectory.from_config(_alembic_config()).get_current_head() == HEAD_REVISION


def test_an_up_to_date_store_opens_without_alembic(store: Store) -> None:
    """On each database (the process finds it through COOPS_HOME or COOPS_DATABASE_URL)."""
    import subprocess
    import sys

    code = "import sys; from containerops.store import Store; Store.open(); print('alembic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_processes_opening_a_new_store_at_once_all_succeed(empty_database: Callable[[], str]) -> None:
    """On MySQL and MariaDB, whose DDL commits at once, the others see the tables appear
    one by one while the first process makes them."""
    import subprocess
    import sys

    url = empty_database()
    code = f"from containerops.store import Store; Store.open({url!r}).close(); print('ok')"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in results]
    opened = Store.open(url)
    with opened.database.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
    opened.close()


def test_migrations_build_exactly_the_tables_the_code_declares(store: Store) -> None:
    """schema.py and the Alembic revisions must not drift apart: a column added to
    one and not the other would only show on a user's upgraded database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from containerops.store.schema import metadata

    with store.database.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_runs_started_at_once_get_numbers_one_after_another(store: Store) -> None:
    """Processes (here threads, each with its own connection) numbering runs of one flow
    at the same moment: each number once, none skipped, on every database."""
    from concurrent.futures import ThreadPoolExecutor

    flow_id, version_id, _ = store.save_flow("a/b/c", "x", "yaml")

    def start(_: int) -> int:
        return store.create_run(flow_id, version_id, "dummy", {}, [("s.a.j", None), ("s.a.k", None)]).number

    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(start, range(40)))
    assert sorted(numbers) == list(range(1, 41))


def test_every_database_reads_what_others_committed_since_a_transaction_began(store: Store) -> None:
    """READ COMMITTED everywhere a server can have it (MySQL's default is REPEATABLE READ):
    a transaction that read a table sees another's insert on its next read, as on PostgreSQL."""
    store.save_flow("a/b/c", "x", "yaml")
    with store.database.connect() as reader:
        before = reader.execute(sa.select(sa.func.count()).select_from(t.flows)).scalar()
        store.save_flow("a/b/d", "x", "yaml")  # another connection, committed
        after = reader.execute(sa.select(sa.func.count()).select_from(t.flows)).scalar()
    assert (before, after) == (1, 2)
