"""``coops user|org|token|secret``: accounts, API tokens and namespace secrets.

These work on the local store, which is the server's store when ``coops
server`` runs on the same ``COOPS_HOME`` (or ``COOPS_DATABASE_URL``): an
administrator sets a team up here, and the server sees it at once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from containerops.model.quantities import parse_duration
from containerops.store import StoreError
from containerops.timestamps import rfc3339

if TYPE_CHECKING:
    from types import ModuleType

    from containerops.store import Store

EXIT_INVALID = 2
err = Console(stderr=True)
out = Console(highlight=False)

user_app = typer.Typer(help="Users: each owns the namespace of its name.", no_args_is_help=True)
org_app = typer.Typer(
    help="Organizations: namespaces shared by members who are owner, writer or reader.",
    no_args_is_help=True,
)
token_app = typer.Typer(
    short_help="API tokens for the server: create (shown once), list, revoke.",
    help=(
        "API tokens for the server (Authorization: Bearer TOKEN). A token acts for one user, "
        "limited by its scope: read (list, show, logs), write (create flows, start, cancel, "
        "approve runs) or admin (namespaces, members, secrets, tokens)."
    ),
    no_args_is_help=True,
)
secret_app = typer.Typer(
    short_help="Secrets of a namespace, for ${{ secrets.NAME }}: set, list (names only), rm.",
    help=(
        "Secrets of a namespace, encrypted with the server key (COOPS_SERVER_KEY or "
        "COOPS_HOME/server.key). Flows of the namespace use them as ${{ secrets.NAME }} in "
        "environments and inputs; every value is shown as *** in logs. Values are never listed."
    ),
    no_args_is_help=True,
)

T = TypeVar("T")


def _accounts() -> ModuleType:
    """Imported when used: the server package loads FastAPI, which ``coops run`` does not need."""
    from containerops.store import accounts

    return accounts


def _secrets() -> ModuleType:
    from containerops.server import secrets

    return secrets


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(EXIT_INVALID)


@contextmanager
def _store() -> Iterator[Store]:
    """The local store; a refused operation ends the command with its message and exit 2."""
    from containerops.store import Store  # when used: SQLAlchemy is not needed for --help

    store = Store.open()
    try:
        yield store
    except StoreError as error:
        raise _fail(str(error)) from None
    finally:
        store.close()


def _emit(document: Any) -> None:
    sys.stdout.write(json.dumps(document, default=_json_default) + "\n")


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return rfc3339(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _listing(as_json: bool, rows: list[dict[str, Any]], columns: list[str], empty: str) -> None:
    """Rows as JSON for scripts, else as a table (or ``empty`` on stderr when there are none)."""
    if as_json:
        _emit(rows)
        return
    if not rows:
        err.print(empty)
        return
    table = Table(*columns, box=None, pad_edge=False)
    for row in rows:
        table.add_row(*(escape(_cell(row.get(column))) for column in columns))
    out.print(table)


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        return rfc3339(value, "seconds")
    return "-" if value is None else str(value)


def _done(as_json: bool, document: dict[str, Any], message: str) -> None:
    if as_json:
        _emit(document)
    else:
        out.print(message)


def _with_store(action: Callable[[Store], T]) -> T:
    with _store() as store:
        return action(store)


# -- users -------------------------------------------------------------------------
@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="Lowercase letters, digits, '-' and '_'.")],
    admin: Annotated[
        bool, typer.Option("--admin", help="A site administrator: every namespace, library included.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a user and its namespace.

    Example:  coops user create alice  then  coops token create --user alice --scope write
    """
    _with_store(lambda store: _accounts().create_user(store, name, admin=admin))
    _done(
        as_json, {"name": name, "admin": admin}, f"user {name} created{' (administrator)' if admin else ''}"
    )


@user_app.command("list")
def user_list(as_json: JsonOption = False) -> None:
    """List users."""
    users = _with_store(lambda store: _accounts().list_users(store))
    _listing(as_json, users, ["name", "admin", "created_at"], "no users yet: coops user create NAME")


# -- organizations -------------------------------------------------------------------
@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Argument(help="Lowercase letters, digits, '-' and '_'.")],
    owner: Annotated[str | None, typer.Option(help="A user who becomes its first owner.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an organization (a namespace shared by its members).

    Example:  coops org create acme --owner alice
    """
    _with_store(lambda store: _accounts().create_org(store, name, owner=owner))
    _done(as_json, {"name": name, "owner": owner}, f"organization {name} created")


@org_app.command("list")
def org_list(as_json: JsonOption = False) -> None:
    """List organizations."""
    orgs = _with_store(lambda store: _accounts().list_orgs(store))
    _listing(as_json, orgs, ["name", "created_at"], "no organizations yet: coops org create NAME")


@org_app.command("add-member")
def org_add_member(
    org: Annotated[str, typer.Argument(help="The organization.")],
    user: Annotated[str, typer.Argument(help="The user to add (or whose role changes).")],
    role: Annotated[
        str, typer.Option(help="owner (admin of the namespace), writer (run flows) or reader (see them).")
    ] = "reader",
    as_json: JsonOption = False,
) -> None:
    """Add a member to an organization, or change a member's role."""
    _with_store(lambda store: _accounts().set_member(store, org, user, role))
    _done(as_json, {"org": org, "user": user, "role": role}, f"{user} is {role} of {org}")


@org_app.command("remove-member")
def org_remove_member(
    org: Annotated[str, typer.Argument(help="The organization.")],
    user: Annotated[str, typer.Argument(help="The member to remove.")],
) -> None:
    """Remove a member from an organization (their tokens lose its namespace at once)."""
    _with_store(lambda store: _accounts().remove_member(store, org, user))
    out.print(f"{user} removed from {org}")


@org_app.command("members")
def org_members(
    org: Annotated[str, typer.Argument(help="The organization.")], as_json: JsonOption = False
) -> None:
    """List an organization's members and their roles."""
    found = _with_store(lambda store: _accounts().members(store, org))
    _listing(as_json, found, ["user", "role"], f"{org} has no members")


# -- tokens ----------------------------------------------------------------------------
def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """``30d``, ``12h``, ``1h30m`` from now, or an ISO date or time (UTC unless it says)."""
    now = now or datetime.now(UTC)
    try:
        seconds = parse_duration(text)
    except ValueError:
        seconds = None
    if seconds:
        return now + timedelta(seconds=seconds)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(
            f"--expires {text!r}: give a duration (30d, 12h, 1h30m) or an ISO date (2027-01-31)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", "-u", help="The user the token acts for.")],
    scope: Annotated[str, typer.Option("--scope", "-s", help="read, write or admin.")] = "read",
    name: Annotated[str | None, typer.Option(help="A name to recognise it by in `coops token list`.")] = None,
    expires: Annotated[
        str | None,
        typer.Option(help="When it stops working: 30d, 12h, or a date (2027-01-31). Default: never."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API token. It is printed once, here, and never stored: keep it now.

    Example:  coops token create --user alice --scope write --name ci --expires 90d
    """
    expires_at = parse_expiry(expires) if expires else None
    new = _with_store(
        lambda store: _accounts().issue_token(store, user, scope, name=name, expires_at=expires_at)
    )
    document = {
        "token": new.token,
        "key": new.key,
        "name": new.name,
        "user": user,
        "scope": new.scope,
        "expires_at": new.expires_at,
    }
    if as_json:
        _emit(document)
        return
    sys.stdout.write(new.token + "\n")
    until = f", expires {new.expires_at:%Y-%m-%d %H:%M} UTC" if new.expires_at else ""
    err.print(
        f"token {new.key} ({new.name}) for {user}, scope {new.scope}{until}: shown only this once",
        highlight=False,
    )


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user's tokens.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List tokens (never their secret part): key, name, user, scope and state."""
    tokens = _with_store(lambda store: _accounts().list_tokens(store, user))
    columns = ["key", "name", "user", "scope", "state", "created_at", "expires_at"]
    _listing(as_json, tokens, columns, "no tokens: coops token create --user NAME --scope read")


@token_app.command("revoke")
def token_revoke(
    token: Annotated[str, typer.Argument(help="The token's key (from `coops token list`) or its name.")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="Whose token, when names repeat.")] = None,
) -> None:
    """Revoke a token: the server refuses it from the next request on."""
    key = _with_store(lambda store: _accounts().revoke_token(store, token, user=user))
    out.print(f"token {key} revoked")


# -- secrets ---------------------------------------------------------------------------
@secret_app.command("set")
def secret_set(
    namespace: Annotated[str, typer.Argument(help="The namespace whose flows may use it.")],
    name: Annotated[str, typer.Argument(help="As referenced: ${{ secrets.NAME }}.")],
    value_stdin: Annotated[
        bool,
        typer.Option(
            "--value-stdin", help="Read the value from standard input (one trailing newline dropped)."
        ),
    ] = False,
) -> None:
    """Set (or replace) a secret. The value is asked for without echo, or read from stdin;
    never give it on the command line, where shell history and `ps` would keep it.

    Example:  printf %s "$SLACK_URL" | coops secret set acme SLACK_URL --value-stdin
    """
    if value_stdin:
        value = sys.stdin.read()
        value = value[:-1] if value.endswith("\n") else value
    elif sys.stdin.isatty():
        value = typer.prompt(f"value of {name}", hide_input=True, confirmation_prompt=True)
    else:
        raise _fail("no terminal to ask for the value: pass it on standard input with --value-stdin")
    new = _with_store(lambda store: _secrets().set_secret(store, namespace, name, value))
    exists = _with_store(lambda store: _accounts().namespace_exists(store, namespace))
    out.print(f"secret {name} of {namespace} {'set' if new else 'replaced'}")
    if not exists:
        err.print(
            f"[yellow]note:[/] no user or organization owns namespace {escape(namespace)} yet",
            highlight=False,
        )


@secret_app.command("list")
def secret_list(
    namespace: Annotated[str, typer.Argument(help="The namespace.")], as_json: JsonOption = False
) -> None:
    """List a namespace's secret names (values are never shown)."""
    found = _with_store(lambda store: _secrets().list_secrets(store, namespace))
    _listing(as_json, found, ["name", "created_at", "updated_at"], f"namespace {namespace} has no secrets")


@secret_app.command("rm")
def secret_rm(
    namespace: Annotated[str, typer.Argument(help="The namespace.")],
    name: Annotated[str, typer.Argument(help="The secret's name.")],
) -> None:
    """Delete a secret; flows referencing it are refused until it is set again."""
    _with_store(lambda store: _secrets().delete_secret(store, namespace, name))
    out.print(f"secret {name} of {namespace} deleted")


def register(app: typer.Typer) -> None:
    """Add the commands of this module to ``coops``."""
    app.add_typer(user_app, name="user")
    app.add_typer(org_app, name="org")
    app.add_typer(token_app, name="token")
    app.add_typer(secret_app, name="secret")
