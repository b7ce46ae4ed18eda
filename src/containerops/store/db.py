"""Opening the database: where it lives, SQLite tuning, and migrations.

SQLite in ``COOPS_HOME`` is the default; ``COOPS_DATABASE_URL`` points at any
SQLAlchemy URL (PostgreSQL, MySQL/TiDB) instead. The schema is brought to the
newest Alembic revision every time the store opens, so an upgrade of
ContainerOps never needs a manual step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).with_name("migrations")


def coops_home() -> Path:
    """The state folder: ``COOPS_HOME``, else ``~/.containerops``."""
    home = os.environ.get("COOPS_HOME")
    return Path(home).expanduser() if home else Path.home() / ".containerops"


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


def create_db_engine(url: str | None = None) -> sa.Engine:
    url = url or database_url()
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True)
    return engine


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: sa.Engine) -> None:
    """Upgrade the schema to the newest revision; cheap when it already is."""
    config = _alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current == head:
        return
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
