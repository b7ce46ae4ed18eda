"""A small FastAPI app served by uvicorn on 127.0.0.1 that guards routes with the
``principal`` dependency the way the real routes do: tests of authentication and
RBAC that do not depend on the rest of the server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import Depends, FastAPI

from containerops.server.auth import Principal, principal
from containerops.store import Store


def guarded_app(store: Store) -> FastAPI:
    app = FastAPI()
    app.state.store = store

    @app.get("/ns/{namespace}/{scope}")
    def act(namespace: str, scope: str, who: Principal = Depends(principal)) -> dict[str, object]:
        who.require(scope, namespace, not_found=f"no flow in {namespace!r}")
        return {"user": who.user, "namespace": namespace, "scope": scope}

    @app.get("/visible/{scope}")
    def visible(scope: str, who: Principal = Depends(principal)) -> dict[str, object]:
        found = who.namespaces(scope)
        return {"namespaces": None if found is None else sorted(found)}

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
