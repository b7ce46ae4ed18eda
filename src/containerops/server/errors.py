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
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from containerops.engine.secrets import MissingSecret
from containerops.model.diagnostics import FlowInvalid
from containerops.server.manager import RegistryUnavailable, ServerStopping
from containerops.store import StoreError

log = logging.getLogger("containerops.server")


class ErrorBody(BaseModel):
    """Every error answer: the message, and for some errors more fields (``problems`` of an
    invalid request or flow, a webhook's ``verdict``, a run's ``status_now``)."""

    model_config = ConfigDict(extra="allow")

    error: str


#: What each error status means in this API, as the OpenAPI document says it.
_MEANING = {
    400: "A name in the route or the body is not valid, or the body (a webhook's payload) cannot be read.",
    401: "No token, or a token that is unknown, revoked or expired (webhooks: not proved).",
    403: "The token's scope or the user's role is short of what the route needs.",
    404: "No such resource, or one in a namespace the token cannot read (worded alike).",
    409: "The resource's state does not allow it (taken, already ended, not yet ended).",
    410: "The callback's job stopped waiting for it.",
    413: "The request body is larger than the route's cap.",
    422: "The request (parameters, body, flow) is invalid: every problem is listed.",
    503: "The server is stopping, or the component registry cannot be reached: try again later.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each answered as :class:`ErrorBody`.

    The schema is given as JSON content (not as ``model``, which FastAPI files under the
    route's own media type: ``text/event-stream`` for the log stream, whose errors are JSON).
    """
    content = {"application/json": {"schema": ErrorBody.model_json_schema()}}
    return {status: {"description": _MEANING[status], "content": content} for status in statuses}


def answer(description: str) -> dict[str, Any]:
    """An OpenAPI response other than the route's own status, answered as a JSON object."""
    return {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}


#: What every route behind a token may answer (``422``: FastAPI's own checks too).
WITH_TOKEN = error_responses(401, 403, 404, 422)


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


#: The methods a 405's ``Allow`` header may name.
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> str:
    """The ``Allow`` header of a 405: every method some route serves at this path.

    Starlette names only the methods of the first route whose path matched, but a path
    often has several routes (a flow's GET and DELETE). Each method is tried as the
    router would route it, so the answer holds however the routes are grouped.
    """
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]
    return ", ".join(allowed)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    return JSONResponse({"error": detail}, status_code=exc.status_code, headers=headers)


def _message(error: dict[str, Any]) -> str:
    """pydantic's message; for a name in the path or query that breaks its pattern, with the
    name (never a body's value: it may be a secret)."""
    message = str(error.get("msg", ""))
    value, where = error.get("input"), error.get("loc", ("",))[0]
    mismatch = error.get("type") == "string_pattern_mismatch"
    if mismatch and where in ("path", "query") and isinstance(value, str):
        message += f" (got {value[:80]!r})"
    return message


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"where": ".".join(str(part) for part in error.get("loc", ())), "message": _message(error)}
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
