"""A small HTTP server on 127.0.0.1 that records what it is sent: the stand-in for
Slack, GitHub's API and webhook receivers in tests (they are not reachable here)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Capture:
    """What the server got, in order; ``statuses`` are answered first (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[Captured] = []
        self.statuses = list(statuses or [])
        self.url = ""
        self._lock = threading.Lock()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Captured]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {len(self.requests)}: {self.requests}")


@contextmanager
def capture_server(statuses: list[int] | None = None) -> Iterator[Capture]:
    capture = Capture(statuses)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with capture._lock:
                capture.requests.append(
                    Captured("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = capture.statuses.pop(0) if capture.statuses else 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    capture.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield capture
    finally:
        httpd.shutdown()
        httpd.server_close()
