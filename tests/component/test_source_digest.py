"""The source digest of a component folder reads a file again only when its stat changed:
a push of a large folder that only got a new version in component.yaml does not hash the
rest again, and any write (which changes the ctime, whatever the mtime is set to) is seen."""

from __future__ import annotations

import os
import time
from pathlib import Path

from containerops.component.built import RACY_SECONDS, FileStat, source_digest


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "component.yaml").write_text("namespace: t\nname: c\nversion: 0.1.0\n")
    (folder / "payload").write_bytes(b"a" * 4096)
    return folder


def test_a_file_with_the_same_stat_is_taken_from_the_record(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    later = time.time() + 2 * RACY_SECONDS  # as if the files were written long ago
    known: dict[str, tuple[FileStat, str]] = {}
    first = source_digest(folder, ["sha256:base"], known, now=later)
    assert set(known) == {"component.yaml", "payload"}
    # what the record says is used as it is: a wrong digest in it changes the result,
    # which shows the file was not read again
    stat, _ = known["payload"]
    tampered = {**known, "payload": (stat, "0" * 64)}
    assert source_digest(folder, ["sha256:base"], tampered, now=later) != first
    assert source_digest(folder, ["sha256:base"], dict(known), now=later) == first
    assert source_digest(folder, ["sha256:base"], None, now=later) == first
    assert source_digest(folder, ["sha256:other"], dict(known), now=later) != first


def test_a_write_is_seen_even_with_the_same_size_and_mtime(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    payload = folder / "payload"
    later = time.time() + 2 * RACY_SECONDS
    known: dict[str, tuple[FileStat, str]] = {}
    first = source_digest(folder, [], known, now=later)
    before = payload.stat()
    time.sleep(0.05)  # past the filesystem clock's tick
    payload.write_bytes(b"b" * 4096)
    os.utime(payload, ns=(before.st_atime_ns, before.st_mtime_ns))  # size and mtime as they were
    assert source_digest(folder, [], known, now=later + 1) != first


def test_a_file_changed_just_now_is_always_read(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    known: dict[str, tuple[FileStat, str]] = {}
    source_digest(folder, [], known)  # the files are seconds old at most: not recorded
    assert known == {}
