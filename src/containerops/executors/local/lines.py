"""Reading a job process's pipes: blocks in, whole lines out, in batches.

The cutting into lines is :class:`containerops.executors.lines.LineSplitter`. Lines cross
to the engine in batches (one per read of the pipe): a job printing a million lines costs
a few thousand queue hand-overs, not a million.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from containerops.executors.base import LogLine, Stream
from containerops.executors.lines import LIMIT, LineSplitter

__all__ = ["LIMIT", "READ_SIZE", "read_lines"]

READ_SIZE = 256 * 1024  # bytes read from a pipe at once: many lines per read under load


async def read_lines(
    stream: asyncio.StreamReader, name: Stream, queue: asyncio.Queue[list[LogLine] | None]
) -> None:
    """Read the pipe in large blocks and hand over the whole lines of each block at once;
    every line of one block gets the time the block was read. ``None`` at the end."""
    splitter = LineSplitter(name)
    try:
        while True:
            block = await stream.read(READ_SIZE)
            if not block:
                break
            batch = splitter.feed(block, datetime.now(UTC))
            if batch:
                await queue.put(batch)
        rest = splitter.close(datetime.now(UTC))
        if rest:
            await queue.put(rest)
    finally:
        await queue.put(None)
