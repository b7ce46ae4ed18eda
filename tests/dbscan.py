"""Scanning a store for values that must never be stored.

Reading tables through the store's queries only proves what the queries see; a value can
also sit in a column nobody reads back, an old page of the write-ahead log, or a journal.
So tests that run with secrets read every file of a SQLite database as bytes, and every
column of every row (of SQLite too, or of a PostgreSQL or MariaDB database named by
``COOPS_DATABASE_URL``, see ``tests/databases.py``), with the log blocks' compressed text
read as the store reads it: a secret in a compressed block is not in the file's bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from containerops.engine.masking import secret_forms
from containerops.store.logblocks import LogBlockError, decode

#: Shorter forms would match by chance in binary pages.
MIN_FORM = 6


def database_files(home: Path) -> list[Path]:
    """The database of a COOPS_HOME with its write-ahead log and journal, when present."""
    files = sorted(home.glob("containerops.db*"))
    assert files, f"no database under {home}"
    return files


def _rows(url: str) -> Iterator[tuple[str, bytes]]:
    """(table, the row's values as bytes) of every row of every table."""
    engine = sa.create_engine(url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    yield table.name, b"\0".join(map(_readable, row))
    finally:
        engine.dispose()


def _readable(value: object) -> bytes:
    """A column's value as bytes, a log block's as its lines."""
    if not isinstance(value, bytes):
        return str(value).encode()
    try:
        return decode(value).text.encode("utf-8", "surrogatepass")
    except LogBlockError:
        return value


def _contents(home: Path) -> Iterator[tuple[str, bytes]]:
    url = os.environ.get("COOPS_DATABASE_URL")
    if url and not url.startswith("sqlite"):
        yield from _rows(url)
        return
    files = database_files(home)
    for path in files:
        yield path.name, path.read_bytes()
    yield from _rows(f"sqlite:///{files[0]}")


def assert_never_stored(*values: str, home: Path | None = None) -> None:
    """Fail, saying where and near what, if any form of a value is in the database (of
    ``home``, by default the COOPS_HOME the test runs in, or the test's database server)."""
    for where, raw in _contents(home or Path(os.environ["COOPS_HOME"])):
        for value in values:
            for form in {f for f in secret_forms(value) if len(f) >= MIN_FORM}:
                at = raw.find(form.encode())
                assert at < 0, (
                    f"{form!r} (a form of a secret) is stored in {where} at byte {at}: "
                    f"{raw[max(0, at - 60) : at + len(form) + 60]!r}"
                )
