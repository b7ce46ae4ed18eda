"""A cap on the size of every request body, checked before and while it is read.

An unauthenticated caller must not be able to make the server hold or store
gigabytes: a body over its route's cap is refused with 413 as soon as its
declared length (or, for a chunked body, its bytes so far) passes the cap, and
nothing of it is kept. Webhooks get GitHub's own 25 MB payload cap; every other
route, ``COOPS_SERVER_MAX_BODY`` bytes (10 MiB unless set).
"""

from __future__ import annotations

import json
import os

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: GitHub caps webhook payloads at 25 MB; GitLab's are smaller.
MAX_HOOK_BODY = 25 * 1024 * 1024
DEFAULT_MAX_BODY = 10 * 1024 * 1024
HOOK_PREFIXES = ("/hooks/", "/hook/v1/")


def max_body(path: str) -> int:
    """The cap for a request to ``path``."""
    if path.startswith(HOOK_PREFIXES):
        return MAX_HOOK_BODY
    setting = os.environ.get("COOPS_SERVER_MAX_BODY", "").strip()
    return int(setting) if setting.isdigit() else DEFAULT_MAX_BODY


def too_large(cap: int) -> HTTPException:
    return HTTPException(413, f"the request body is larger than {cap} bytes, this route's limit")


class BodyLimit:
    """ASGI middleware refusing bodies over :func:`max_body` with 413."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = max_body(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > cap:
            await _answer_413(send, cap)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:  # raised inside the route's read: the error handlers answer 413
                    raise too_large(cap)
            return message

        await self.app(scope, counted, send)


async def _answer_413(send: Send, cap: int) -> None:
    body = json.dumps({"error": too_large(cap).detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
