"""A Docker Engine client connected on first use, and a pool of threads of its own for
the SDK's short blocking calls (create, start, inspect, remove), shared by the docker
and swarm executors.

The pool is not the event loop's default one (6 threads on 2 cores): a matrix at
``max_parallel: 20`` starts, and a ``fail_fast`` removes, 20 jobs at once, as
``xargs -P 20`` would.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import docker

from containerops.executors.docker_client import connect

T = TypeVar("T")

#: Threads for the short calls: enough for the widest fan-out to start (or stop) at once.
CALL_THREADS = 32


def _undo_late(undo: Callable[[T], None], future: Future[T]) -> None:
    if not future.cancelled() and future.exception() is None:
        undo(future.result())


class EngineCalls:
    """The client and the call threads of one executor."""

    def __init__(self, thread_prefix: str) -> None:
        self._prefix = thread_prefix
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()
        self._threads: ThreadPoolExecutor | None = None

    def api(self) -> Any:
        """The low-level API client, connecting on first use (raises ExecutorError)."""
        with self._lock:
            if self._client is None:
                self._client = connect()
            return self._client.api

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """A short blocking call of the SDK, in the pool's threads."""
        return await self.submit(fn, *args)

    async def call_or_undo(self, fn: Callable[..., T], undo: Callable[[T], None], *args: Any) -> T:
        """A call that creates something (a container, a service): if our caller is cancelled
        while it runs, the call still ends in its thread, and ``undo`` gets what it made there,
        since nobody else will ever hold it (even if the event loop has ended by then)."""
        made = self._pool().submit(fn, *args)
        try:
            return await asyncio.shield(asyncio.wrap_future(made))
        except asyncio.CancelledError:
            made.add_done_callback(functools.partial(_undo_late, undo))
            raise

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Hand ``fn`` to the pool's threads now (it runs even if nobody awaits it)."""
        return asyncio.get_running_loop().run_in_executor(self._pool(), functools.partial(fn, *args))

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(CALL_THREADS, thread_name_prefix=self._prefix)
            return self._threads

    def close(self) -> None:
        """Close the connection pool (the next call reconnects) and let the call threads go."""
        with self._lock:
            client, self._client = self._client, None
            threads, self._threads = self._threads, None
        if client is not None:
            client.close()
        if threads is not None:
            threads.shutdown(wait=False)
