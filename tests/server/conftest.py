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
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from containerops.executors.base import Executor
from containerops.server import RunManager, create_app
from containerops.store import Store
from containerops.store.accounts import create_token, create_user

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


class ServerProcess:
    """``coops server`` as a process of its own, on the test's COOPS_HOME: for what only a
    real process shows (being killed, the command line)."""

    def __init__(
        self, home: Path, executor: str = "dummy", *extra: str, env: dict[str, str] | None = None
    ) -> None:
        self.home = home
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable, "-m", "containerops.cli.main", "server",
            "--port", str(self.port), "--executor", executor, "--log-level", "warning", *extra,
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr_text = ""

    def start(self) -> None:
        env = {**os.environ, "COOPS_HOME": str(self.home)}
        # The test's database (COOPS_DATABASE_URL when --database names a server), unless
        # ``env`` names another.
        env.update(self.env)
        # its log goes to a file: a pipe nobody reads while it runs would hold the server up
        # once full (64 KiB of warnings)
        logged, name = tempfile.mkstemp(prefix="coops-server-", suffix=".log")
        self.log_path = Path(name)
        try:
            self.process = subprocess.Popen(self.args, env=env, stdout=subprocess.DEVNULL, stderr=logged)
        finally:
            os.close(logged)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/openapi.json", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                stderr = self._logged()
                raise RuntimeError(f"coops server did not start: {stderr}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to record anything."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.stderr_text = self._logged()  # what it logged, for the test to read
            self.log_path.unlink(missing_ok=True)
            self.process = None

    def _logged(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            finally:
                self.kill()


@pytest.fixture
def server_process(coops_home: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start ``coops server`` processes on the test's COOPS_HOME (stopped at the end)."""
    started: list[ServerProcess] = []

    def start(executor: str = "dummy", *extra: str) -> ServerProcess:
        process = ServerProcess(coops_home, executor, *extra)
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
