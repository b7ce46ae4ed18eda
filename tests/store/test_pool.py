"""The store's connections on PostgreSQL and MariaDB: on PostgreSQL reads and one-statement
writes take no transaction of their own (no BEGIN, COMMIT or ROLLBACK round trips) and the
transactions the store does open stay whole; on both a pooled connection is checked before
use only when it sat idle (a check at every checkout was a fifth of a busy server's
statements)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa

from containerops.store import Store, db
from containerops.store import schema as t
from containerops.store.accounts import create_user
from containerops.store.values import utcnow

#: The server processes of every other connection to this database.
OTHERS = {
    "postgresql": (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ),
    "mysql": "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()",
}
#: The id of a connection's server process, and how another connection ends it.
BACKEND = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
END = {"postgresql": "SELECT pg_terminate_backend({})", "mysql": "KILL {}"}

SERVERS = pytest.mark.parametrize("database", ["postgresql", "mariadb"])


def autocommitting(connection: sa.Connection) -> bool:
    dbapi: Any = connection.connection.dbapi_connection
    return bool(dbapi.autocommit)


@pytest.mark.parametrize("database", ["postgresql"])
def test_reads_take_no_transaction_and_transactions_stay_whole(store: Store) -> None:
    with store.autocommit.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.users)).scalar() == 0
        assert autocommitting(conn)
    # the same pooled connection, given back to a transaction: all of it or nothing
    with pytest.raises(sa.exc.IntegrityError), store.database.begin() as conn:
        assert not autocommitting(conn)
        conn.execute(t.users.insert().values(name="ann", admin=False, created_at=utcnow()))
        conn.execute(t.users.insert().values(name="ann", admin=False, created_at=utcnow()))
    with store.autocommit.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.users)).scalar() == 0
    create_user(store, "ann")
    with store.autocommit.connect() as conn:
        assert conn.execute(sa.select(t.users.c.name)).scalars().all() == ["ann"]


@SERVERS
def test_a_connection_is_checked_only_after_it_sat_idle(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "IDLE_PING", 0.2)
    pings: list[object] = []
    ping = store.database.dialect.do_ping
    monkeypatch.setattr(store.database.dialect, "do_ping", lambda dbapi: pings.append(dbapi) or ping(dbapi))
    for _ in range(5):  # back in the pool a moment ago: taken as it is
        with store.autocommit.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    assert pings == []
    time.sleep(0.3)
    with store.autocommit.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    assert len(pings) == 1


@SERVERS
def test_a_pooled_connection_the_server_cut_while_idle_is_replaced(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "IDLE_PING", 0.05)
    dialect = store.database.dialect.name
    with store.autocommit.connect() as conn:
        conn.execute(sa.text("SELECT 1"))  # one at least in the pool
    other = sa.create_engine(store.database.url, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
    with other.connect() as conn:  # the server ends every connection of the store's pool
        cut = set(conn.execute(sa.text(OTHERS[dialect])).scalars())
        for backend in cut:
            conn.execute(sa.text(END[dialect].format(int(backend))))
    other.dispose()
    assert cut
    time.sleep(0.2)
    with store.autocommit.connect() as conn:  # no error: a dead one was found and replaced
        assert conn.execute(sa.text(BACKEND[dialect])).scalar() not in cut
