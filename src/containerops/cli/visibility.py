"""``coops component visibility`` and ``coops registry refusals``: who may read, and who was refused.

Both work on this machine's store (the server's, when ``coops server`` runs on the same
``COOPS_HOME``) or, with ``--server URL``, through that server's API as the token's user:
the owner of a namespace makes it, or one of its components, public or private; a site
administrator reads what the registry's token endpoint refused. Exit codes: 0 done, 2
refused (a bad name, a missing namespace or component, not allowed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from containerops.cli.component import component_app, fail
from containerops.cli.consoles import err, escape, out, table
from containerops.cli.remote import ServerOption, TokenOption
from containerops.cli.repository import _JSON, _print_json, registry_app

if TYPE_CHECKING:
    from collections.abc import Callable

    from containerops.cli.remote import Remote

SETTINGS = ("public", "private", "inherit")


def _through(server: str, token: str | None, action: Callable[[Remote], Any]) -> Any:
    """``action`` against the server; a refusal exits 2 naming the server that refused."""
    from containerops.cli.remote import Remote, RemoteError

    try:
        with Remote(server, token) as remote:
            return action(remote)
    except RemoteError as error:
        raise fail(f"{server}: {error}", error.code) from None


def _target(text: str) -> tuple[str, str | None]:
    """``NAMESPACE`` or ``NAMESPACE/NAME``, each name checked; exit 2 saying what is wrong."""
    from containerops.model.names import validate_name

    namespace, slash, name = text.partition("/")
    try:
        validate_name("namespace", namespace)
        if slash:
            validate_name("component name", name)
    except ValueError as error:
        raise fail(f"{text!r}: {error} (give NAMESPACE or NAMESPACE/NAME)") from None
    return namespace, name if slash else None


def _wanted(setting: str | None, name: str | None) -> bool | None:
    """``public`` True, ``private`` False, ``inherit`` None (a component only)."""
    if setting not in SETTINGS:
        raise fail(f"{setting!r}: say public, private or inherit (a component: as its namespace)")
    if setting == "inherit" and name is None:
        raise fail("a namespace is public or private; 'inherit' is for a component (NAMESPACE/NAME)")
    return {"public": True, "private": False}.get(setting)


@component_app.command("visibility")
def visibility(
    target: Annotated[
        str,
        typer.Argument(
            metavar="NAMESPACE[/NAME]", help="A namespace, or one of its components (namespace/name)."
        ),
    ],
    setting: Annotated[
        str | None,
        typer.Argument(
            metavar="[public|private|inherit]",
            help="Make it so; without it, show it. inherit: the component follows its namespace.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, _JSON] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Show or set who reads a namespace's components, or one component.

    Public: every signed-in user reads it (and anyone, on a server started with
    --anonymous-read); private: only the namespace's members. A component says nothing
    of its own until set: it is then as its namespace. Setting needs an owner of the
    namespace (a token of scope admin with --server). A private component looks exactly
    like a missing one to those who may not read it.

    Examples:

      coops component visibility acme public --server http://127.0.0.1:8080

      coops component visibility acme/deploy private

      coops component visibility acme/deploy inherit
    """
    namespace, name = _target(target)
    public = None if setting is None else _wanted(setting, name)
    if server is not None:
        document = _through(server, token, lambda remote: _remote(remote, namespace, name, setting, public))
    else:
        document = _local(namespace, name, setting, public)
    if as_json:
        _print_json(document)
        return
    what = f"component {target}" if name else f"namespace {namespace}"
    state = "public" if document["public"] else "private"
    if name is not None and document.get("inherited"):
        state += " (as its namespace)"
    mark = "[green]✔[/] " if setting is not None else ""
    out.print(f"{mark}{escape(what)}: {state}", highlight=False, soft_wrap=True)


def _remote(
    remote: Remote, namespace: str, name: str | None, setting: str | None, public: bool | None
) -> dict[str, Any]:
    if name is None:
        path = f"/api/v1/namespaces/{namespace}/visibility"
        if setting is None:
            return dict(remote.call("GET", path))
        return dict(remote.call("PUT", path, json={"public": public}))
    if setting is not None:
        remote.call("PUT", f"/api/v1/components/{namespace}/{name}/visibility", json={"public": public})
    listed = remote.call("GET", "/api/v1/components", params={"namespace": namespace, "limit": 200})
    return _component_state(namespace, name, listed["components"], setting)


def _component_state(
    namespace: str, name: str, rows: list[dict[str, Any]], setting: str | None
) -> dict[str, Any]:
    found = next((row for row in rows if row["name"] == name), None)
    if found is None:
        raise fail(f"no component {namespace}/{name} in the repository")
    document = {"namespace": namespace, "name": name, "public": bool(found["public"])}
    if setting == "inherit":
        document["inherited"] = True
    return document


def _local(namespace: str, name: str | None, setting: str | None, public: bool | None) -> dict[str, Any]:
    from containerops.repository.catalog import Catalog, CatalogError
    from containerops.store import Store
    from containerops.store.components import is_public

    store = Store.open()
    try:
        catalog = Catalog(store)
        if setting is not None:
            catalog.set_public(namespace, name, public)
        if name is None:
            if catalog.namespace_kind(namespace) is None:
                raise fail(f"no namespace {namespace!r} in the repository (it is made on its first push)")
            return {"namespace": namespace, "public": is_public(store, namespace)}
        rows = [row.to_json() for row in catalog.list_components(namespace)]
        return _component_state(namespace, name, rows, setting)
    except CatalogError as error:
        raise fail(str(error)) from None
    finally:
        store.close()


@registry_app.command("refusals")
def refusals(
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=1000, help="How many, newest first.")
    ] = 50,
    as_json: Annotated[bool, _JSON] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """What the registry's token endpoint refused: who, which token, what was asked and why.

    Every refused login (no token, an unknown, revoked or expired one) and every refused
    pull or push of a repository is recorded. With --server it reads them through that
    server (a site administrator's token); without, from this machine's store.

    Example:  coops registry refusals --server http://127.0.0.1:8080 --json
    """
    if server is not None:
        found = _through(
            server,
            token,
            lambda remote: remote.call("GET", "/api/v1/registry/refusals", params={"limit": limit}),
        )["refusals"]
    else:
        from containerops.store import Store
        from containerops.store.refusals import list_refusals

        store = Store.open()
        try:
            found = [refusal.to_json() for refusal in list_refusals(store, limit=limit)]
        finally:
            store.close()
    if as_json:
        _print_json(found)
        return
    if not found:
        err.print("no refusal recorded", highlight=False)
        return
    refused = table("at", "user", "token", "asked", "why", box=None, pad_edge=False)
    for row in found:
        refused.add_row(
            *(escape(str(row.get(key) or "-")) for key in ("at", "user", "token_key", "scope", "reason"))
        )
    out.print(refused)
