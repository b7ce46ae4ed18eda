"""``COOPS_DATABASE_URL`` pointing at PostgreSQL or MariaDB instead of COOPS_HOME's SQLite:
the CLI and a ``coops server`` process keep their runs there and see each other's."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.cli.test_cli import coops, write
from tests.dbserver import DatabaseServer
from tests.server.conftest import ServerProcess
from tests.server.flows import wait_for_run

FLOW = textwrap.dedent(
    """\
    uri: demo/pg/ci
    stages:
      - name: build
        actions:
          - name: unit
            jobs:
              - {name: test, command: [sh, -c, 'echo "tested in run $CO_RUN_ID"; echo "[COUT] RESULT = ok"']}
    """
)


@pytest.fixture(params=["postgresql", "mariadb"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A new database on the session's server (tests/store/conftest.py)."""
    server: DatabaseServer = request.getfixturevalue(request.param)
    return server.new_database()


def test_the_cli_and_a_server_keep_their_state_in_another_database(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    env = {"COOPS_DATABASE_URL": database_url}
    flow = write(tmp_path, FLOW)
    ran = coops("run", str(flow), "-e", "local", "--json", home=home, check=0, extra_env=env)
    first = json.loads(ran.stdout)
    assert first["status"] == "success"
    coops("user", "create", "root", "--admin", home=home, check=0, extra_env=env)
    token = coops("token", "create", "--user", "root", "--scope", "admin", home=home, check=0, extra_env=env)

    server = ServerProcess(home, "local", env=env)
    server.start()
    try:
        headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as api:
            seen = api.get(f"/api/v1/runs/{first['id']}").json()  # the CLI's run, read by the server
            assert (seen["status"], seen["jobs"][0]["outputs"]) == ("success", {"RESULT": "ok"})
            started = api.post("/api/v1/runs", json={"flow": "demo/pg/ci"})
            assert started.status_code == 202, started.text
            second = wait_for_run(api, started.json()["id"])
        assert (second["status"], second["number"]) == ("success", 2)
    finally:
        server.stop()

    # the server's run, read by the CLI, from the same database
    listed = json.loads(coops("runs", "list", "--json", home=home, check=0, extra_env=env).stdout)
    assert sorted((r["id"], r["status"]) for r in listed) == [
        (first["id"], "success"),
        (second["id"], "success"),
    ]
    logs = coops("logs", str(second["id"]), home=home, check=0, extra_env=env).stdout
    assert "[build.unit.test] tested" in logs
    tail = coops("logs", str(second["id"]), "--tail", "1", "-t", home=home, check=0, extra_env=env).stdout
    assert tail.endswith(f" {logs.splitlines()[-1]}\n") and tail.count("\n") == 1
    assert not (home / "containerops.db").exists()  # nothing went to SQLite
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from runs")).scalar() == 2
    finally:
        engine.dispose()
