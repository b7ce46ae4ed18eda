"""Who is calling the API, and what they may do: the ``principal`` dependency.

Every ``/api/v1`` route takes ``principal: Principal = Depends(principal)``.
A request without ``Authorization: Bearer <token>``, or with a token that is
unknown, revoked or expired, gets 401 and sees nothing. A token acts for its
user, limited by its scope (read < write < admin) and by the user's role in
each namespace: a user owns its own namespace, an organization's members are
owner (admin), writer (write) or reader (read); site administrators have every
namespace, ``library`` included. Any valid token may read ``library``.

Denials: a namespace the token cannot read at all answers **404**, worded as
the route words a missing resource (``not_found``), so a token never learns
which flows or runs exist elsewhere; a namespace it can read but not act on at
the asked scope answers **403** naming the scope needed.

The web UI authenticates with a session cookie instead (``server/api/session.py``
exchanges a token for it): it acts as the token it was opened with. Writes made with the
cookie must carry the ``X-Coops-UI`` header, which a page of another site cannot send
without the server's consent (no CORS here), and an ``Origin`` of this server when the
browser sends one; the cookie is also SameSite=Strict. Scripts keep using bearer tokens,
which a browser never sends on its own, so they need neither.

Webhooks authenticate by signature or token of their own, never through this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request

from containerops.store import Store
from containerops.store.accounts import (
    LIBRARY,
    ROLE_SCOPE,
    SCOPES,
    Identity,
    Scope,
    TokenRefused,
    authenticate,
    create_token,
    scope_allows,
)
from containerops.store.sessions import session_identity

__all__ = ["SESSION_COOKIE", "UI_HEADER", "Principal", "create_token", "principal", "request_store"]

#: The cookie holding a web UI session's secret (HttpOnly, SameSite=Strict).
SESSION_COOKIE = "coops_session"
#: The header a write made with the session cookie must carry (CSRF: see the module's doc).
UI_HEADER = "X-Coops-UI"
#: Methods that change nothing: no CSRF check.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user acting through one token."""

    user: str
    scope: Scope
    admin: bool = False
    #: namespace -> role (owner | writer | reader); the user's own namespace is owner.
    roles: dict[str, str] = field(default_factory=dict)
    token_key: str = ""

    @classmethod
    def from_identity(cls, identity: Identity) -> Principal:
        return cls(
            user=identity.user,
            scope=identity.scope,
            admin=identity.admin,
            roles=dict(identity.roles),
            token_key=identity.token_key,
        )

    def allows(self, scope: str, namespace: str) -> bool:
        """May this token act at ``scope`` in ``namespace``?"""
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}")
        if not scope_allows(self.scope, scope):
            return False
        if self.admin:
            return True
        if namespace == LIBRARY:
            return scope == "read"
        role = self.roles.get(namespace)
        return role is not None and scope_allows(ROLE_SCOPE[role], scope)

    @property
    def name(self) -> str:
        return self.user

    def can(self, scope: str, namespace: str) -> bool:
        return self.allows(scope, namespace)

    def require(self, scope: str, namespace: str | None = None, *, not_found: str | None = None) -> None:
        """Raise 404 (``not_found``) if the namespace is invisible, 403 if the scope is short.

        Without a namespace (a listing, filtered with :meth:`namespaces`), only the
        token's scope is checked.
        """
        if namespace is None:
            self.require_any(scope)
            return
        if self.allows(scope, namespace):
            return
        visible = self.admin or namespace == LIBRARY or namespace in self.roles
        if not visible:
            raise HTTPException(404, not_found or f"no namespace {namespace!r}")
        if not scope_allows(self.scope, scope):
            raise HTTPException(
                403, f"this token has scope {self.scope!r}; {scope!r} is needed (namespace {namespace!r})"
            )
        role = "a reader of library" if namespace == LIBRARY else f"{self.roles[namespace]}"
        raise HTTPException(
            403, f"user {self.user!r} is {role} in namespace {namespace!r}; {scope!r} access is needed"
        )

    def namespaces(self, scope: str = "read") -> set[str] | None:
        """The namespaces this token may act on at ``scope``; None means all (administrators)."""
        if not scope_allows(self.scope, scope):
            return set()
        if self.admin:
            return None
        allowed = {ns for ns, role in self.roles.items() if scope_allows(ROLE_SCOPE[role], scope)}
        if scope == "read":
            allowed.add(LIBRARY)
        return allowed

    def require_any(self, scope: str) -> None:
        """For routes that are not about one namespace (listing): the token's scope suffices."""
        if not scope_allows(self.scope, scope):
            raise HTTPException(403, f"this token has scope {self.scope!r}; {scope!r} is needed")


def request_store(request: Request) -> Store:
    """The server's store: ``app.state.store``, else the run manager's."""
    state: Any = request.app.state
    store = getattr(state, "store", None)
    if store is None:
        manager = getattr(state, "manager", None)
        store = getattr(manager, "store", None)
    if not isinstance(store, Store):
        raise RuntimeError("the app has no store: set app.state.store (or app.state.manager.store)")
    return store


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def principal(request: Request) -> Principal:
    """FastAPI dependency: the caller, or 401 for an anonymous or refused token or session."""
    header = request.headers.get("authorization", "")
    if not header and SESSION_COOKIE in request.cookies:
        return _session_principal(request, request.cookies[SESSION_COOKIE])
    scheme, _, token = header.partition(" ")
    if not header:
        raise HTTPException(
            401,
            "authentication required: send 'Authorization: Bearer <token>' (coops token create makes one)",
            headers=_CHALLENGE,
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "the Authorization header must be 'Bearer <token>'", headers=_CHALLENGE)
    try:
        identity = authenticate(request_store(request), token.strip())
    except TokenRefused as refused:
        raise HTTPException(401, f"token refused: {refused}", headers=_CHALLENGE) from None
    return Principal.from_identity(identity)


def _session_principal(request: Request, secret: str) -> Principal:
    """The caller of a request made with the web UI's session cookie."""
    try:
        identity = session_identity(request_store(request), secret)
    except TokenRefused as refused:
        raise HTTPException(401, f"session refused: {refused}; sign in again", headers=_CHALLENGE) from None
    if request.method not in SAFE_METHODS:
        check_same_origin(request)
    return Principal.from_identity(identity)


def check_same_origin(request: Request) -> None:
    """403 for a write with the session cookie that another site's page could have made."""
    if UI_HEADER.lower() not in request.headers:
        raise HTTPException(
            403,
            f"a write made with the session cookie must send the {UI_HEADER} header"
            " (cross-site writes are refused)",
        )
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin is not None and origin != own:
        raise HTTPException(
            403, f"a write made with the session cookie must come from {own}, not {origin[:200]}"
        )
