"""Reading a job process's pipes: blocks in, whole lines out, in batches.

Lines end at ``\n`` (a trailing ``\r`` goes too); a line longer than the limit comes
out in pieces of the limit; what is unterminated at the end is a line. Lines cross to
the engine in batches (one per read of the pipe): a job printing a million lines costs
a few thousand queue hand-overs, not a million.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from containerops.executors.base import LogLine, Stream

LIMIT = 1024 * 1024  # longest line read at once; longer ones come out in pieces
READ_SIZE = 256 * 1024  # bytes read from a pipe at once: many lines per read under load


async def read_lines(
    stream: asyncio.StreamReader, name: Stream, queue: asyncio.Queue[list[LogLine] | None]
) -> None:
    """Read the pipe in large blocks and hand over the whole lines of each block at once;
    every line of one block gets the time the block was read. ``None`` at the end."""
    pending = b""
    try:
        while True:
            block = await stream.read(READ_SIZE)
            if not block:
                break
            data = pending + block if pending else block
            cut = data.rfind(b"\n") + 1
            pending = data[cut:]
            now = datetime.now(UTC)
            texts = _split(data[:cut]) if cut <= LIMIT else _split_long(data[:cut])
            batch = [LogLine(name, text.rstrip("\r"), now) for text in texts]
            while len(pending) >= LIMIT:  # no newline in sight: a piece of the limit's size
                piece, pending = pending[:LIMIT], pending[LIMIT:]
                batch.append(LogLine(name, piece.decode(errors="replace").rstrip("\r"), now))
            if batch:
                await queue.put(batch)
        if pending:
            await queue.put([LogLine(name, pending.decode(errors="replace").rstrip("\r"), datetime.now(UTC))])
    finally:
        await queue.put(None)


def _split_long(data: bytes) -> list[str]:
    """:func:`_split` for a block that may hold a line longer than the limit (the end of a
    long line read in an earlier block, with its newline in this one): such a line comes
    out in pieces of the limit, however the pipe's reads fell."""
    texts: list[str] = []
    for line in data.split(b"\n")[:-1]:
        while len(line) > LIMIT:
            texts.append(line[:LIMIT].decode(errors="replace"))
            line = line[LIMIT:]
        texts.append(line.decode(errors="replace"))
    return texts


def _split(data: bytes) -> list[str]:
    """Whole lines (``data`` ends with a newline) without their newlines.

    Decoding the block at once is the same as decoding line by line: a newline byte
    never occurs inside a UTF-8 sequence.
    """
    return data.decode(errors="replace").split("\n")[:-1]
