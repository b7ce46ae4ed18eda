"""Reading a container's output as ``docker run`` does: through an attach opened
before the container starts.

Following the json-file log (``/containers/{id}/logs?follow=1``) makes the Engine
write every line to a file, read it back, parse its JSON and send it as one HTTP
chunk: about 37,000 lines/s, and a last entry that Docker 20.10 sometimes forgets.
An attach (``POST /containers/{id}/attach?stream=1``, upgraded to a raw connection)
gets the bytes the container writes, in frames of up to 32 KiB with an 8-byte header
(stream id, size): a million short lines are a few thousand frames. Opened before
``start``, it misses nothing; the Engine ends it once the container's output is
closed, so the last line, with or without its newline, is there too.

Each stream's bytes are cut into lines by :class:`~containerops.executors.lines.LineSplitter`;
every line gets the time its block was read (the Engine's own timestamps belong to
the log file, which this does not read). Frames of one stream keep their order; a
block of frames comes out in frame order, so stdout and stderr interleave as the
Engine sent them.

An attached client that does not read holds the container's writes up (as a
terminal does with ``docker run``): the engine reads the logs while it waits, and the
reader thread stops reading only while the engine is behind (see :mod:`.follow`).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import docker.errors
import requests.exceptions

from containerops.executors.base import ExecutorError, LogLine, Stream
from containerops.executors.lines import LineSplitter

#: How much to read from the connection at once.
READ_SIZE = 1024 * 1024
_HEADER = struct.Struct(">BxxxL")
_STREAMS: dict[int, Stream] = {0: "stdout", 1: "stdout", 2: "stderr"}
_PARAMS = {"stdout": 1, "stderr": 1, "stream": 1, "logs": 0}


class Attachment:
    """An open attach connection to a created (not yet started) container."""

    def __init__(self, response: Any) -> None:
        self._response = response  # kept: closing it would close the connection
        self._reader: Any = response.raw._fp.fp  # the buffered socket reader http.client used
        self._closed = False

    def read(self) -> bytes:
        """The next bytes, blocking until some arrive; b"" at the end (or once closed)."""
        try:
            return bytes(self._reader.read1(READ_SIZE))
        except (OSError, ValueError):
            if self._closed:
                return b""
            raise

    def close(self) -> None:
        """End the connection; wakes a reader blocked on it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        sock: Any = getattr(getattr(self._reader, "raw", None), "_sock", None)
        with contextlib.suppress(OSError, AttributeError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self._response.close()


def open_attachment(api: Any, container_id: str) -> Attachment:
    """Attach to both output streams of ``container_id`` (to do before starting it)."""
    url = api._url("/containers/{0}/attach", container_id)
    try:
        response = api._post(
            url, params=_PARAMS, stream=True, headers={"Connection": "Upgrade", "Upgrade": "tcp"}
        )
        api._raise_for_status(response)
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        raise ExecutorError(f"cannot attach to container {container_id[:12]}: {exc}") from exc
    inner = getattr(response.raw, "_fp", None)
    if not hasattr(getattr(inner, "fp", None), "read1"):
        response.close()
        raise ExecutorError("the Docker Engine's attach answer is not a raw stream")
    return Attachment(response)


class FrameSplitter:
    """Attach frames in, lines out: keeps the unfinished frame and each stream's unfinished line."""

    def __init__(self) -> None:
        self._buffer = b""
        self._streams = {name: LineSplitter(name) for name in ("stdout", "stderr")}

    def feed(self, data: bytes, now: datetime) -> list[LogLine]:
        """The lines ``data`` completes, in the order their frames came."""
        buffer = self._buffer + data if self._buffer else data
        lines: list[LogLine] = []
        unpack, pos, end = _HEADER.unpack_from, 0, len(buffer)
        run_stream: Stream | None = None
        run: list[bytes] = []
        while end - pos >= 8:
            kind, size = unpack(buffer, pos)
            if pos + 8 + size > end:
                break
            stream = _STREAMS.get(kind, "stdout")
            if stream != run_stream and run:  # consecutive frames of one stream are cut together
                lines += self._streams[run_stream].feed(b"".join(run), now)  # type: ignore[index]
                run = []
            run_stream = stream
            run.append(buffer[pos + 8 : pos + 8 + size])
            pos += 8 + size
        if run:
            lines += self._streams[run_stream].feed(b"".join(run), now)  # type: ignore[index]
        self._buffer = buffer[pos:]
        return lines

    def close(self, now: datetime) -> list[LogLine]:
        """The connection ended: each stream's unterminated last line."""
        return self._streams["stdout"].close(now) + self._streams["stderr"].close(now)


def pump_attached(
    read: Callable[[], bytes], deliver: Callable[[list[LogLine]], bool], stop: threading.Event
) -> None:
    """Read until the connection ends, delivering each read's lines as one batch (a worker
    thread's loop; ``deliver`` returns False when nobody listens any more)."""
    frames = FrameSplitter()
    while not stop.is_set():
        block = read()
        if not block:
            break
        lines = frames.feed(block, datetime.now(UTC))
        if lines and not deliver(lines):
            return
    if not stop.is_set():
        rest = frames.close(datetime.now(UTC))
        if rest:
            deliver(rest)
