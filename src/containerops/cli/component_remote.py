"""``coops component push|pull|search|show|list --server URL``: the repository through a server.

Push builds on this machine, as a local push does, then pushes the image to the
server's registry with the coops token as the registry password (the registry asks the
server, which grants ``push`` only to writers of the namespace), and asks the server to
record the version, which it does once it sees the registry hold that very image. Pull
asks the server which version a reference means (as far as the token may read) and pulls
it by digest with the same token. Search, show and list read the server's catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from containerops.cli.remote import EXIT_FAILURE, Remote, RemoteError
from containerops.repository.engine_transfer import pull_image, push_image
from containerops.repository.errors import TransferError
from containerops.repository.provenance import source_of
from containerops.repository.registry import RegistryError
from containerops.timestamps import parse as parse_time
from containerops.timestamps import utcnow

# The spec (pydantic), the builder (the Docker SDK) and the store's rows (SQLAlchemy) are
# imported where they are used: a pull through the server needs none of them, a push of a
# component already built no builder (engine_transfer and component.built speak httpx to
# the Engine), and they were most of their start-up.
if TYPE_CHECKING:
    from containerops.store.components import ComponentRow, VersionRow

Progress = Callable[[str], None]


def registry_auth(remote: Remote, token: str | None, user: str) -> tuple[str, dict[str, str] | None]:
    """The server's registry address, and the credentials Docker gives it (None: it takes none)."""
    info = remote.call("GET", "/api/v1/registry")
    if not info.get("token_auth"):
        return str(info["address"]), None
    return str(info["address"]), {"username": user, "password": token or ""}


def check_writer(remote: Remote, namespace: str) -> str:
    """Refuse, before building, a push to a namespace the token's user may not write; the user."""
    me = remote.call("GET", "/api/v1/whoami")
    role = (me.get("namespaces") or {}).get(namespace)
    if not me.get("admin") and (role not in ("owner", "writer") or me.get("scope") == "read"):
        raise RemoteError(
            f"user {me.get('user')!r} may not push to namespace {namespace!r} "
            "(an owner of an organization makes you a writer: coops org add-member)"
        )
    return str(me["user"])


def _existing(remote: Remote, namespace: str, name: str, version: str) -> dict[str, Any] | None:
    response = remote.http.get(f"/api/v1/components/{namespace}/{name}", params={"version": version})
    if response.status_code == 404:
        return None
    if response.status_code >= 400:
        raise RemoteError(f"the server answered {response.status_code}: {response.text[:200]}")
    document: dict[str, Any] = response.json()
    return document


def push(remote: Remote, token: str | None, folder: Path, progress: Progress) -> dict[str, Any]:
    """Build ``folder``'s component and push it through the server; the version's document
    with ``created`` (False: this very image was this version already)."""
    from containerops.component.built import found_built  # start-up: see the imports
    from containerops.component.spec import load_spec

    loaded = load_spec(folder)
    spec = loaded.spec
    user = check_writer(remote, spec.namespace)
    address, auth = registry_auth(remote, token, user)
    built = found_built(loaded, progress)
    if built is None:
        from containerops.component.build import build_component  # the Docker SDK: only to build

        built = build_component(folder, progress, loaded=loaded)
    known = _existing(remote, spec.namespace, spec.name, spec.version)
    if known is not None and known["image_id"] != built.image_id:
        raise RemoteError(
            f"{spec.namespace}/{spec.name}:{spec.version} was already pushed with another image "
            f"({known['image_id'][:19]}, this build is {built.image_id[:19]}); a pushed version never "
            "changes: raise the version in component.yaml and push again"
        )
    repository = f"{spec.namespace}/{spec.name}"
    if known is None:
        progress(f"pushing {repository}:{spec.version} to {address}")
        try:
            push_image(address, repository, spec.version, built.tag, auth)
        except TransferError as error:
            raise RemoteError(str(error), EXIT_FAILURE) from None
    commit, dirty = source_of(folder)
    body = {
        "image_id": built.image_id,
        "spec": spec.model_dump(mode="json", exclude_none=True),
        "readme": loaded.readme,
        "source_commit": commit,
        "source_dirty": dirty,
        "size": built.size,
    }
    path = f"/api/v1/components/{spec.namespace}/{spec.name}/versions/{spec.version}"
    document: dict[str, Any] = remote.call("POST", path, json=body)
    return document


def pull(remote: Remote, token: str | None, ref: str, progress: Progress) -> dict[str, Any]:
    """Pull the version ``ref`` means to the server (as far as the token reads), by digest.

    One request to the server: the Engine is given the coops token as the registry password
    whatever the registry (one without token auth never asks for it; the token endpoint
    takes any user name), and without a token it pulls anonymously (a server configured
    for anonymous reads grants public components).
    """
    namespace_name, _, version = ref.partition(":")
    namespace, _, name = namespace_name.partition("/")
    params = {"version": version} if version else {}
    document: dict[str, Any] = remote.call("GET", f"/api/v1/components/{namespace}/{name}", params=params)
    auth = {"username": "coops", "password": token} if token else None
    try:
        pull_image(
            document["image"],
            progress,
            auth,
            tag_as=(document["namespace"], document["name"], document["version"]),
        )
    except (TransferError, RegistryError) as error:
        raise RemoteError(str(error), EXIT_FAILURE) from None
    return document


def component_rows(documents: list[dict[str, Any]]) -> list[ComponentRow]:
    from containerops.store.components import ComponentRow  # start-up: see the imports

    return [
        ComponentRow(
            namespace=d["namespace"],
            kind=d.get("namespace_kind", ""),
            name=d["name"],
            latest_version=d["latest_version"],
            title=d.get("title", ""),
            description=d.get("description", ""),
            keywords=list(d.get("keywords") or []),
            score=int(d.get("score") or 0),
            public=bool(d.get("public")),
        )
        for d in documents
    ]


def version_row(d: dict[str, Any]) -> VersionRow:
    """A version as the server's JSON has it, as the row the local commands print."""
    from containerops.store.components import VersionRow  # start-up: see the imports

    source = d.get("source") or {}
    yanked = d.get("yanked") or {}
    return VersionRow(
        namespace=d["namespace"],
        name=d["name"],
        version=d["version"],
        digest=d["digest"],
        image_id=d["image_id"],
        spec=d.get("spec") or {},
        readme=d.get("readme") or "",
        pushed_at=parse_time(d["pushed_at"]) if d.get("pushed_at") else utcnow(),
        pushed_by=d.get("pushed_by"),
        source_commit=source.get("commit"),
        source_dirty=source.get("dirty"),
        size=d.get("size"),
        deprecated=d.get("deprecated"),
        yanked=yanked.get("reason"),
        replacement=yanked.get("replacement"),
    )
