"""Fixtures for server tests: a real ``coops server`` app on 127.0.0.1, and tokens.

``server`` serves ``create_app`` with uvicorn in a thread on a free port (dummy
executor); ``start_server(executor=..., max_concurrent_runs=...)`` makes others.
A ``LiveServer`` has the base ``url``, the ``store``, the ``app`` (``manager``),
``client(token)`` for an httpx client, ``call(coro)`` to run a coroutine on the
server's event loop, and ``restart()`` (a graceful stop, then a new app on the
same store and port). ``admin_token`` is a token of a site administrator.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from containerops.executors.base import Executor
from containerops.server import RunManager, create_app
from containerops.server.accounts import create_token, create_user
from containerops.store import Store

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A server app served by uvicorn in a thread of this process."""

    def __init__(self, store: Store, executor: str | Executor = "dummy", **options: Any) -> None:
        self.store = store
        self.executor = executor
        self.options = options
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app: FastAPI | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def manager(self) -> RunManager:
        assert self.app is not None
        manager: RunManager = self.app.state.manager
        return manager

    def start(self) -> None:
        self.app = create_app(executor=self.executor, store=self.store, **self.options)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        server = self._server = uvicorn.Server(config)
        loop = self._loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(server.serve())
            finally:
                loop.close()

        self._thread = threading.Thread(target=serve, daemon=True, name="coops-test-server")
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(30)
            assert not self._thread.is_alive(), "the test server did not stop"
        self._server = self._thread = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def call(self, coro: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30) -> T:
        """Run ``coro()`` on the server's event loop (where the manager lives) and return its result."""
        assert self._loop is not None and self._server is not None, "the server is not running"
        return asyncio.run_coroutine_threadsafe(coro(), self._loop).result(timeout)

    def client(self, token: str | None = None, **options: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=options.pop("timeout", 30), **options)


@pytest.fixture
def start_server(store: Store) -> Iterator[Callable[..., LiveServer]]:
    """Start servers on the test's store: ``start_server(executor="local", max_concurrent_runs=2)``."""
    started: list[LiveServer] = []

    def start(executor: str | Executor = "dummy", **options: Any) -> LiveServer:
        live = LiveServer(store, executor, **options)
        live.start()
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()


@pytest.fixture
def server(start_server: Callable[..., LiveServer]) -> LiveServer:
    """A server with the dummy executor."""
    return start_server()


@pytest.fixture
def admin_token(store: Store) -> str:
    """A token of the site administrator ``root`` (every namespace, every scope)."""
    create_user(store, "root", admin=True)
    return create_token(store, "root", "admin", name="tests")


@pytest.fixture
def admin(server: LiveServer, admin_token: str) -> Iterator[httpx.Client]:
    """An httpx client of ``server`` authenticated as the administrator."""
    with server.client(admin_token) as client:
        yield client
