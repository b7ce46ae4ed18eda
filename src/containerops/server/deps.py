"""FastAPI dependencies of the API routes: the manager, the store, and who is calling.

Every ``/api/v1`` route takes ``Caller`` and calls ``caller.require(scope, namespace)``
(the namespace is the first segment of a flow's URI) before it reads or changes
anything; listings keep to ``caller.namespaces("read")``. A namespace the token
cannot see answers 404 worded like a missing flow or run, so nothing leaks.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from containerops.server.auth import Principal, principal
from containerops.server.manager import RunManager
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


Manager = Annotated[RunManager, Depends(get_manager)]
StoreDep = Annotated[Store, Depends(get_store)]
Caller = Annotated[Principal, Depends(caller)]


def namespace_of(uri: str) -> str:
    """The namespace a flow belongs to: the first segment of its URI."""
    return uri.split("/", 1)[0]


def visible_namespaces(caller: Principal) -> list[str] | None:
    """The namespaces a listing may show the caller; None for all (an administrator)."""
    caller.require("read")
    found = caller.namespaces("read")
    return None if found is None else sorted(found)


#: Ids and numbers in paths and queries: a row's id is at most a signed 64-bit integer, so
#: a larger one is refused (422) before it can overflow a query (a 500) or name anything.
RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="A run's id.")]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_ID, description="A delivery's id.")]
VersionNumber = Annotated[int, Path(ge=1, le=MAX_ID, description="A version number of the flow.")]
RunNumber = Annotated[int, Path(ge=1, le=MAX_ID, description="A run's number within its flow.")]
