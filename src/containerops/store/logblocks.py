"""A block of log lines as the store keeps it: consecutive lines of one job attempt,
compressed together with zstd.

A chatty job prints a million short lines; a row per line cost about 85 bytes a line on
SQLite and a per-row insert each. A block of up to :data:`MAX_LINES` lines is one row
(its place in the run's line numbering, its job, attempt, first ``seq``, first and last
time) and one compressed payload:

- a header (JSON): the lines' streams and times, each as runs ``[[count, value], ...]``
  (the lines of one read share a time, and usually a stream), times in microseconds
  since the epoch;
- the lines joined by ``\\n`` (a line holding ``\\n`` itself, which only the engine's own
  messages could, makes the body a JSON list instead: ``"j": 1`` in the header).

The first byte of a stored block names its format, so that a later one can be read
beside this.
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain, groupby, repeat
from typing import Any

import zstandard

from containerops.store import loggrams

#: Lines a block holds at most: reading a page or a tail decodes at most this many lines
#: it does not show.
MAX_LINES = 32_768
#: Characters of text a block holds at most (a block of long lines ends sooner).
MAX_CHARS = 4 * 1024 * 1024
#: The first byte of a block in this format: zstd, a JSON header, a body.
_ZSTD_V1 = b"\x01"
#: The first byte of a block in this format: its trigram filter (``loggrams``: 4 bytes of
#: length, then the filter, maybe none), then as ``_ZSTD_V1``.
_ZSTD_V2 = b"\x02"
_LEVEL = 3
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class LogBlockError(ValueError):
    """A stored block that cannot be read (an unknown format, a damaged payload)."""


_local = threading.local()  # zstd contexts are not to be shared between threads


def _compressor() -> zstandard.ZstdCompressor:
    found: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if found is None:
        found = _local.compressor = zstandard.ZstdCompressor(level=_LEVEL)
    return found


def _decompressor() -> zstandard.ZstdDecompressor:
    found: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if found is None:
        found = _local.decompressor = zstandard.ZstdDecompressor()
    return found


def runs_of(values: Sequence[Any]) -> list[list[Any]]:
    """``values`` as ``[[count, value], ...]`` of equal neighbours."""
    if values and values.count(values[0]) == len(values):  # one value throughout: C only
        return [[len(values), values[0]]]
    return [[sum(1 for _ in group), value] for value, group in groupby(values)]


def micros(at: datetime) -> int:
    """A time as whole microseconds since the epoch (a naive time is UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (at - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def encode(lines: Sequence[str], streams: Sequence[str], times: Sequence[datetime]) -> bytes:
    """The stored form of lines (with their streams and times, in parallel; at least one)."""
    if not lines:
        raise ValueError("a log block holds at least one line")
    header: dict[str, Any] = {
        "s": runs_of(streams),
        "t": [[count, micros(at)] for count, at in runs_of(times)],
    }
    body = "\n".join(lines).encode("utf-8", "surrogatepass")
    grams = None
    if body.count(b"\n") != len(lines) - 1:  # a line holds a newline: no longer a join
        header["j"] = 1
        body = json.dumps(list(lines)).encode("utf-8", "surrogatepass")
    else:  # (a block of lines holding newlines is scanned when searched)
        grams = loggrams.build(body)
    payload = json.dumps(header, separators=(",", ":")).encode() + b"\n" + body
    return _ZSTD_V2 + loggrams.pack(grams) + _compressor().compress(payload)


def grams_of(data: bytes) -> bytes | None:
    """A stored block's trigram filter (``loggrams``), None when it has none (an older
    block, a short text, lines holding newlines): then only a scan tells what it holds."""
    if data[:1] != _ZSTD_V2:
        return None
    return loggrams.unpack(data, 1)[0]


@dataclass(frozen=True, slots=True)
class Decoded:
    """A block read back: its text (the lines joined by ``\\n``, and as stored: UTF-8),
    stream and time runs."""

    body: bytes
    text: str
    streams: list[list[Any]]
    times: list[list[Any]]
    json_lines: list[str] | None

    @property
    def count(self) -> int:
        return sum(count for count, _ in self.streams)

    @property
    def stream(self) -> str | None:
        """The block's one stream, or None when its lines are on both."""
        return str(self.streams[0][1]) if len(self.streams) == 1 else None

    def lines(self) -> list[str]:
        if self.json_lines is not None:
            return list(self.json_lines)
        return self.text.split("\n")

    def stream_of_each(self) -> list[str]:
        return list(chain.from_iterable(repeat(value, count) for count, value in self.streams))

    def micros_of_each(self) -> list[int]:
        return list(chain.from_iterable(repeat(value, count) for count, value in self.times))

    def time_runs(self) -> Iterator[tuple[int, datetime]]:
        for count, value in self.times:
            yield count, from_micros(value)


def decode(data: bytes) -> Decoded:
    """A stored block's lines, streams and times."""
    start = 1
    if data[:1] == _ZSTD_V2:
        try:
            start = loggrams.unpack(data, 1)[1]
        except struct.error as error:
            raise LogBlockError(f"damaged log block: {error}") from error
    elif not data or data[:1] != _ZSTD_V1:
        raise LogBlockError(f"unknown log block format {data[:1]!r}")
    try:
        payload = _decompressor().decompress(memoryview(data)[start:])
    except zstandard.ZstdError as error:
        raise LogBlockError(f"damaged log block: {error}") from error
    head, _, body = payload.partition(b"\n")
    header = json.loads(head)
    text = body.decode("utf-8", "surrogatepass")
    if header.get("j"):
        lines: list[str] = json.loads(text)
        joined = "\n".join(lines)
        return Decoded(joined.encode("utf-8", "surrogatepass"), joined, header["s"], header["t"], lines)
    return Decoded(body, text, header["s"], header["t"], None)
