"""A job's log as the API server streams it (``GET .../pods/NAME/log?follow&timestamps``):
each line begins with the time the kubelet read it (RFC3339Nano) and a space. Kubernetes
keeps no stream apart: every line is stdout's.

A follow can end before the container does (the API server or kubelet restarted, a proxy
timed out): it is then opened again from a few seconds back (``sinceSeconds``), and the
lines already read are told by their times and dropped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TypeVar

from containerops.executors.base import LogLine
from containerops.executors.docker.logs import parse_timestamp
from containerops.executors.lines import LineSplitter

#: Bytes read from a log stream at once.
READ_SIZE = 256 * 1024
#: Batches that may wait for the engine; past that the reader thread waits.
QUEUE_BATCHES = 64

Put = Callable[[list[LogLine]], None]
T = TypeVar("T")


class StampedLines:
    """The lines of one followed log stream, with the kubelet's times; those not after
    ``after`` (read before a reconnect) are dropped."""

    def __init__(self, after: datetime | None = None) -> None:
        self._splitter = LineSplitter("stdout")
        self.after = after
        self.last = after

    def feed(self, block: bytes, now: datetime) -> list[LogLine]:
        return self._stamp(self._splitter.feed(block, now))

    def close(self, now: datetime) -> list[LogLine]:
        return self._stamp(self._splitter.close(now))

    def _stamp(self, lines: list[LogLine]) -> list[LogLine]:
        stamped: list[LogLine] = []
        for line in lines:
            raw, space, text = line.text.partition(" ")
            try:
                at = parse_timestamp(raw.encode()) if space else line.time
            except ValueError:  # not a time: a line cut at the splitter's limit goes on
                at, text = line.time, line.text
            if self.after is not None and at <= self.after:
                continue
            stamped.append(LogLine("stdout", text, at))
        if stamped:
            self.last = stamped[-1].time
        return stamped


async def from_thread(
    work: Callable[[Put, threading.Event], None], name: str, on_stop: Callable[[], None]
) -> AsyncIterator[list[LogLine]]:
    """The batches ``work`` hands over from a thread of its own, as they come, until it
    returns (what it raises is raised here). Leaving early sets the event ``work`` is
    given and calls ``on_stop`` (which ends a blocked read)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[list[LogLine] | BaseException | None] = asyncio.Queue(QUEUE_BATCHES)
    stop = threading.Event()

    def put(item: list[LogLine] | BaseException | None) -> None:
        try:
            sent = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        except RuntimeError:  # the loop is closed: nobody listens
            stop.set()
            return
        while not stop.is_set():
            try:
                sent.result(timeout=0.5)
                return
            except concurrent.futures.TimeoutError:
                continue
        sent.cancel()

    def run() -> None:
        try:
            work(put, stop)
        except BaseException as exc:
            if not stop.is_set():
                put(exc)
            return
        if not stop.is_set():
            put(None)

    threading.Thread(target=run, name=name, daemon=True).start()
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        on_stop()


async def in_thread(work: Callable[[], T], name: str) -> T:
    """``work()`` in a thread of its own, not the event loop's shared pool (a few threads
    on two cores): a call that blocks for a job's whole life (its wait) must not hold up
    the calls of the other jobs of a wide fan-out."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            outcome, error = work(), None
        except BaseException as exc:
            outcome, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, outcome, error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await done
