"""Reading a container's log stream: bytes in, whole lines out.

The Engine's ``/containers/{id}/logs`` endpoint (non-TTY container, ``timestamps=1``)
sends *frames*: an 8-byte header (stream id, payload size) and a payload holding one
log *entry* of the json-file driver, prefixed by its RFC3339Nano timestamp and a
space. An entry is normally one whole line ending in ``\\n``; but the Engine cuts
lines longer than 16 KiB into several entries of which only the last ends in
``\\n``, and a last line printed without a newline is an entry without one. So lines
are rebuilt per stream by joining entries until a newline; a line keeps the
timestamp of its first piece; what is unterminated at the end is flushed as a line.
(The json-file driver keeps each piece as a JSON string, so a UTF-8 character that a
16 KiB cut splits comes back as U+FFFD replacement characters; the ``local`` driver
would keep the bytes but drops every newline, so pieces could not be told from lines.)

One connection carries both streams, so stdout and stderr come out in the order the
Engine logged them.

Three things here exist for measured reasons:

* Speed. The Engine sends every frame as its own HTTP chunk (~45 bytes for a short
  line). Reading them through ``http.client`` costs ~8 µs a chunk, so
  :class:`ChunkedBody` reads the socket in 256 KiB blocks and undoes the chunked
  encoding itself; the decoder has a fast path for the usual one-line entry and
  parses a timestamp only once per second of output. 200,000 lines take about a
  second instead of six.
* Completeness. Docker 20.10 sometimes ends a *followed* stream before sending the
  container's last entry (seen with a final line without newline). So when the
  followed stream ends, :func:`pump` asks once more, without following, for the
  entries from the last timestamp on, and skips those already seen.
* Cancellation. Everything blocking happens in :func:`pump`, in a worker thread that
  stops when its ``stop`` event is set and the socket is shut down.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from containerops.executors.base import LogLine, Stream

#: How much to read from the connection at once; many entries per read under load.
READ_SIZE = 256 * 1024
_HEADER = struct.Struct(">BxxxL")
_STREAMS: dict[int, Stream] = {0: "stdout", 1: "stdout", 2: "stderr", 3: "stderr"}
_NEWLINE, _CR, _DOT, _ZULU = 0x0A, 0x0D, 0x2E, 0x5A


def parse_timestamp(raw: bytes) -> datetime:
    """RFC3339Nano (``2024-05-01T12:34:56.123456789Z``) to an aware UTC datetime.

    Python's ``fromisoformat`` takes at most microseconds, so the fraction is cut to
    six digits first. The Engine writes UTC ("Z"); an offset is converted to UTC.
    """
    text = raw.decode("ascii")
    dot = text.find(".", 19)
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        text = text[: min(end, dot + 7)] + text[end:]
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class ChunkedBody:
    """The body of a streamed HTTP response, in blocks as large as the socket offers.

    ``fp`` is the response's buffered socket reader; with ``chunked`` the
    ``Transfer-Encoding: chunked`` framing is removed here.
    """

    def __init__(self, fp: Any, *, chunked: bool) -> None:
        self._fp = fp
        self._chunked = chunked
        self._raw = bytearray()
        self._left = 0  # bytes of the current chunk still to come; -1: its CRLF is next
        self._done = False

    def read(self) -> bytes:
        """The next body bytes, blocking until some arrive; b"" at the end."""
        if not self._chunked:
            return bytes(self._fp.read1(READ_SIZE))
        while not self._done:
            data = self._decode()
            if data:
                return data
            block = self._fp.read1(READ_SIZE)
            if not block:
                self._done = True
                break
            self._raw += block
        return b""

    def _decode(self) -> bytes:
        raw, pos, out = self._raw, 0, bytearray()
        while True:
            if self._left > 0:
                take = min(self._left, len(raw) - pos)
                out += raw[pos : pos + take]
                pos += take
                self._left -= take
                if self._left:
                    break
                self._left = -1
            if self._left == -1:
                if len(raw) - pos < 2:
                    break
                pos += 2
                self._left = 0
            eol = raw.find(b"\r\n", pos)
            if eol == -1:
                break
            size = int(bytes(raw[pos:eol]).split(b";", 1)[0], 16)
            pos = eol + 2
            if size == 0:  # the last chunk (trailers, if any, are of no interest)
                self._done = True
                break
            self._left = size
        del raw[:pos]
        return bytes(out)


class FrameDecoder:
    """Incremental decoder: feed it bytes as they come, get the finished lines back.

    Bytes arrive in arbitrary blocks (a frame may be split over reads, a read may
    hold thousands of frames), so it keeps the unfinished frame and, per stream, the
    unfinished line with its start time. It also remembers the newest timestamp seen
    and how many entries carried it, for :meth:`resume`.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._partial: dict[Stream, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self._started: dict[Stream, datetime] = {}
        self._second = b""
        self._fields = (1, 1, 1, 0, 0, 0)
        #: The newest timestamp seen (fixed-width RFC3339, so bytes order is time order).
        self.newest = b""
        self._at_newest = 0
        self._skip_before = b""
        self._skip_at = 0

    def feed(self, data: bytes) -> list[LogLine]:
        """Add ``data`` from the connection; return the lines it completed."""
        buffer = self._buffer
        buffer += data
        lines: list[LogLine] = []
        append, find, unpack, partial = lines.append, buffer.find, _HEADER.unpack_from, self._partial
        pos, end = 0, len(buffer)
        while end - pos >= 8:
            kind, size = unpack(buffer, pos)
            start = pos + 8
            stop = start + size
            if stop > end:
                break
            pos = stop
            space = find(b" ", start, stop)
            if space == -1 or not 0x30 <= buffer[start] <= 0x39:  # not timestamped
                stamp, space = b"", start - 1
            else:
                stamp = bytes(buffer[start:space])
            if self._skip_before and self._already_seen(stamp):
                continue
            if stamp > self.newest:
                self.newest, self._at_newest = stamp, 1
            elif stamp == self.newest:
                self._at_newest += 1
            stream = _STREAMS.get(kind, "stdout")
            whole = buffer[stop - 1] == _NEWLINE and find(b"\n", space + 1, stop - 1) == -1
            if whole and not partial[stream]:
                # The usual entry: one whole line.
                cut = stop - 2 if stop - 2 > space and buffer[stop - 2] == _CR else stop - 1
                text = buffer[space + 1 : cut].decode("utf-8", errors="replace")
                append(LogLine(stream, text, self._time(stamp)))
            else:
                self._pieces(stream, bytes(buffer[space + 1 : stop]), self._time(stamp), lines)
        del buffer[:pos]
        return lines

    def resume(self, data: bytes) -> list[LogLine]:
        """Feed a second, unfollowed read that starts at :attr:`newest`: entries
        already seen (older, or as many of the newest as were seen) are skipped."""
        self._buffer.clear()  # a frame cut off by the end of the first read comes again
        self._skip_before, self._skip_at = self.newest, self._at_newest
        try:
            return self.feed(data)
        finally:
            self._skip_before = b""

    def close(self) -> list[LogLine]:
        """The stream has ended: return every line still unterminated."""
        lines: list[LogLine] = []
        for stream, pending in self._partial.items():
            if pending:
                lines.append(_line(stream, bytes(pending), self._started.pop(stream)))
                pending.clear()
        self._buffer.clear()
        return lines

    def _already_seen(self, stamp: bytes) -> bool:
        if stamp < self._skip_before:
            return True
        if stamp == self._skip_before and self._skip_at > 0:
            self._skip_at -= 1
            return True
        self._skip_before = b""  # past everything seen: take the rest as it comes
        return False

    def _pieces(self, stream: Stream, text: bytes, time: datetime, lines: list[LogLine]) -> None:
        """An entry that is a piece of a line, or ends one, or (rarely) holds several."""
        pending = self._partial[stream]
        if not pending:
            self._started[stream] = time
        start = 0
        while (newline := text.find(b"\n", start)) != -1:
            pending += text[start:newline]
            lines.append(_line(stream, bytes(pending), self._started[stream]))
            pending.clear()
            self._started[stream] = time
            start = newline + 1
        pending += text[start:]

    def _time(self, stamp: bytes) -> datetime:
        if len(stamp) == 30 and stamp[19] == _DOT and stamp[29] == _ZULU:
            # The Engine's fixed-width UTC form: parse the second once, add microseconds.
            if stamp[:19] != self._second:
                self._second = stamp[:19]
                moment = parse_timestamp(self._second + b"Z")
                self._fields = (
                    moment.year,
                    moment.month,
                    moment.day,
                    moment.hour,
                    moment.minute,
                    moment.second,
                )
            year, month, day, hour, minute, second = self._fields
            return datetime(year, month, day, hour, minute, second, int(stamp[20:26]), UTC)
        try:
            return parse_timestamp(stamp) if stamp else datetime.now(UTC)
        except ValueError:
            return datetime.now(UTC)


def _line(stream: Stream, raw: bytes, time: datetime) -> LogLine:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return LogLine(stream=stream, text=raw.decode("utf-8", errors="replace"), time=time)


def pump(
    read: Callable[[], bytes],
    deliver: Callable[[list[LogLine]], bool],
    stop: threading.Event,
    catch_up: Callable[[bytes], bytes] | None = None,
) -> None:
    """Read blocks until the stream ends, delivering each block's lines as one batch.

    Runs in a worker thread. ``read`` blocks until data arrives and returns b"" at the
    end; ``deliver`` returns False when nobody listens any more, which ends the pump.
    ``catch_up(newest_timestamp)`` returns an unfollowed read of the entries from that
    timestamp on, to recover what a followed stream may have missed at its end.
    """
    decoder = FrameDecoder()
    while not stop.is_set():
        chunk = read()
        if not chunk:
            break
        lines = decoder.feed(chunk)
        if lines and not deliver(lines):
            return
    if stop.is_set():
        return
    rest = decoder.resume(catch_up(decoder.newest)) if catch_up is not None else []
    rest += decoder.close()
    if rest:
        deliver(rest)
