"""``coops component push|pull|search|show|list`` and ``coops registry start|stop|status``.

The repository commands join ``component_app`` (``coops component``); the
registry commands are their own group. Every name a user gives is checked
(``namespace/name[:version]``, lowercase letters, digits, ``-``, ``_``) before
it reaches the store, Docker or the registry. Exit codes: 0 done, 1 the
registry or Docker failed, 2 refused (bad name, bad spec, unknown component,
a pushed version with another image).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from containerops.cli.component import EXIT_FAILURE, EXIT_INVALID, component_app, fail, report_invalid
from containerops.cli.consoles import err, escape, out, table
from containerops.cli.remote import ServerOption, TokenOption
from containerops.timestamps import json_default

if TYPE_CHECKING:
    from rich.table import Table

    from containerops.cli.remote import Remote
    from containerops.model.component_refs import ComponentRef
    from containerops.repository import registry


registry_app = typer.Typer(
    help=(
        "The component registry: Debian's docker-registry on 127.0.0.1, its config and "
        "storage under COOPS_HOME/registry. Push and pull go to COOPS_REGISTRY, else the "
        "address `registry start` stored, else 127.0.0.1:5000."
    ),
    no_args_is_help=True,
)

_JSON = typer.Option("--json", help="Print JSON for scripts.")


def _ref(text: str) -> ComponentRef:
    from containerops.model.component_refs import RefInvalid, parse_ref

    try:
        return parse_ref(text)
    except RefInvalid as error:
        raise fail(str(error)) from None


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, default=json_default) + "\n")


def _through(server: str, token: str | None, action: Callable[[Remote], Any]) -> Any:
    """``action`` against the server at ``server``; its refusals exit 2, failures 1."""
    from containerops.cli.remote import Remote, RemoteError

    try:
        with Remote(server, token) as remote:
            return action(remote)
    except RemoteError as error:
        raise fail(str(error), error.code) from None


def _say(line: str) -> None:
    err.print(f"[dim]{escape(line)}[/]", highlight=False, soft_wrap=True)


# -- push / pull ---------------------------------------------------------------------
@component_app.command("push")
def push(
    folder: Annotated[Path, typer.Argument(help="The component folder (with component.yaml).")],
    library: Annotated[
        bool,
        typer.Option(
            "--library",
            help="Allow a push into the reserved 'library' namespace from outside this repository's "
            "components/ folder (for maintainers of the library).",
        ),
    ] = False,
    organization: Annotated[
        bool,
        typer.Option("--organization", help="Create the namespace as an organization's (default: a user's)."),
    ] = False,
    as_json: Annotated[bool, _JSON] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the builder's output.")] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Build a component and push it to the registry as NAMESPACE/NAME:VERSION.

    A pushed version never changes: pushing the same image again does nothing,
    pushing another image under the same version is refused (raise the version).
    The namespace is created on first push; 'library' is reserved for the
    components in this repository's components/ folder. With --server, the push goes
    to that server's registry and catalog, as the token's user, who must be a writer
    of the namespace.

    Example:  coops component push components/shell
    """

    def progress(line: str) -> None:
        if verbose or not line.startswith("  "):
            _say(line)

    if server is not None:  # before the store's imports: a push through a server needs none
        _push_through(server, token, folder, progress, as_json)
        return
    from containerops.component.built import ComponentBuildError
    from containerops.component.spec import SpecInvalid
    from containerops.repository import registry
    from containerops.repository.catalog import CatalogError
    from containerops.repository.transfer import TransferError, push_component
    from containerops.store import Store

    store = Store.open()
    try:
        result = push_component(
            store,
            folder,
            library=library,
            kind="organization" if organization else None,
            progress=progress,
        )
    except SpecInvalid as invalid:
        raise report_invalid(invalid) from None
    except CatalogError as error:
        raise fail(str(error)) from None
    except (registry.RegistryError, ComponentBuildError, TransferError) as error:
        raise fail(str(error), EXIT_FAILURE) from None
    finally:
        store.close()
    version = result.version
    if as_json:
        _print_json({**version.to_json(), "image": result.image, "created": result.created})
        return
    state = "pushed" if result.created else "already pushed (same image), nothing to do"
    err.print(
        f"[green]✔[/] {escape(version.ref)} {state}: {escape(result.image)}", highlight=False, soft_wrap=True
    )


def _push_through(server: str, token: str | None, folder: Path, progress: Any, as_json: bool) -> None:
    from containerops.cli import component_remote
    from containerops.component.built import ComponentBuildError
    from containerops.component.spec import SpecInvalid

    try:
        document = _through(
            server, token, lambda remote: component_remote.push(remote, token, folder, progress)
        )
    except SpecInvalid as invalid:
        raise report_invalid(invalid) from None
    except ComponentBuildError as error:
        raise fail(str(error), EXIT_FAILURE) from None
    if as_json:
        _print_json(document)
        return
    ref = f"{document['namespace']}/{document['name']}:{document['version']}"
    state = "pushed" if document["created"] else "already pushed (same image), nothing to do"
    err.print(
        f"[green]✔[/] {escape(ref)} {state}: {escape(document['image'])}", highlight=False, soft_wrap=True
    )


@component_app.command("pull")
def pull(
    ref: Annotated[
        str, typer.Argument(metavar="REF", help="namespace/name[:version]; no version: the newest.")
    ],
    as_json: Annotated[bool, _JSON] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Pull a component's image from the registry, by its recorded digest.

    It is also tagged coops/NAMESPACE/NAME:VERSION. Example:  coops component pull library/shell
    """
    wanted = _ref(ref)
    if server is not None:  # before the store's imports: a pull through a server needs none
        from containerops.cli import component_remote

        document = _through(server, token, lambda remote: component_remote.pull(remote, token, ref, _say))
        if as_json:
            _print_json(document)
        else:
            shown = f"{document['namespace']}/{document['name']}:{document['version']}: {document['image']}"
            err.print(f"[green]✔[/] {escape(shown)}", highlight=False, soft_wrap=True)
        return
    from containerops.repository import registry
    from containerops.repository.catalog import UnknownComponent
    from containerops.repository.transfer import TransferError, pull_component
    from containerops.store import Store

    store = Store.open()
    try:
        version, image = pull_component(
            store, wanted, lambda line: err.print(f"[dim]{escape(line)}[/]", highlight=False, soft_wrap=True)
        )
    except UnknownComponent as error:
        raise fail(str(error)) from None
    except (registry.RegistryError, TransferError) as error:
        raise fail(str(error), EXIT_FAILURE) from None
    finally:
        store.close()
    if as_json:
        _print_json({**version.to_json(), "image": image})
        return
    err.print(f"[green]✔[/] {escape(version.ref)}: {escape(image)}", highlight=False, soft_wrap=True)


# -- search / show / list ------------------------------------------------------------
def _components_table(rows: list[Any], with_score: bool = False) -> Table:
    columns = ["component", "newest", "title"] + (["score"] if with_score else [])
    rows_table = table(*columns, box=None)
    for row in rows:
        cells = [escape(row.full_name), escape(row.latest_version), escape(row.title or row.description[:60])]
        if with_score:
            cells.append(str(row.score))
        rows_table.add_row(*cells)
    return rows_table


@component_app.command("search")
def search(
    text: Annotated[str, typer.Argument(help="Words to find in names, keywords, titles and descriptions.")],
    limit: Annotated[int, typer.Option(help="How many results at most.", min=1, max=1000)] = 20,
    as_json: Annotated[bool, _JSON] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Find components by words; the best matches first.

    Each word must start a word of the component (git finds git-clone and
    github). The name counts most, then keywords, then the title, then the
    description; the library comes first at equal scores.

    Example:  coops component search git
    """
    from containerops.repository.catalog import Catalog
    from containerops.store import Store

    if server is not None:
        rows = _remote_rows(server, token, {"q": text, "limit": min(limit, 200)})
    else:
        store = Store.open()
        rows = Catalog(store).search(text, limit=limit)
        store.close()
    if as_json:
        _print_json([row.to_json() for row in rows])
        return
    if not rows:
        err.print(f"no component matches {escape(text)!r}", highlight=False, soft_wrap=True)
        return
    out.print(_components_table(rows, with_score=True))


def _remote_rows(server: str, token: str | None, params: dict[str, Any]) -> list[Any]:
    from containerops.cli import component_remote

    found = _through(server, token, lambda remote: remote.call("GET", "/api/v1/components", params=params))
    return component_remote.component_rows(found["components"])


@component_app.command("deprecate")
def deprecate(
    ref: Annotated[str, typer.Argument(metavar="REF", help="namespace/name:version, the whole version.")],
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="What users should know (shown when they use it).")
    ] = None,
    undo: Annotated[bool, typer.Option("--undo", help="It is no longer deprecated.")] = False,
    as_json: Annotated[bool, _JSON] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Deprecate a version: flows may still use it, and validation and runs warn with
    your message (what to use instead, until when). With --server, as the token's user, a
    writer of the namespace.

    Example:  coops component deprecate acme/notify:1.2.0 -m "use 2.x: 1.x stops in March"
    """
    said = None if undo else _said(message, undo)
    _mark(
        ref,
        as_json,
        lambda catalog, wanted: catalog.deprecate(*wanted, said),
        (server, token, "deprecate", {"message": said}),
    )


@component_app.command("yank")
def yank(
    ref: Annotated[str, typer.Argument(metavar="REF", help="namespace/name:version, the whole version.")],
    reason: Annotated[str | None, typer.Option("--reason", "-m", help="Why it must not be used.")] = None,
    replacement: Annotated[
        str | None, typer.Option("--replacement", help="The version to use instead (of the same component).")
    ] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Unyank it.")] = False,
    as_json: Annotated[bool, _JSON] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Yank a version: new runs refuse it (naming the replacement), no range or "newest"
    picks it, and runs that already resolved it keep their image and history. Nothing is
    deleted: --undo brings it back. With --server, as the token's user, a writer of the
    namespace.

    Example:  coops component yank acme/notify:1.2.0 -m "leaks the token" --replacement 1.2.1
    """
    said = None if undo else _said(reason, undo)
    _mark(
        ref,
        as_json,
        lambda catalog, wanted: catalog.yank(*wanted, said, replacement),
        (server, token, "yank", {"reason": said, "replacement": replacement}),
    )


def _said(message: str | None, undo: bool) -> str:
    if not message or not message.strip():
        raise fail("say why (--message): your users read it; or --undo")
    return message.strip()[:2000]


def _mark(
    ref: str,
    as_json: bool,
    change: Callable[[Any, tuple[str, str, str]], Any],
    remote: tuple[str | None, str | None, str, dict[str, Any]],
) -> None:
    """Change a version on this machine's store (``change``), or with ``remote`` (server,
    token, action, body) through that server's API."""
    wanted = _ref(ref)
    if wanted.version is None or wanted.version.count(".") != 2:
        raise fail(f"name the whole version: {wanted.repository}:MAJOR.MINOR.PATCH")
    server, token, action, body = remote
    if server is not None:
        from containerops.cli import component_remote

        path = f"/api/v1/components/{wanted.namespace}/{wanted.name}/versions/{wanted.version}/{action}"
        document = _through(server, token, lambda client: client.call("POST", path, json=body))
        version = component_remote.version_row(document)
    else:
        version = _mark_locally(change, (wanted.namespace, wanted.name, wanted.version))
    if as_json:
        _print_json(version.to_json())
        return
    state = _version_state(version) or "in use as any version"
    err.print(f"[green]✔[/] {escape(version.ref)}: {escape(state)}", highlight=False, soft_wrap=True)


def _mark_locally(change: Callable[[Any, tuple[str, str, str]], Any], wanted: tuple[str, str, str]) -> Any:
    from containerops.repository.catalog import Catalog, CatalogError
    from containerops.store import Store

    store = Store.open()
    try:
        return change(Catalog(store), wanted)
    except CatalogError as error:
        raise fail(str(error)) from None
    finally:
        store.close()


def _version_state(version: Any) -> str:
    """``yanked: why (use X)`` / ``deprecated: why`` / ``""``."""
    if version.yanked is not None:
        instead = f" (use {version.replacement})" if version.replacement else ""
        return f"yanked: {version.yanked}{instead}"
    if version.deprecated is not None:
        return f"deprecated: {version.deprecated}"
    return ""


@component_app.command("show")
def show(
    ref: Annotated[
        str, typer.Argument(metavar="REF", help="namespace/name[:version]; no version: the newest.")
    ],
    as_json: Annotated[bool, _JSON] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """A component: its spec (inputs, outputs, resources), its versions and its README."""
    from containerops.repository import registry
    from containerops.repository.catalog import Catalog, UnknownComponent
    from containerops.store import Store

    wanted = _ref(ref)
    if server is not None:
        _show_through(server, token, wanted, as_json)
        return
    store = Store.open()
    catalog = Catalog(store)
    try:  # a yanked version is shown when named (pinned): people look up why
        version = catalog.resolve(wanted, pinned=wanted.version is not None)
    except UnknownComponent as error:
        raise fail(str(error)) from None
    versions = catalog.versions(wanted.namespace, wanted.name)
    store.close()
    address = registry.registry_address()
    if as_json:
        _print_json(
            {
                **version.to_json(),
                "image": version.image(address),
                "spec": version.spec,
                "readme": version.readme,
                "versions": [v.to_json() for v in versions],
            }
        )
        return
    _show_text(version, versions, address)


def _show_through(server: str, token: str | None, wanted: ComponentRef, as_json: bool) -> None:
    from containerops.cli import component_remote

    params = {"version": wanted.version} if wanted.version else {}
    path = f"/api/v1/components/{wanted.namespace}/{wanted.name}"
    document = _through(server, token, lambda remote: remote.call("GET", path, params=params))
    if as_json:
        _print_json(document)
        return
    address = document["image"].split("/", 1)[0]
    versions = [component_remote.version_row(v) for v in document["versions"]]
    _show_text(component_remote.version_row(document), versions, address)


def _show_text(version: Any, versions: list[Any], address: str) -> None:
    spec = version.spec
    out.print(
        f"[bold]{escape(version.ref)}[/]  {escape(spec.get('title') or '')}", highlight=False, soft_wrap=True
    )
    if spec.get("description"):
        out.print(escape(spec["description"]), highlight=False, soft_wrap=True)
    if state := _version_state(version):
        out.print(f"[bold yellow]{escape(state)}[/]", highlight=False, soft_wrap=True)
    out.print(f"image: {escape(version.image(address))}", highlight=False, soft_wrap=True)
    pushed = f"pushed {version.pushed_at:%Y-%m-%d %H:%M} UTC"
    if version.pushed_by:
        pushed += f" by {version.pushed_by}"
    if version.source_commit:
        pushed += f" from commit {version.source_commit[:12]}" + (
            " (with changes not committed)" if version.source_dirty else ""
        )
    if version.size is not None:
        pushed += f", {version.size / 2**20:.1f} MiB"
    out.print(escape(pushed), highlight=False, soft_wrap=True)
    if spec.get("keywords"):
        out.print(f"keywords: {escape(', '.join(spec['keywords']))}", highlight=False, soft_wrap=True)
    if spec.get("maintainers"):
        out.print(f"maintainers: {escape(', '.join(spec['maintainers']))}", highlight=False, soft_wrap=True)
    inputs = table("input", "type", "required", "default", "description", box=None, title="inputs")
    for item in spec.get("inputs") or []:
        default = "" if item.get("default") is None else json.dumps(item["default"])
        kind = item.get("type", "string") + (" (secret)" if item.get("secret") else "")
        inputs.add_row(
            escape(item["name"]),
            kind,
            "yes" if item.get("required") else "",
            escape(default),
            escape(item.get("description") or ""),
        )
    if spec.get("inputs"):
        out.print(inputs)
    if spec.get("outputs"):
        outputs = table("output", "description", box=None, title="outputs")
        for item in spec["outputs"]:
            outputs.add_row(escape(item["name"]), escape(item.get("description") or ""))
        out.print(outputs)
    resources = spec.get("resources") or {}
    limits = [f"{k} {v}" for k, v in resources.items() if v is not None]
    if spec.get("timeout"):
        limits.append(f"timeout {spec['timeout']:g} s")
    if limits:
        out.print(f"defaults: {', '.join(limits)}", highlight=False, soft_wrap=True)

    def dated(v: Any) -> str:
        marks = [
            f"{v.pushed_at:%Y-%m-%d}",
            *(["yanked"] if v.yanked else []),
            *(["deprecated"] if v.deprecated else []),
        ]
        return f"{v.version} ({', '.join(marks)})"

    listed = ", ".join(dated(v) for v in versions)
    out.print(f"versions: {escape(listed)}", highlight=False, soft_wrap=True)
    if version.readme:
        out.console.rule("README")
        out.print(escape(version.readme), highlight=False, soft_wrap=True)


@component_app.command("list")
def list_components(
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Only this namespace.")] = None,
    as_json: Annotated[bool, _JSON] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Every component in the repository (or in one namespace), with its newest version."""
    from containerops.model.names import validate_name
    from containerops.repository.catalog import Catalog
    from containerops.store import Store

    if namespace is not None:
        try:
            validate_name("namespace", namespace)
        except ValueError as error:
            raise fail(str(error)) from None
    if server is not None:
        rows = _remote_rows(server, token, {"namespace": namespace} if namespace else {})
    else:
        store = Store.open()
        rows = Catalog(store).list_components(namespace)
        store.close()
    if as_json:
        _print_json([row.to_json() for row in rows])
        return
    if not rows:
        where = f" in namespace {namespace!r}" if namespace else ""
        err.print(
            f"no component{escape(where)} yet; `coops component push DIR` adds one",
            highlight=False,
            soft_wrap=True,
        )
        return
    out.print(_components_table(rows))


# -- registry ------------------------------------------------------------------------
def _status_lines(status: registry.RegistryStatus) -> None:
    state = "[green]running[/]" if status.running else "[red]not answering[/]"
    if status.managed:
        started = f" (pid {status.pid}, started from this COOPS_HOME)"
    else:
        started = ", not one this COOPS_HOME started (its files are elsewhere)"
    err.print(f"registry {escape(status.address)}: {state}{started}", highlight=False, soft_wrap=True)
    if status.token_realm is not None:
        err.print(f"tokens from: {escape(status.token_realm)}", highlight=False, soft_wrap=True)
    if status.folder is not None and status.log is not None:
        err.print(
            f"folder: {escape(status.folder)}  log: {escape(status.log)}", highlight=False, soft_wrap=True
        )


@registry_app.command("start")
def registry_start(
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            "-p",
            help="Port on 127.0.0.1 (default: the last one used, else 5000).",
            min=1,
            max=65535,
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            help="Run it for the coops server at this URL: every push and pull then needs a token "
            "that server issues (docker login with a coops token as the password).",
        ),
    ] = None,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """Start the registry in the background (nothing to do when it already runs).

    The address is remembered: push and pull use it unless COOPS_REGISTRY says otherwise.
    Without --server anyone who reaches the port may push and pull (a registry for this
    machine); with it, the registry takes only tokens signed by the key in
    COOPS_HOME/registry/auth, which that server (on the same COOPS_HOME) signs with.
    """
    from containerops.repository import registry, registry_auth

    if server is not None and not server.startswith(("http://", "https://")):
        raise fail(f"--server {server!r}: give the server's URL, e.g. http://127.0.0.1:8080")
    try:
        signer = None if server is None else registry_auth.load_signer(create=True)
        auth = None if server is None or signer is None else registry_auth.auth_settings(server, signer)
        status = registry.start(port, auth=auth)
    except registry.RegistryError as error:
        raise fail(str(error), EXIT_FAILURE) from None
    if as_json:
        _print_json(status.to_json())
    else:
        _status_lines(status)


@registry_app.command("stop")
def registry_stop() -> None:
    """Stop the registry that `coops registry start` started (its storage stays)."""
    from containerops.repository import registry

    try:
        stopped = registry.stop()
    except registry.RegistryError as error:
        raise fail(str(error), EXIT_FAILURE) from None
    err.print(
        "registry stopped" if stopped else "no registry of ours was running", highlight=False, soft_wrap=True
    )


@registry_app.command("status")
def registry_status(as_json: Annotated[bool, _JSON] = False) -> None:
    """Whether the registry answers, where, and whether we started it. Exit 1 when it does not answer."""
    from containerops.repository import registry

    status = registry.status()
    if as_json:
        _print_json(status.to_json())
    else:
        _status_lines(status)
    if not status.running:
        raise typer.Exit(EXIT_FAILURE)


@registry_app.command("gc")
def registry_gc(
    apply: Annotated[bool, typer.Option("--apply", help="Remove them (without it: a dry run).")] = False,
    grace: Annotated[
        float,
        typer.Option(
            "--grace", min=0, help="Seconds a new blob or tag is left alone (longer than any push takes)."
        ),
    ] = 3600.0,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """Find the registry's blobs no recorded version references; remove them with --apply.

    Safe while pushes go on: what is younger than --grace is kept, and the manifest of
    every recorded version (yanked ones too) with its layers. Works on the registry this
    COOPS_HOME started. Run it without --apply first to see what would go.
    """
    from containerops.repository import gc, registry
    from containerops.store import Store

    store = Store.open()
    try:
        result = gc.collect(store, dry_run=not apply, grace=grace)
    except registry.RegistryError as error:
        raise fail(str(error), EXIT_FAILURE) from None
    finally:
        store.close()
    if as_json:
        _print_json(result.to_json())
        return
    verb = "removed" if apply else "dry run: would remove"
    err.print(
        f"{verb} {len(result.blobs)} blobs ({result.freed_bytes / 2**20:.1f} MiB) and "
        f"{len(result.tags)} tags no version records; kept {result.kept_blobs} blobs, "
        f"{result.young} younger than {grace:g} s" + ("" if apply else " (--apply removes them)"),
        highlight=False,
        soft_wrap=True,
    )
    for tag in result.tags:
        err.print(f"  {escape(tag)}", highlight=False, soft_wrap=True)


__all__ = ["EXIT_INVALID", "registry_app"]
