"""A Git repository made by the test and served on 127.0.0.1 over Git's dumb HTTP protocol.

Dumb HTTP is plain files (after ``git update-server-info``), so a tiny HTTP server
serves it; this one can also demand a token, as a Git host would.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repository(root: Path, files: dict[str, str], *, more: dict[str, str] | None = None) -> Path:
    """A working repository with ``files`` committed on main and tagged v1, then ``more``
    committed on main (when given); returns its bare copy, ready for dumb HTTP."""
    work = root / "work"
    work.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=work)
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    git("tag", "v1", cwd=work)
    for name, text in (more or {}).items():
        (work / name).write_text(text)
        git("add", ".", cwd=work)
        git("commit", "-q", "-m", f"add {name}", cwd=work)
    bare = root / "repo.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
    git("update-server-info", cwd=bare)
    return bare


@contextmanager
def serve(folder: Path, token: str | None = None) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1; with ``token``, only to ``x-access-token:<token>``."""
    expected = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode() if token else None

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if expected is not None and self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serve_daemon(folder: Path) -> Iterator[str]:
    """Serve the repositories under ``folder`` with ``git daemon`` (the smart git://
    protocol, which shallow clones need) on 127.0.0.1; yields ``git://127.0.0.1:PORT``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    daemon = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--listen=127.0.0.1",
            f"--port={port}",
            f"--base-path={folder}",
            str(folder),
        ],
        env={**os.environ, **GIT_ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise RuntimeError(f"git daemon did not start on port {port}")
            time.sleep(0.05)
        yield f"git://127.0.0.1:{port}"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
