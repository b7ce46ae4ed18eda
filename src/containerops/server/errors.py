"""API errors: always JSON ``{"error": message, ...}`` with the right status.

Route code raises ``ApiError`` (or a subclass) for anything the caller did
wrong; FastAPI's own validation errors become 422 with every problem; a bug of
ours becomes a 500 JSON answer and a logged traceback, never an HTML page.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from containerops.engine.secrets import MissingSecret
from containerops.model.diagnostics import FlowInvalid
from containerops.server.manager import RegistryUnavailable, ServerStopping
from containerops.store import StoreError

log = logging.getLogger("containerops.server")


class ApiError(Exception):
    """A request that cannot be served, with the status and the message to answer."""

    status = 400

    def __init__(self, message: str, status: int | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.message, **self.extra}


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _store_error(_request: Request, exc: Exception) -> JSONResponse:
    # The store's lookups say "no run ..." plainly; anything it refuses is the caller's.
    message = str(exc)
    return error_response(404 if message.startswith("no ") else 409, message)


async def _missing_secret(_request: Request, exc: Exception) -> JSONResponse:
    # A flow referencing a secret its namespace lacks: refused before the run starts.
    assert isinstance(exc, MissingSecret)
    return error_response(422, str(exc), missing_secrets=sorted(exc.missing))


async def _flow_invalid(_request: Request, exc: Exception) -> JSONResponse:
    # A flow sent to us, or a stored version this release no longer accepts: every problem, with its line.
    assert isinstance(exc, FlowInvalid)
    errors = exc.errors
    count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
    return error_response(
        422,
        f"the flow is invalid: {count}; first: {errors[0] if errors else exc}",
        problems=[d.to_json(file=False) for d in exc.diagnostics],
    )


async def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(503, str(exc))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"where": ".".join(str(part) for part in error.get("loc", ())), "message": error.get("msg", "")}
        for error in exc.errors()
    ]
    summary = "; ".join(f"{p['where']}: {p['message']}" for p in problems[:5])
    return error_response(422, f"invalid request: {summary}", problems=problems)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("internal error serving %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, f"internal server error: {type(exc).__name__}; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(MissingSecret, _missing_secret)
    app.add_exception_handler(FlowInvalid, _flow_invalid)
    app.add_exception_handler(ServerStopping, _unavailable)
    app.add_exception_handler(RegistryUnavailable, _unavailable)  # 503 too: try again later
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
