"""A small real HTTP server on 127.0.0.1 that records what it got and answers as told."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Got:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


Answer = tuple[int, object]  # status, and a JSON-able body (or bytes / str as is)


@contextmanager
def capture(answer: Callable[[Got], Answer] = lambda got: (200, {})) -> Iterator[tuple[str, list[Got]]]:
    """``(base URL, requests received)`` while the server runs."""
    received: list[Got] = []

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            got = Got(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
            received.append(got)
            status, body = answer(got)
            data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body))
            raw = data.encode() if isinstance(data, str) else data
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
