"""A small HTTP server on 127.0.0.1 that answers every request with what it received.

``coops component test`` starts one and gives its address to examples as
``${COOPS_TEST_SERVER}``, so that components that call HTTP services (webhooks,
REST APIs) can be tested without any outside address. It records each request,
and answers ``200`` with a JSON echo of it (method, path, query, headers, body,
and the body parsed as JSON when it is JSON); a path starting with ``/status/NNN``
answers status NNN (so that a base URL ``.../status/401`` makes every call fail).
Tests use it as the one capture server for Slack, GitHub, webhook and service doubles:
``statuses`` answers the first requests with those statuses, ``answer`` answers as told.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

_STATUS_PATH = re.compile(r"^/status/([1-5][0-9][0-9])(?:/|$)")


@dataclass(frozen=True, slots=True)
class Received:
    """One request the server got."""

    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def echo(self) -> dict[str, Any]:
        text = self.body.decode("utf-8", errors="replace")
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return {
            "method": self.method,
            "path": self.path,
            "query": {k: v[0] if len(v) == 1 else v for k, v in self.query.items()},
            "headers": self.headers,
            "body": text,
            "json": parsed,
        }


#: A status, and a JSON-able body (or bytes or text, sent as they are).
Answer = tuple[int, Any]


@dataclass
class CaptureServer:
    """Start with ``with CaptureServer() as server:``; ``server.url`` is its address."""

    host: str = "127.0.0.1"
    received: list[Received] = field(default_factory=list)
    #: Statuses to answer the first requests with (then the echo, or ``answer``).
    statuses: list[int] = field(default_factory=list)
    #: Answers in place of the echo.
    answer: Callable[[Received], Answer] | None = None
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _url: str = ""

    @property
    def url(self) -> str:
        """Its address (still known once stopped, for what a test checks afterwards)."""
        assert self._url, "the server is not started"
        return self._url

    def start(self) -> CaptureServer:
        received, statuses, answer = self.received, self.statuses, self.answer
        lock = self._lock

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Received(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with lock:
                    received.append(request)
                    queued = statuses.pop(0) if statuses else None
                code, body = (answer or _echo)(request)
                payload = _encode(body)
                if queued is not None:
                    code = queued
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._url = f"http://{self.host}:{self._server.server_address[1]}"
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="capture-server", daemon=True)
        self._thread.start()
        return self

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The requests received, once there are at least ``count`` (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {len(self.received)}: {self.received}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> CaptureServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def _echo(request: Received) -> Answer:
    """200 with the request as JSON; the status a ``/status/NNN`` path names."""
    status = _STATUS_PATH.search(request.path)
    return (int(status.group(1)) if status else 200), request.echo()


def _encode(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()
