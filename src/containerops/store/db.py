"""Opening the database: where it lives, SQLite tuning, and migrations.

SQLite in ``COOPS_HOME`` is the default; ``COOPS_DATABASE_URL`` points at PostgreSQL
(``postgresql+psycopg://``) or MySQL/MariaDB/TiDB (``mysql+pymysql://``) instead. The schema is brought to the
newest Alembic revision every time the store opens, so an upgrade of
ContainerOps never needs a manual step.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from containerops.home import coops_home
from containerops.store.rows import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

T = TypeVar("T")

MIGRATIONS = Path(__file__).with_name("migrations")
#: The newest migration. Checked against Alembic's own view by a test, so that
#: opening an up-to-date store never has to import Alembic (a tenth of a second
#: on every CLI call).
HEAD_REVISION = "0018"


#: Tries of a write that met another's insert of the same row (each retry reads what the other committed).
CONFLICT_ATTEMPTS = 20
#: A pooled connection idle longer than this (seconds) is checked before it is handed out.
IDLE_PING = 1.0


def again_on_conflict(write: Callable[[], T], what: str) -> T:
    """``write()`` (one transaction that makes rows when missing), once more each time it
    met another process's write: an insert of the same row (the next try finds it) or a
    deadlock the database broke by rolling this one back."""
    for _ in range(CONFLICT_ATTEMPTS - 1):
        try:
            return write()
        except sa.exc.DBAPIError as exc:
            if not conflicted(exc):
                raise
    try:
        return write()
    except sa.exc.DBAPIError as exc:
        if not conflicted(exc):
            raise
        raise StoreError(f"could not {what}: {exc.orig}") from exc


#: What PostgreSQL (SQLSTATE) and MySQL/MariaDB (error number) say of a transaction
#: rolled back for a deadlock or a serialization failure: to be run again.
_DEADLOCK_STATES = frozenset({"40P01", "40001"})
_DEADLOCK_ERRORS = frozenset({1213})


def conflicted(exc: sa.exc.DBAPIError) -> bool:
    """Whether ``exc`` is another transaction's doing, gone on a retry."""
    if isinstance(exc, sa.exc.IntegrityError):
        return True
    if getattr(exc.orig, "sqlstate", None) in _DEADLOCK_STATES:
        return True
    args: tuple[Any, ...] = getattr(exc.orig, "args", ())
    return bool(args) and args[0] in _DEADLOCK_ERRORS


def database_url() -> str:
    url = os.environ.get("COOPS_DATABASE_URL")
    if url:
        return url
    home = coops_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'containerops.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (coops logs -f) never block the engine
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; WAL keeps it safe
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def autocommitting(engine: sa.Engine) -> sa.Engine:
    """``engine``'s pool, each statement committed as it runs: for reads, and writes of one
    statement. On PostgreSQL a transaction costs a BEGIN and a COMMIT or ROLLBACK, two round
    trips around what may be its only statement, and reads gain nothing from one: at READ
    COMMITTED every statement sees what was committed when it starts, in a transaction or
    not (psycopg switches to autocommit and back without a word to the server). MySQL's
    driver says ``SET AUTOCOMMIT`` each way, more than it saves, and SQLite's BEGIN costs no
    round trip: their engine stays as it is."""
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def create_db_engine(url: str | None = None) -> sa.Engine:
    url = url or database_url()
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    elif sa.engine.make_url(url).get_backend_name() in ("mysql", "mariadb"):
        # READ COMMITTED, as PostgreSQL's default: each statement sees what others committed,
        # and InnoDB takes no gap locks (REPEATABLE READ's would make concurrent writers of
        # runs and log lines wait on, and deadlock over, rows none of them touch).
        engine = sa.create_engine(url, isolation_level="READ COMMITTED")
    else:
        engine = sa.create_engine(url)
    if engine.dialect.name != "sqlite":
        _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: sa.Engine) -> None:
    """Check a pooled connection still works before handing it out, if it sat idle in the pool
    for more than ``IDLE_PING`` seconds: a database restarted meanwhile cut it, and a new one
    is opened instead. SQLAlchemy's ``pool_pre_ping`` checks at every checkout, a round trip
    before each transaction (a fifth of a busy server's statements); a connection back in the
    pool a moment ago is taken as it is, and a restart that cuts it then shows as a
    disconnect on its first statement (:mod:`.reconnect`), which invalidates the whole pool."""

    @sa.event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_from"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _alive(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_from = record.info.get("idle_from")
        if idle_from is None or time.monotonic() - idle_from <= IDLE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool opens another connection (tries 3 times)
            raise sa.exc.DisconnectionError(f"a pooled connection is gone: {error}") from error


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def current_revision(engine: sa.Engine) -> str | None:
    """The schema's Alembic revision, or None for an empty database."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


#: Held while one process migrates PostgreSQL or MySQL (an advisory lock: a number on
#: PostgreSQL, where they belong to one database; a name with the database's on MySQL).
_MIGRATION_LOCK_KEY, _MIGRATION_LOCK_NAME = 0x636F6F7073, "containerops-migrations"


@contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    """One migrating process at a time, on databases that have advisory locks.

    MySQL commits each DDL statement at once, so a second process would see the first's
    tables appear one by one and its revisions recorded under it, and fail. SQLite needs
    no lock (one writer; a loser of the race retries below)."""
    backend = engine.dialect.name
    if backend not in ("postgresql", "mysql", "mariadb"):
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if backend == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            release = sa.text("SELECT pg_advisory_unlock(:key)").bindparams(key=_MIGRATION_LOCK_KEY)
        else:
            name = f"{_MIGRATION_LOCK_NAME}:{engine.url.database}"[:64]  # MySQL's are server-wide
            taken = conn.execute(sa.text("SELECT GET_LOCK(:name, 600)"), {"name": name}).scalar()
            if taken != 1:
                raise StoreError("another process has been migrating the database for 10 minutes: stuck?")
            release = sa.text("SELECT RELEASE_LOCK(:name)").bindparams(name=name)
        try:
            yield
        finally:
            conn.execute(release)


def migrate(engine: sa.Engine, *, tries: int = 50) -> None:
    """Upgrade the schema to the newest revision; cheap when it already is.

    Two processes may open a new store at once (``coops run`` and ``coops logs``
    started together): on PostgreSQL and MySQL the second waits for the first's lock
    and finds the schema current; on SQLite the one that loses the race sees the other's
    tables appear under it, waits, and finds the schema current.
    """
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    config = _alembic_config()
    with _migration_lock(engine):
        for attempt in range(tries):
            if current_revision(engine) == HEAD_REVISION:
                return
            try:
                with engine.begin() as connection:
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                return
            except sa.exc.DBAPIError:
                if attempt == tries - 1:
                    raise
                time.sleep(0.1)
