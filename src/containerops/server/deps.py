"""FastAPI dependencies of the API routes: the manager, the store, and who is calling.

Every ``/api/v1`` route takes ``Caller`` and calls ``caller.require(scope, namespace)``
(the namespace is the first segment of a flow's URI) before it reads or changes
anything; listings keep to ``caller.namespaces("read")``. A namespace the token
cannot see answers 404 worded like a missing flow or run, so nothing leaks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import BeforeValidator

from containerops.model.names import ENV_NAME, NAME, URI_PART
from containerops.server.auth import SESSION_COOKIE, Principal, principal
from containerops.server.config import ServerConfig
from containerops.server.manager import RunManager
from containerops.server.names import JOB_PATH, MAX_PART, uri_part
from containerops.server.secrets import MAX_NAME as MAX_SECRET_NAME
from containerops.store import Store
from containerops.store.values import MAX_ID


# The dependencies are coroutines on purpose: FastAPI runs a plain ``def`` dependency in
# its thread pool, and those hops cost more than the work (a token check is a fraction
# of a millisecond on SQLite), several times per request.
async def get_manager(request: Request) -> RunManager:
    manager: RunManager = request.app.state.manager
    return manager


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def caller(request: Request) -> Principal:
    """The authenticated caller (the auth part's ``principal``), checked on the event loop."""
    return principal(request)


def anonymous_read(request: Request) -> bool:
    """Whether this server lets anyone without a token read public components
    (``app.state.anonymous_read``, else ``COOPS_SERVER_ANONYMOUS_READ``)."""
    configured = getattr(request.app.state, "anonymous_read", None)
    return bool(configured) if configured is not None else ServerConfig.from_env().anonymous_read


async def reader(request: Request) -> Principal | None:
    """The caller of a route that reads public components: None for a request without a
    token or session when the server allows anonymous reads, else as :func:`caller`."""
    signed = request.headers.get("authorization") or SESSION_COOKIE in request.cookies
    if not signed and anonymous_read(request):
        return None
    return principal(request)


def reads(caller: Principal | None) -> Callable[[str], bool]:
    """namespace -> may ``caller`` (None: anonymous) read its private components."""
    if caller is None:
        return lambda _namespace: False
    return lambda namespace: caller.can("read", namespace)


Manager = Annotated[RunManager, Depends(get_manager)]
StoreDep = Annotated[Store, Depends(get_store)]
Caller = Annotated[Principal, Depends(caller)]
Reader = Annotated[Principal | None, Depends(reader)]


def namespace_of(uri: str) -> str:
    """The namespace a flow belongs to: the first segment of its URI."""
    return uri.split("/", 1)[0]


def visible_namespaces(caller: Principal) -> list[str] | None:
    """The namespaces a listing may show the caller; None for all (an administrator)."""
    caller.require("read")
    found = caller.namespaces("read")
    return None if found is None else sorted(found)


def listing_namespaces(caller: Principal, namespace: str | None) -> list[str] | None:
    """What a listing shows: the one ``namespace`` asked for (the web UI's namespace
    switcher; 404 if the caller cannot read it, as a missing one), else all it may see."""
    if namespace is None:
        return visible_namespaces(caller)
    uri_part(namespace, "namespace")
    caller.require("read", namespace)
    return [namespace]


#: Ids and numbers in paths and queries: a row's id is at most a signed 64-bit integer, so
#: a larger one is refused (422) before it can overflow a query (a 500) or name anything.
RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="A run's id.")]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_ID, description="A delivery's id.")]
VersionNumber = Annotated[int, Path(ge=1, le=MAX_ID, description="A version number of the flow.")]
RunNumber = Annotated[int, Path(ge=1, le=MAX_ID, description="A run's number within its flow.")]


def _not_a_number(value: object) -> object:
    """pydantic takes a number as seconds since 1970 (``until=0.5`` was 1970-01-01): a
    time in a query is ISO 8601 text only, as the OpenAPI document says."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("a time is ISO 8601 text such as 2026-12-03T12:00:00Z, not a number")
    return value


#: A time in a query (``since``, ``until``): ISO 8601, with or without an offset (UTC then).
IsoTime = Annotated[datetime, BeforeValidator(_not_a_number)]


def whole(pattern: re.Pattern[str]) -> str:
    """A rule of the model as an OpenAPI pattern, which must match the whole value."""
    text = pattern.pattern
    return text if text.startswith("^") else f"^(?:{text})$"


#: Patterns of names in queries and bodies: a flow's URI is three parts of it.
FLOW_PART = whole(URI_PART)
FLOW_URI = "^" + "/".join([f"(?:{URI_PART.pattern})"] * 3) + "$"
JOB = whole(JOB_PATH)

#: Names in paths, with the rule of the part that owns them, so the OpenAPI document says
#: which names exist and a malformed one is refused (422) before any lookup.
FlowPart = Annotated[
    str,
    Path(
        pattern=FLOW_PART,
        max_length=MAX_PART,
        description="A part of a flow's URI (namespace, repository, name) or a tag; no '..'.",
    ),
]
AccountName = Annotated[str, Path(pattern=whole(NAME), description="A user's or an organization's name.")]
SecretName = Annotated[
    str, Path(pattern=whole(ENV_NAME), max_length=MAX_SECRET_NAME, description="A secret's name.")
]
#: ``?namespace=`` of a listing (runs, deliveries, schedules): only that namespace's flows.
NamespaceQuery = Annotated[
    str | None,
    Query(description="Only this namespace's flows.", max_length=MAX_PART, pattern=FLOW_PART),
]
ComponentName = Annotated[str, Path(pattern=whole(NAME), description="A component's namespace or name.")]
