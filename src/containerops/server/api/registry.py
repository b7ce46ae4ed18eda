"""The registry's token endpoint (``/registry/token``) and what clients learn of the registry.

A registry started for this server (``coops registry start --server URL``) sends every
client here for a JWT (the distribution token specification). The client proves itself
with a coops token as the password of HTTP Basic (``docker login -u anything -p
coops_...``; the user is the token's, whatever name is given) or as a bearer token; each
``scope=repository:NAMESPACE/NAME:pull,push`` asked is granted as far as the caller may:
``pull`` when it may read the component (a reader of its namespace, or anyone signed in
when it is public), ``push`` when it may write the namespace. What is not granted is
left out of the JWT (the registry then refuses the request) and recorded, as is every
refused credential: ``GET /api/v1/registry/refusals`` lists them for administrators.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from containerops.repository import registry, registry_auth
from containerops.repository.catalog import Catalog
from containerops.repository.registry_auth import Access, ScopeInvalid, Signer
from containerops.server.auth import Principal
from containerops.server.deps import Caller, Reader, StoreDep, anonymous_read, reads
from containerops.server.errors import WITH_TOKEN, error_responses
from containerops.store import Store
from containerops.store.accounts import TokenRefused, authenticate
from containerops.store.refusals import Refusal, list_refusals, record_refusals
from containerops.timestamps import rfc3339, utcnow

log = logging.getLogger("containerops.server")
router = APIRouter(tags=["registry"])
_BASIC = {"WWW-Authenticate": 'Basic realm="coops"'}


def signer_of(request: Request) -> Signer | None:
    """The key this server signs registry tokens with (``registry_auth.auth_folder``), loaded
    once; None when no registry was started for a server here."""
    state: Any = request.app.state
    signer: Signer | None = getattr(state, "registry_signer", None)
    if signer is None:
        signer = registry_auth.load_signer()
        state.registry_signer = signer
    return signer


def _credential(request: Request) -> str | None:
    """The coops token of a Basic (as its password) or Bearer Authorization header."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def _refuse_login(store: Store, reason: str) -> HTTPException:
    record_refusals(store, [Refusal(utcnow(), None, None, "login", reason)])
    log.warning("registry token refused: %s", reason)
    return HTTPException(401, f"registry token refused: {reason}", headers=_BASIC)


def grant(store: Store, caller: Principal | None, wanted: Access) -> tuple[Access, list[str]]:
    """What of ``wanted`` ``caller`` (None: anonymous, when the server allows it: public
    components only) gets, and the actions refused."""
    granted: list[str] = []
    refused: list[str] = []
    for action in wanted.actions:
        if action == "pull":
            ok = Catalog(store).may_read(wanted.namespace, wanted.name, reads(caller))
        elif action == "push":
            ok = caller is not None and caller.can("write", wanted.namespace)
        else:  # delete, *: the registry's own, not given through tokens
            ok = False
        (granted if ok else refused).append(action)
    return Access(wanted.namespace, wanted.name, tuple(granted)), refused


@router.get(
    "/registry/token",
    summary="A registry token (JWT) for the scopes asked, as far as the coops token allows",
    responses=error_responses(400, 401, 404, 422),
)
def registry_token(
    request: Request,
    store: StoreDep,
    scope: Annotated[list[str] | None, Query(max_length=20)] = None,
    service: Annotated[str | None, Query(max_length=100)] = None,
) -> JSONResponse:
    signer = signer_of(request)
    if signer is None:
        raise HTTPException(404, "this server issues no registry tokens: no registry was started for it")
    if service is not None and service != registry_auth.SERVICE:
        raise HTTPException(400, f"service {service[:100]!r} is not this server's ({registry_auth.SERVICE})")
    token = _credential(request)
    caller: Principal | None = None
    if token is None and not anonymous_read(request):
        raise _refuse_login(store, "no coops token (give it as the password: docker login -p coops_...)")
    if token is not None:
        try:
            caller = Principal.from_identity(authenticate(store, token))
        except TokenRefused as why:
            raise _refuse_login(store, str(why)) from None
    wanted: list[Access] = []
    for text in (part for item in scope or [] for part in item.split()):
        try:
            wanted.append(registry_auth.parse_scope(text))
        except ScopeInvalid as invalid:
            raise HTTPException(400, str(invalid)) from None
    granted: list[Access] = []
    denials: list[Refusal] = []
    for access in wanted:
        given, refused = grant(store, caller, access)
        granted.append(given)
        if refused:
            who = f"user {caller.user!r}" if caller is not None else "an anonymous reader"
            denials.append(
                Refusal(
                    utcnow(),
                    None if caller is None else caller.user,
                    None if caller is None else caller.token_key,
                    f"repository:{access.repository}:{','.join(refused)}",
                    f"{who} may not {' or '.join(refused)} {access.repository}",
                )
            )
    record_refusals(store, denials)
    for refusal in denials:
        log.warning("registry token: %s (token %s)", refusal.reason, refusal.token_key)
    jwt, lifetime = signer.issue(caller.user if caller is not None else "anonymous", granted)
    now = utcnow()
    return JSONResponse(
        {"token": jwt, "access_token": jwt, "expires_in": lifetime, "issued_at": rfc3339(now)},
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/api/v1/registry",
    summary="Where the registry is, and whether it takes this server's tokens",
    responses=WITH_TOKEN,
)
def registry_info(request: Request, caller: Reader) -> dict[str, Any]:
    """Anyone who may read public components (anonymously too, when the server allows it)."""
    if caller is not None:
        caller.require("read")
    return {
        "address": registry.registry_address(),
        "token_auth": signer_of(request) is not None,
        "service": registry_auth.SERVICE,
    }


@router.get(
    "/api/v1/registry/refusals",
    summary="What the token endpoint refused, newest first (administrators)",
    responses=WITH_TOKEN,
)
def refusals(
    caller: Caller, store: StoreDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    if not caller.admin:
        raise HTTPException(403, "only site administrators read the registry's refusals")
    return {"refusals": [r.to_json() for r in list_refusals(store, limit=limit)]}


def server_pull_token(request: Request, namespace: str, name: str) -> str | None:
    """A JWT for this server itself to read ``namespace/name`` in the registry (checking what
    a push through it left there); None when the registry takes no tokens."""
    signer = signer_of(request)
    if signer is None:
        return None
    return signer.issue("coops-server", [Access(namespace, name, ("pull",))], ttl=120)[0]
