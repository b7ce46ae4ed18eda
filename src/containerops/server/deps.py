"""FastAPI dependencies of the API routes: the manager, the store, and who is calling.

Every ``/api/v1`` route takes ``Caller`` and calls ``caller.require(scope, namespace)``
(the namespace is the first segment of a flow's URI) before it reads or changes
anything: this module is the one place where the auth part is wired in.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Request

from containerops.server.manager import RunManager
from containerops.store import Store

Scope = Literal["read", "write", "admin"]


def get_manager(request: Request) -> RunManager:
    manager: RunManager = request.app.state.manager
    return manager


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


class OpenPrincipal:
    """Until the auth part lands: every caller may do everything (no tokens exist yet)."""

    name = "anonymous"

    def require(self, scope: Scope, namespace: str | None = None) -> None:
        return None

    def can(self, scope: Scope, namespace: str) -> bool:
        return True


def principal(request: Request) -> OpenPrincipal:
    return OpenPrincipal()


Manager = Annotated[RunManager, Depends(get_manager)]
StoreDep = Annotated[Store, Depends(get_store)]
Caller = Annotated[OpenPrincipal, Depends(principal)]


def namespace_of(uri: str) -> str:
    """The namespace a flow belongs to: the first segment of its URI."""
    return uri.split("/", 1)[0]
