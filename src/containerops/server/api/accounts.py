"""``/api/v1``: who am I, users and organizations, namespace secrets and members,
and the caller's tokens.

Everything here but ``whoami`` and listing members needs the ``admin`` scope (and
the owner role in the namespace, or a site administrator; only site
administrators create users). Secret values go in and never come out:
listings give names and dates only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from containerops.model.names import NAME
from containerops.server import secrets as stored
from containerops.server.deps import AccountName, Caller, SecretName, StoreDep, whole
from containerops.server.errors import WITH_TOKEN, ApiError, NotFound, answer, error_responses
from containerops.store import accounts
from containerops.store.accounts import AccountError, check_name
from containerops.store.components import is_public, namespace_kind, set_public
from containerops.timestamps import rfc3339, rows_as_json

router = APIRouter(prefix="/api/v1", tags=["accounts"], responses=WITH_TOKEN)
#: A JSON body that cannot be read (not UTF-8): FastAPI's 400.
UNREADABLE = error_responses(400)


def _namespace(namespace: str) -> str:
    try:
        return check_name(namespace, "namespace")
    except AccountError as error:
        raise ApiError(str(error), status=422) from None


def _secret_name(name: str) -> str:
    try:
        return stored.check_secret_name(name)
    except stored.SecretError as error:
        raise ApiError(str(error), status=422) from None


@router.get("/whoami", summary="The caller: user, token scope, and namespaces with roles")
def whoami(caller: Caller) -> dict[str, Any]:
    return {
        "user": caller.user,
        "admin": caller.admin,
        "scope": caller.scope,
        "token": caller.token_key,
        "namespaces": caller.roles,
    }


@router.get(
    "/namespaces",
    summary="The namespaces the caller may read, each with its kind and the caller's role",
)
def readable_namespaces(caller: Caller, store: StoreDep) -> dict[str, Any]:
    """The web UI's namespace switcher: the caller's own namespace, their organizations and
    the library (everything this store knows for a site administrator, whose role is
    ``admin`` where they have none of their own)."""
    caller.require_any("read")
    visible = caller.namespaces("read")
    kinds = accounts.namespace_kinds(store, visible)
    listed = [
        {"name": name, "kind": kind, "role": caller.roles.get(name, "admin" if caller.admin else "reader")}
        for name, kind in kinds.items()
    ]
    listed.sort(key=lambda n: (n["name"] != caller.user, n["name"]))
    return {"user": caller.user, "namespaces": listed}


# -- secrets -----------------------------------------------------------------------
class SecretValue(BaseModel):
    value: str = Field(min_length=1, max_length=stored.MAX_VALUE)


@router.get("/namespaces/{namespace}/secrets", summary="Secret names of a namespace (never values)")
def list_secrets(namespace: AccountName, caller: Caller, store: StoreDep) -> list[dict[str, Any]]:
    caller.require("admin", _namespace(namespace))
    return rows_as_json(stored.list_secrets(store, namespace))


@router.put(
    "/namespaces/{namespace}/secrets/{name}",
    summary="Set or replace a secret",
    responses={201: answer("The secret is new."), **UNREADABLE},
)
def set_secret(
    namespace: AccountName, name: SecretName, body: SecretValue, caller: Caller, store: StoreDep
) -> JSONResponse:
    """201 when the secret is new, 200 when it replaced one; the value is not answered."""
    caller.require("admin", _namespace(namespace))
    created = stored.set_secret(store, namespace, _secret_name(name), body.value)
    return JSONResponse(
        {"namespace": namespace, "name": name, "created": created}, status_code=201 if created else 200
    )


@router.delete("/namespaces/{namespace}/secrets/{name}", status_code=204, summary="Delete a secret")
def delete_secret(namespace: AccountName, name: SecretName, caller: Caller, store: StoreDep) -> Response:
    caller.require("admin", _namespace(namespace))
    try:
        stored.delete_secret(store, namespace, _secret_name(name))
    except stored.SecretError as error:
        raise NotFound(str(error)) from None
    return Response(status_code=204)


# -- users and organizations -----------------------------------------------------------
class NewNamespace(BaseModel):
    name: str = Field(pattern=whole(NAME), description="The new user's or organization's name.")
    admin: bool = False


def _creating(create: Callable[[], object]) -> None:
    """A taken name is 409; a malformed or reserved one 422."""
    try:
        create()
    except accounts.NamespaceTaken as error:
        raise ApiError(str(error), status=409) from None
    except AccountError as error:
        raise ApiError(str(error), status=422) from None


@router.post(
    "/users",
    status_code=201,
    summary="Create a user (site administrators only)",
    responses=error_responses(400, 409),
)
def create_user(body: NewNamespace, caller: Caller, store: StoreDep) -> dict[str, Any]:
    caller.require_any("admin")
    if not caller.admin:
        raise ApiError("only site administrators create users", status=403)
    _creating(lambda: accounts.create_user(store, body.name, admin=body.admin))
    return {"name": body.name, "admin": body.admin}


@router.post(
    "/orgs",
    status_code=201,
    summary="Create an organization owned by the caller",
    responses=error_responses(400, 409),
)
def create_org(body: NewNamespace, caller: Caller, store: StoreDep) -> dict[str, Any]:
    caller.require_any("admin")
    if body.admin:
        raise ApiError("'admin' is for users, not organizations", status=422)
    _creating(lambda: accounts.create_org(store, body.name, owner=caller.user))
    return {"name": body.name, "owner": caller.user}


# -- members -------------------------------------------------------------------------
class MemberRole(BaseModel):
    role: accounts.Role


class NamespaceVisibility(BaseModel):
    public: bool = Field(
        description="true: every signed-in user reads its components (those that say nothing "
        "of their own); false: only its members."
    )


@router.get(
    "/namespaces/{namespace}/visibility",
    summary="Whether a namespace's components are public (those that say nothing of their own)",
    responses=UNREADABLE,
)
def namespace_visibility(namespace: AccountName, caller: Caller, store: StoreDep) -> dict[str, Any]:
    caller.require("read", _namespace(namespace), not_found=f"no namespace {namespace!r}")
    if not (accounts.namespace_exists(store, namespace) or namespace_kind(store, namespace)):
        raise NotFound(f"no namespace {namespace!r}")
    return {"namespace": namespace, "public": is_public(store, namespace)}


@router.put(
    "/namespaces/{namespace}/visibility",
    summary="Make a namespace's components public or private (its owner)",
    responses=UNREADABLE,
)
def set_namespace_visibility(
    namespace: AccountName, body: NamespaceVisibility, caller: Caller, store: StoreDep
) -> dict[str, Any]:
    caller.require("admin", _namespace(namespace))
    if not set_public(store, namespace, None, body.public):
        raise NotFound(f"no namespace {namespace!r}")
    return {"namespace": namespace, "public": body.public}


@router.get("/namespaces/{namespace}/members", summary="An organization's members and roles")
def list_members(namespace: AccountName, caller: Caller, store: StoreDep) -> list[dict[str, str]]:
    caller.require("read", _namespace(namespace), not_found=f"no organization {namespace!r}")
    try:
        return accounts.members(store, namespace)
    except AccountError as error:
        raise NotFound(str(error)) from None


@router.put(
    "/namespaces/{namespace}/members/{user}",
    summary="Add a member or change their role",
    responses=UNREADABLE,
)
def set_member(
    namespace: AccountName, user: AccountName, body: MemberRole, caller: Caller, store: StoreDep
) -> dict[str, str]:
    caller.require("admin", _namespace(namespace), not_found=f"no organization {namespace!r}")
    try:
        accounts.set_member(store, namespace, _namespace(user), body.role)
    except AccountError as error:
        raise NotFound(str(error)) from None
    return {"namespace": namespace, "user": user, "role": body.role}


@router.delete("/namespaces/{namespace}/members/{user}", status_code=204, summary="Remove a member")
def remove_member(namespace: AccountName, user: AccountName, caller: Caller, store: StoreDep) -> Response:
    caller.require("admin", _namespace(namespace), not_found=f"no organization {namespace!r}")
    try:
        accounts.remove_member(store, namespace, _namespace(user))
    except AccountError as error:
        raise NotFound(str(error)) from None
    return Response(status_code=204)


# -- tokens --------------------------------------------------------------------------
class TokenRequest(BaseModel):
    scope: accounts.Scope = "read"
    name: str | None = Field(None, pattern=whole(NAME), description="A name to tell the token by.")
    expires_at: datetime | None = None


@router.get("/tokens", summary="The caller's tokens (never their secret part)")
def list_tokens(caller: Caller, store: StoreDep) -> list[dict[str, Any]]:
    caller.require_any("admin")
    return rows_as_json(accounts.list_tokens(store, caller.user))


@router.post(
    "/tokens",
    status_code=201,
    summary="A new token for the caller, at most the caller's scope",
    responses=UNREADABLE,
)
def create_token(body: TokenRequest, caller: Caller, store: StoreDep) -> dict[str, Any]:
    """The token is in this answer only; the server keeps its hash."""
    caller.require_any("admin")
    try:
        new = accounts.issue_token(store, caller.user, body.scope, name=body.name, expires_at=body.expires_at)
    except AccountError as error:
        raise ApiError(str(error), status=422) from None
    return {
        "token": new.token,
        "key": new.key,
        "name": new.name,
        "scope": new.scope,
        "expires_at": rfc3339(new.expires_at),
    }


@router.delete("/tokens/{key}", status_code=204, summary="Revoke one of the caller's tokens")
def revoke_token(key: str, caller: Caller, store: StoreDep) -> Response:
    caller.require_any("admin")
    try:
        accounts.revoke_token(store, key, user=None if caller.admin else caller.user)
    except AccountError as error:
        raise NotFound(str(error)) from None
    return Response(status_code=204)
