"""Users, organizations, their members, and API tokens, in the store.

A namespace (the first part of a flow's uri) belongs to a user (its name) or to
an organization (its name), so both share one name space; ``library`` is
reserved and administered by site administrators. The CLI (``coops user``,
``coops org``, ``coops token``) and the server use these functions on the same
database.

A token is ``coops_<key>_<secret>``: ``key`` is public and finds the row,
``secret`` is 32 random bytes. Only the SHA-256 of the whole token is stored,
and the comparison is constant-time, so neither the database nor timing gives
a usable token away.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from containerops.model.names import NAME, NAME_RULE
from containerops.store import schema as t
from containerops.store.components import claim_namespace
from containerops.store.rows import StoreError
from containerops.store.store import Store
from containerops.store.values import aware, utcnow

Scope = Literal["read", "write", "admin"]
Role = Literal["owner", "writer", "reader"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
ROLES: tuple[Role, ...] = ("owner", "writer", "reader")
#: The highest scope each role of a namespace allows.
ROLE_SCOPE: dict[str, Scope] = {"owner": "admin", "writer": "write", "reader": "read"}
LIBRARY = "library"
RESERVED = frozenset({LIBRARY, "api", "admin", "flow", "hook", "system"})

TOKEN = re.compile(r"^coops_(?P<key>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{20,100})$")


class AccountError(StoreError):
    """A name that is taken, malformed or unknown; said plainly."""


def check_name(name: str, what: str = "name") -> str:
    """A user, organization or namespace name: lowercase letters, digits, ``-`` and ``_``."""
    if not NAME.fullmatch(name):
        raise AccountError(f"invalid {what} {name!r}: {NAME_RULE}")
    return name


def check_scope(scope: str) -> Scope:
    if scope not in SCOPES:
        raise AccountError(f"invalid scope {scope!r}: use one of {', '.join(SCOPES)}")
    return scope  # type: ignore[return-value]


def scope_allows(granted: str, wanted: str) -> bool:
    """``admin`` includes ``write``, which includes ``read``."""
    return SCOPES.index(granted) >= SCOPES.index(wanted)  # type: ignore[arg-type]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- users and organizations ----------------------------------------------------
def _taken(conn: sa.Connection, name: str) -> bool:
    return (
        conn.execute(sa.select(t.users.c.id).where(t.users.c.name == name)).first() is not None
        or conn.execute(sa.select(t.organizations.c.id).where(t.organizations.c.name == name)).first()
        is not None
    )


class NamespaceTaken(AccountError):
    """A user or organization already has this name."""


@contextmanager
def _claiming(store: Store, name: str, what: str) -> Iterator[sa.Connection]:
    """A transaction in which ``name`` is a valid, free namespace, to create a ``what`` in."""
    check_name(name, f"{what} name")
    if name in RESERVED:
        raise AccountError(f"{name!r} is a reserved namespace; pick another {what} name")
    with store.database.begin() as conn:
        if _taken(conn, name):
            # Said without whose it is: routes that hide a namespace call it missing.
            raise NamespaceTaken(f"the name {name!r} is not available for a new {what}; pick another")
        yield conn


def create_user(store: Store, name: str, *, admin: bool = False) -> int:
    with _claiming(store, name, "user") as conn:
        result = conn.execute(t.users.insert().values(name=name, admin=admin, created_at=utcnow()))
        claim_namespace(conn, name, "user")
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def create_org(store: Store, name: str, *, owner: str | None = None) -> int:
    with _claiming(store, name, "organization") as conn:
        result = conn.execute(t.organizations.insert().values(name=name, created_at=utcnow()))
        org_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        claim_namespace(conn, name, "organization")
        if owner is not None:
            conn.execute(
                t.org_members.insert().values(
                    org_id=org_id, user_id=_user_id(conn, owner), role="owner", created_at=utcnow()
                )
            )
        return org_id


def _user_id(conn: sa.Connection, name: str) -> int:
    found = conn.execute(sa.select(t.users.c.id).where(t.users.c.name == name)).scalar()
    if found is None:
        raise AccountError(f"no user {name!r}; `coops user create {name}` makes one")
    return int(found)


def _org_id(conn: sa.Connection, name: str) -> int:
    found = conn.execute(sa.select(t.organizations.c.id).where(t.organizations.c.name == name)).scalar()
    if found is None:
        raise AccountError(f"no organization {name!r}; `coops org create {name}` makes one")
    return int(found)


def set_member(store: Store, org: str, user: str, role: str) -> None:
    """Add ``user`` to ``org`` with ``role``, or change the role they have."""
    if role not in ROLES:
        raise AccountError(f"invalid role {role!r}: use one of {', '.join(ROLES)}")
    with store.database.begin() as conn:
        org_id, user_id = _org_id(conn, org), _user_id(conn, user)
        updated = conn.execute(
            t.org_members.update()
            .where(t.org_members.c.org_id == org_id, t.org_members.c.user_id == user_id)
            .values(role=role)
        )
        if updated.rowcount == 0:
            conn.execute(
                t.org_members.insert().values(org_id=org_id, user_id=user_id, role=role, created_at=utcnow())
            )


def remove_member(store: Store, org: str, user: str) -> None:
    with store.database.begin() as conn:
        org_id, user_id = _org_id(conn, org), _user_id(conn, user)
        deleted = conn.execute(
            t.org_members.delete().where(t.org_members.c.org_id == org_id, t.org_members.c.user_id == user_id)
        )
        if deleted.rowcount == 0:
            raise AccountError(f"{user!r} is not a member of {org!r}")


def members(store: Store, org: str) -> list[dict[str, str]]:
    with store.autocommit.connect() as conn:
        org_id = _org_id(conn, org)
        rows = conn.execute(
            sa.select(t.users.c.name, t.org_members.c.role)
            .join(t.users, t.users.c.id == t.org_members.c.user_id)
            .where(t.org_members.c.org_id == org_id)
            .order_by(t.users.c.name)
        )
        return [{"user": row.name, "role": row.role} for row in rows]


def readable_by_flows_of(store: Store, namespace: str) -> frozenset[str]:
    """The namespaces whose components a flow of ``namespace`` may run: its own, ``library``,
    and, for a user's namespace, the organizations the user is a member of."""
    with store.autocommit.connect() as conn:
        orgs = conn.execute(
            sa.select(t.organizations.c.name)
            .join(t.org_members, t.org_members.c.org_id == t.organizations.c.id)
            .join(t.users, t.users.c.id == t.org_members.c.user_id)
            .where(t.users.c.name == namespace)
        ).scalars()
        return frozenset({namespace, LIBRARY, *orgs})


def list_users(store: Store) -> list[dict[str, Any]]:
    with store.autocommit.connect() as conn:
        rows = conn.execute(sa.select(t.users).order_by(t.users.c.name))
        return [{"name": r.name, "admin": bool(r.admin), "created_at": aware(r.created_at)} for r in rows]


def list_orgs(store: Store) -> list[dict[str, Any]]:
    with store.autocommit.connect() as conn:
        rows = conn.execute(sa.select(t.organizations).order_by(t.organizations.c.name))
        return [{"name": r.name, "created_at": aware(r.created_at)} for r in rows]


def namespace_kinds(store: Store, names: set[str] | None = None) -> dict[str, str]:
    """namespace -> kind (``user``, ``organization``, ``library``; ``flows`` for a namespace
    that only flows use, which a site administrator may save anywhere), of ``names`` or of
    every namespace this store knows; the web UI's namespace switcher lists them."""
    kinds: dict[str, str] = {}
    with store.autocommit.connect() as conn:
        prefixes = conn.execute(sa.select(t.flows.c.uri).where(t.flows.c.deleted_at.is_(None)))
        for (uri,) in prefixes:
            kinds[str(uri).split("/", 1)[0]] = "flows"
        for table, kind in ((t.users, "user"), (t.organizations, "organization")):
            kinds.update((str(name), kind) for (name,) in conn.execute(sa.select(table.c.name)))
        kinds.update((str(row.name), str(row.kind)) for row in conn.execute(sa.select(t.namespaces)))
    kinds[LIBRARY] = LIBRARY
    if names is None:
        return kinds
    return {name: kinds.get(name, "user") for name in names}


def namespace_exists(store: Store, namespace: str) -> bool:
    if namespace == LIBRARY:
        return True
    with store.autocommit.connect() as conn:
        return _taken(conn, namespace)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a token speaks for: the user, the token's scope, and the user's roles."""

    user: str
    user_id: int
    admin: bool
    token_key: str
    scope: Scope
    #: namespace -> role; the user's own namespace is ``owner``.
    roles: dict[str, str]


# -- tokens ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NewToken:
    token: str  # shown once, never stored
    key: str
    name: str
    scope: Scope
    expires_at: datetime | None


def create_token(store: Store, user: str, scope: str, **options: Any) -> str:
    """A new API token for ``user`` (options: ``name``, ``expires_at``); returns the token,
    which is not kept anywhere."""
    return issue_token(store, user, scope, **options).token


def issue_token(
    store: Store,
    user: str,
    scope: str,
    *,
    name: str | None = None,
    expires_at: datetime | None = None,
) -> NewToken:
    checked = check_scope(scope)
    if name is not None:
        check_name(name, "token name")
    if expires_at is not None and aware(expires_at) <= utcnow():  # type: ignore[operator]
        raise AccountError(f"the expiry {expires_at.isoformat()} is already past")
    key = secrets.token_hex(6)
    token = f"coops_{key}_{secrets.token_urlsafe(32)}"
    with store.database.begin() as conn:
        conn.execute(
            t.api_tokens.insert().values(
                key=key,
                user_id=_user_id(conn, user),
                name=name or f"token-{key}",
                scope=checked,
                token_hash=hash_token(token),
                created_at=utcnow(),
                expires_at=expires_at,
            )
        )
    return NewToken(token=token, key=key, name=name or f"token-{key}", scope=checked, expires_at=expires_at)


class TokenRefused(Exception):
    """Why a presented token does not authenticate (unknown, revoked or expired)."""


#: A token, its user and the user's organizations, in one query (one row per membership).
TOKEN_QUERY = (
    sa.select(
        t.api_tokens.c.key,
        t.api_tokens.c.token_hash,
        t.api_tokens.c.scope,
        t.api_tokens.c.revoked_at,
        t.api_tokens.c.expires_at,
        t.users.c.id.label("user_id"),
        t.users.c.name.label("user"),
        t.users.c.admin,
        t.organizations.c.name.label("org"),
        t.org_members.c.role,
    )
    .join(t.users, t.users.c.id == t.api_tokens.c.user_id)
    .outerjoin(t.org_members, t.org_members.c.user_id == t.users.c.id)
    .outerjoin(t.organizations, t.organizations.c.id == t.org_members.c.org_id)
)


def authenticate(store: Store, token: str, *, now: datetime | None = None) -> Identity:
    """The identity of a valid token; :class:`TokenRefused` otherwise.

    Runs on every API request (on the server's event loop): one query.
    """
    match = TOKEN.match(token)
    if match is None:
        raise TokenRefused("malformed token")
    presented = hash_token(token)
    with store.autocommit.connect() as conn:
        rows = conn.execute(TOKEN_QUERY.where(t.api_tokens.c.key == match["key"])).all()
    row = rows[0] if rows else None
    # Compared even for an unknown key, against a dummy, so both paths take the same time.
    stored = row.token_hash if row is not None else "0" * 64
    if not hmac.compare_digest(stored, presented) or row is None:
        raise TokenRefused("unknown token")
    return identity_of(rows, now=now)


def identity_of(rows: Sequence[Any], *, now: datetime | None = None) -> Identity:
    """Who the rows of :data:`TOKEN_QUERY` for one token speak for, if the token is still
    valid (not revoked, not expired); :class:`TokenRefused` otherwise."""
    row = rows[0]
    if row.revoked_at is not None:
        raise TokenRefused("this token was revoked")
    expires = aware(row.expires_at)
    if expires is not None and expires <= (now or utcnow()):
        raise TokenRefused(f"this token expired at {expires.isoformat()}")
    roles = {r.org: r.role for r in rows if r.org is not None}
    roles[row.user] = "owner"
    return Identity(
        user=row.user,
        user_id=row.user_id,
        admin=bool(row.admin),
        token_key=row.key,
        scope=row.scope,
        roles=roles,
    )


def list_tokens(store: Store, user: str | None = None) -> list[dict[str, Any]]:
    """Tokens without their secret: key, name, user, scope, dates and state."""
    query = (
        sa.select(t.api_tokens, t.users.c.name.label("user"))
        .join(t.users, t.users.c.id == t.api_tokens.c.user_id)
        .order_by(t.api_tokens.c.id)
    )
    if user is not None:
        query = query.where(t.users.c.name == user)
    now = utcnow()
    result = []
    with store.autocommit.connect() as conn:
        for row in conn.execute(query):
            expires, revoked = aware(row.expires_at), aware(row.revoked_at)
            state = "revoked" if revoked else "expired" if expires and expires <= now else "active"
            result.append(
                {
                    "key": row.key,
                    "name": row.name,
                    "user": row.user,
                    "scope": row.scope,
                    "state": state,
                    "created_at": aware(row.created_at),
                    "expires_at": expires,
                    "revoked_at": revoked,
                }
            )
    return result


def revoke_token(store: Store, key_or_name: str, *, user: str | None = None) -> str:
    """Revoke a token by its key (or its name, when one user's name is unique); return the key."""
    with store.database.begin() as conn:
        query = sa.select(t.api_tokens.c.id, t.api_tokens.c.key).join(
            t.users, t.users.c.id == t.api_tokens.c.user_id
        )
        if user is not None:
            query = query.where(t.users.c.name == user)
        rows = (
            conn.execute(query.where(t.api_tokens.c.key == key_or_name)).all()
            or conn.execute(query.where(t.api_tokens.c.name == key_or_name)).all()
        )
        if not rows:
            raise AccountError(f"no token {key_or_name!r}; `coops token list` shows them")
        if len(rows) > 1:
            raise AccountError(f"{len(rows)} tokens are named {key_or_name!r}; revoke one by its key")
        conn.execute(
            t.api_tokens.update()
            .where(t.api_tokens.c.id == rows[0].id, t.api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return str(rows[0].key)
