"""The local executor's log reading: lines as a job prints them, read in large blocks."""

from __future__ import annotations

import asyncio
import sys

from containerops.executors.base import JobSpec, LogLine
from containerops.executors.local import LocalExecutor
from containerops.executors.local.lines import LIMIT as _LIMIT
from containerops.executors.local.lines import read_lines as _read

JOB = r"""
import sys
out, err = sys.stdout.buffer, sys.stderr.buffer
out.write(b"plain\r\n\n" + "ünïcode ✓".encode() + b"\n")
out.flush()
err.write(b"on stderr\n")
err.flush()
out.write(b"x" * (LIMIT + 10) + b"\n")
for number in range(50000):
    out.write(b"line %d\n" % number)
out.write(b"no newline at the end")
"""


def _collect(command: list[str]) -> tuple[list[LogLine], int]:
    async def run() -> tuple[list[LogLine], int]:
        executor = LocalExecutor()
        spec = JobSpec(run_id="r", path="s.a.j", attempt=1, image=None, command=command, env={})
        handle = await executor.start(spec)
        lines = [line async for line in executor.logs(handle)]
        status = await executor.wait(handle)
        await executor.destroy(handle)
        return lines, status.exit_code

    return asyncio.run(run())


def test_lines_come_out_whole_in_order_per_stream() -> None:
    lines, code = _collect([sys.executable, "-c", f"LIMIT = {_LIMIT}\n" + JOB])
    assert code == 0
    out = [line.text for line in lines if line.stream == "stdout"]
    err = [line.text for line in lines if line.stream == "stderr"]
    assert err == ["on stderr"]
    assert out[:3] == ["plain", "", "ünïcode ✓"]
    # a line longer than the limit comes out in pieces of the limit
    assert out[3] == "x" * _LIMIT and out[4] == "x" * 10
    assert out[5:-1] == [f"line {number}" for number in range(50000)]
    assert out[-1] == "no newline at the end"
    assert all(line.time.tzinfo is not None for line in lines)


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    script = "import sys; sys.stdout.buffer.write(b'ok\\n\\xff\\xfe bad\\nafter\\n')"
    lines, code = _collect([sys.executable, "-c", script])
    assert code == 0
    assert [line.text for line in lines] == ["ok", "\ufffd\ufffd bad", "after"]


def test_a_long_line_whose_end_comes_in_a_later_read_is_still_cut_at_the_limit() -> None:
    """However the pipe's reads fall: the end of a line over the limit arriving with its
    newline in a later read used to come out whole (a test that failed only under load)."""

    async def scenario() -> list[str]:
        stream = asyncio.StreamReader()
        queue: asyncio.Queue[list[LogLine] | None] = asyncio.Queue()
        reader = asyncio.create_task(_read(stream, "stdout", queue))
        stream.feed_data(b"x" * (_LIMIT - 5))
        while stream._buffer:  # type: ignore[attr-defined]  # let the reader take it all first
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)
        stream.feed_data(b"x" * 15 + b"\nnext\n")
        stream.feed_eof()
        await reader
        texts: list[str] = []
        while (batch := queue.get_nowait()) is not None:
            texts.extend(line.text for line in batch)
        return texts

    assert asyncio.run(scenario()) == ["x" * _LIMIT, "x" * 10, "next"]
