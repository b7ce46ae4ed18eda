"""The secret scan of the tests finds what a compressed log block holds."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from containerops.store import logblocks
from tests.dbscan import assert_never_stored

SECRET = "s3cr3t-in-a-block"


def test_a_secret_in_a_compressed_log_block_is_found(tmp_path: Path) -> None:
    lines = [f"step {n}: compiling module {n * 7919 % 1000}" for n in range(2000)] + [f"token={SECRET}"]
    block = logblocks.encode(lines, ["stdout"] * len(lines), [datetime.now(UTC)] * len(lines))
    assert SECRET.encode() not in block  # the file's bytes alone would not show it
    with sqlite3.connect(tmp_path / "containerops.db") as db:
        db.execute("CREATE TABLE log_blocks (id INTEGER PRIMARY KEY, data BLOB)")
        db.execute("INSERT INTO log_blocks (data) VALUES (?)", (block,))
    with pytest.raises(AssertionError, match="is stored in log_blocks"):
        assert_never_stored(SECRET, home=tmp_path)
    assert_never_stored("not-there-at-all", home=tmp_path)
