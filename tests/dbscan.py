"""Scanning the raw bytes of a SQLite store for values that must never be stored.

Reading tables only proves what the queries see; a value can also sit in a column
nobody reads back, an old page of the write-ahead log, or a journal. So tests that
run with secrets read every file of the database as bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

from containerops.engine.masking import secret_forms

#: Shorter forms would match by chance in binary pages.
MIN_FORM = 6


def database_files(home: Path) -> list[Path]:
    """The database of a COOPS_HOME with its write-ahead log and journal, when present."""
    files = sorted(home.glob("containerops.db*"))
    assert files, f"no database under {home}"
    return files


def assert_never_stored(*values: str, home: Path | None = None) -> None:
    """Fail, saying in which file and near what, if any form of a value is in the database
    (of ``home``, by default the COOPS_HOME the test runs in)."""
    for path in database_files(home or Path(os.environ["COOPS_HOME"])):
        raw = path.read_bytes()
        for value in values:
            for form in {f for f in secret_forms(value) if len(f) >= MIN_FORM}:
                at = raw.find(form.encode())
                assert at < 0, (
                    f"{form!r} (a form of a secret) is stored in {path.name} at byte {at}: "
                    f"{raw[max(0, at - 60) : at + len(form) + 60]!r}"
                )
