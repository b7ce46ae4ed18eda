"""Bytes a job printed on one stream, cut into lines: shared by the executors that read
raw output (a local process's pipes, a Docker container's attach stream).

Lines end at ``\\n`` (a trailing ``\\r`` goes too); a line longer than :data:`LIMIT`
comes out in pieces of the limit; what is unterminated at the end is a line. Every
line of one block gets the time the block was read, and a block's lines are made in
one go (one decode, one split), because a chatty job prints a million of them.
"""

from __future__ import annotations

from datetime import datetime

from containerops.executors.base import LogLine, Stream

LIMIT = 1024 * 1024  # longest line kept whole in memory; longer ones come out in pieces


class LineSplitter:
    """One stream's unfinished line, and the whole lines each new block completes."""

    __slots__ = ("_pending", "stream")

    def __init__(self, stream: Stream) -> None:
        self.stream: Stream = stream
        self._pending = b""

    def feed(self, block: bytes, now: datetime) -> list[LogLine]:
        """The lines ``block`` completes, each with the time ``now``."""
        data = self._pending + block if self._pending else block
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        stream = self.stream
        texts = _split(data[:cut]) if cut <= LIMIT else _split_long(data[:cut])
        batch = [LogLine(stream, text, now) for text in texts]
        while len(self._pending) >= LIMIT:  # no newline in sight: a piece of the limit's size
            piece, self._pending = self._pending[:LIMIT], self._pending[LIMIT:]
            batch.append(LogLine(stream, _text(piece), now))
        return batch

    def close(self, now: datetime) -> list[LogLine]:
        """The stream has ended: its unterminated last line, if any."""
        pending, self._pending = self._pending, b""
        return [LogLine(self.stream, _text(pending), now)] if pending else []


def _text(raw: bytes) -> str:
    return raw.decode(errors="replace").removesuffix("\r")


def _split(data: bytes) -> list[str]:
    """Whole lines (``data`` ends with a newline) without their terminators.

    Decoding the block at once is the same as decoding line by line: a newline byte
    never occurs inside a UTF-8 sequence. ``\\r`` is looked for once per block.
    """
    text = data.decode(errors="replace")
    if "\r" in text:
        return [line.removesuffix("\r") for line in text.split("\n")[:-1]]
    lines = text.split("\n")
    lines.pop()
    return lines


def _split_long(data: bytes) -> list[str]:
    """:func:`_split` for a block that may hold a line longer than the limit (the end of a
    long line read in an earlier block, with its newline in this one): such a line comes
    out in pieces of the limit, however the reads fell."""
    texts: list[str] = []
    for line in data.split(b"\n")[:-1]:
        while len(line) > LIMIT:
            texts.append(line[:LIMIT].decode(errors="replace"))
            line = line[LIMIT:]
        texts.append(_text(line))
    return texts
