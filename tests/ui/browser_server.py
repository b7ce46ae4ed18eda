"""One chromium shared by many Node scripts: ``ui/e2e/browser_server.mjs`` (a playwright
browser server) run as long as the ``with`` block; the scripts connect to its endpoint
(``COOPS_UI_BROWSER_WS``). Used by tests/ui's session fixture and bench/ui_browser_start.py."""

from __future__ import annotations

import os
import select
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

E2E = Path(__file__).resolve().parents[2] / "ui" / "e2e"


class BrowserServerError(RuntimeError):
    """chromium did not start; the message holds what the server said."""


@contextmanager
def browser_server(chromium: str, errors: IO[str] | None = None, timeout: float = 60) -> Iterator[str]:
    """The endpoint (``ws://...``) of a chromium started now and closed at the block's end."""
    env = {key: value for key, value in os.environ.items() if key != "COOPS_UI_BROWSER_WS"}
    server = subprocess.Popen(
        ["node", str(E2E / "browser_server.mjs")],
        env={**env, "CHROMIUM": chromium},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    try:
        ready, _, _ = select.select([server.stdout], [], [], timeout)
        endpoint = server.stdout.readline().strip() if ready else ""
        if not endpoint.startswith("ws://"):
            raise BrowserServerError(f"no endpoint from browser_server.mjs within {timeout} s: {endpoint!r}")
        yield endpoint
    finally:
        server.stdin.close()  # browser_server.mjs closes chromium and ends
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
