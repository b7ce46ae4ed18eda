"""Push and pull: components between this machine's Docker Engine and the registry.

Images move through the Docker Engine only (it talks to the registry); the
registry's HTTP API is read to learn what a tag already holds, so that a
pushed version is never overwritten: the same image again is a no-op, another
image under a pushed version is refused before anything is sent.

The ``library`` namespace holds the components maintained with ContainerOps.
Pushing into it is authorized locally in one of two ways: the component folder
is inside this repository's ``components/`` folder, or the caller says so
explicitly (``coops component push --library``, for a maintainer publishing
from a copy). Any other namespace is created, as a user's (or with ``kind``, an
organization's), on its first push.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import containerops
from containerops.component.build import build_component
from containerops.component.spec import load_spec
from containerops.model.component_refs import ComponentRef
from containerops.repository import registry, registry_auth
from containerops.repository.catalog import (
    Catalog,
    CatalogError,
    NamespaceKind,
    VersionConflict,
    conflict_message,
)
from containerops.repository.engine_transfer import Progress, pull_image, push_image
from containerops.repository.errors import TransferError
from containerops.repository.provenance import local_pusher, source_of
from containerops.store import Store
from containerops.store.components import LIBRARY, PushRecord, VersionRow

#: ``components/`` of the source tree this package runs from (an editable install).
LIBRARY_FOLDER = Path(containerops.__file__).resolve().parents[2] / "components"


@dataclass(frozen=True, slots=True)
class PushResult:
    version: VersionRow
    created: bool  # False: this very image was pushed as this version before
    image: str  # <registry>/<ns>/<name>@sha256:...


def library_folder_holds(folder: Path) -> bool:
    """Whether ``folder`` is one of the library's own component folders."""
    try:
        folder.resolve().relative_to(LIBRARY_FOLDER)
    except ValueError:
        return False
    return True


def namespace_kind_for(
    namespace: str, folder: Path, *, library: bool, catalog: Catalog, kind: NamespaceKind | None
) -> NamespaceKind:
    """The kind the pushed-to namespace has (or gets); refuses ``library`` from elsewhere."""
    if namespace == LIBRARY:
        if not (library or library_folder_holds(folder)):
            raise CatalogError(
                f"namespace 'library' is reserved for the components maintained with ContainerOps "
                f"(the folders in {LIBRARY_FOLDER}); push your own under an organization or user "
                "namespace, or pass --library if you maintain the library"
            )
        return "library"
    existing = catalog.namespace_kind(namespace)
    if existing is not None and kind is not None and existing != kind:
        raise CatalogError(f"namespace {namespace!r} exists already as {existing}, not {kind}")
    if kind == "library":
        raise CatalogError("only the namespace 'library' is of kind library")
    return kind or ("organization" if existing == "organization" else "user")


def push_component(
    store: Store,
    folder: Path | str,
    *,
    library: bool = False,
    kind: NamespaceKind | None = None,
    progress: Progress | None = None,
    pushed_by: str | None = None,
) -> PushResult:
    """Build the component in ``folder`` and push it; record the version, with who pushed it
    (``pushed_by``, else this machine's ``user@host``), the folder's git commit and its size.

    Raises ``SpecInvalid`` (a bad spec), ``CatalogError`` (refused),
    ``RegistryError`` (registry down), ``ComponentBuildError`` or ``TransferError``.
    """
    say: Progress = progress or (lambda _line: None)
    folder = Path(folder)
    loaded = load_spec(folder)
    spec = loaded.spec
    catalog = Catalog(store)
    namespace_kind = namespace_kind_for(spec.namespace, folder, library=library, catalog=catalog, kind=kind)
    address = registry.check()
    built = build_component(folder, say, loaded=loaded)
    commit, dirty = source_of(folder)
    record = PushRecord(
        namespace=spec.namespace,
        name=spec.name,
        version=spec.version,
        digest="",
        image_id=built.image_id,
        spec=spec.model_dump(mode="json", exclude_none=True),
        readme=loaded.readme,
        title=spec.title,
        description=spec.description,
        keywords=tuple(spec.keywords),
        pushed_by=pushed_by or local_pusher(),
        source_commit=commit,
        source_dirty=dirty,
        size=built.size,
    )
    known = catalog.existing(spec.namespace, spec.name, spec.version)
    if known is not None and known.image_id != built.image_id:
        raise VersionConflict(conflict_message(record, known.image_id))
    repository = f"{spec.namespace}/{spec.name}"
    held = registry.manifest_digest(repository, spec.version, address)
    if held is not None and held[1] != built.image_id:
        raise VersionConflict(conflict_message(record, held[1]) + f" (the registry at {address} holds it)")
    if held is None:
        say(f"pushing {repository}:{spec.version} to {address}")
        push_image(address, repository, spec.version, built.tag)
    else:
        say(f"{repository}:{spec.version} is already in {address} with this image")
    return record_pushed(store, record, address, kind=namespace_kind)


def record_pushed(
    store: Store,
    record: PushRecord,
    address: str,
    *,
    kind: NamespaceKind | None = None,
    token: str | None = None,
) -> PushResult:
    """Record a version whose image was pushed to the registry at ``address``, once the
    registry is seen to hold exactly that image under its tag (read with ``token``, a
    registry JWT, when the registry takes them): the digest recorded is the registry's.

    What the server does with a push made through it (the client pushed the image with
    its own token), and the end of a local push. ``kind``: the namespace's when new.
    """
    catalog = Catalog(store)
    known = catalog.existing(record.namespace, record.name, record.version)
    if known is not None and known.image_id != record.image_id:
        raise VersionConflict(conflict_message(record, known.image_id))
    repository = f"{record.namespace}/{record.name}"
    held = registry.manifest_digest(repository, record.version, address, token=token)
    if held is None:
        raise TransferError(f"the registry at {address} does not hold {repository}:{record.version}")
    if held[1] != record.image_id and known is None:
        raise VersionConflict(
            f"the registry at {address} holds another image ({held[1][:19]}) as "
            f"{repository}:{record.version} than this one ({record.image_id[:19]}); push the image again"
        )
    digest = known.digest if known is not None else held[0]
    row, created = catalog.record(
        dataclasses.replace(record, digest=digest),
        kind=kind or _kind_of(record.namespace, catalog.namespace_kind(record.namespace)),
    )
    return PushResult(version=row, created=created, image=row.image(address))


def _kind_of(namespace: str, found: str | None) -> NamespaceKind:
    if namespace == LIBRARY:
        return "library"
    return "organization" if found == "organization" else "user"


def local_tag(version: VersionRow) -> str:
    return f"coops/{version.namespace}/{version.name}:{version.version}"


def pull_component(
    store: Store, ref: ComponentRef, progress: Progress | None = None
) -> tuple[VersionRow, str]:
    """Pull the version ``ref`` names, by digest; tag it ``coops/<ns>/<name>:<version>`` too.

    Returns the version and the digest reference it was pulled as.
    """
    version = Catalog(store).resolve(ref)
    address = registry.check()
    image = version.image(address)
    tags = (version.namespace, version.name, version.version)
    pull_image(image, progress, pull_auth(image), tag_as=tags)
    return version, image


def pull_auth(image: str) -> dict[str, str] | None:
    """What a pull of ``image`` (``<registry>/<repo>@sha256:...``) by this home gives the
    Engine for the registry: nothing when it takes no tokens; else a pull token this
    process signs itself when it holds the signing key (the server pulling its runs'
    components, on the registry's home); anyone else is told to pull through the server."""
    repository = image.partition("@")[0]
    address, _, path = repository.partition("/")
    return _own_pull_token(address, path) if registry.probe(address) else None


def _own_pull_token(address: str, repository: str) -> dict[str, str]:
    """Docker's ``registrytoken`` (sent to the registry as it is) for pulling ``repository``,
    signed with this home's key; TransferError when this home has none."""
    signer = registry_auth.load_signer()
    namespace, _, name = repository.partition("/")
    if signer is None:
        raise TransferError(
            f"the registry at {address} takes tokens from its server: pull through it "
            "(coops component pull --server URL) or docker login with a coops token"
        )
    return {
        "registrytoken": signer.issue("coops-runner", [registry_auth.Access(namespace, name, ("pull",))])[0]
    }


__all__ = [
    "LIBRARY_FOLDER",
    "Progress",
    "PushResult",
    "TransferError",
    "library_folder_holds",
    "local_tag",
    "namespace_kind_for",
    "pull_auth",
    "pull_component",
    "push_component",
    "push_image",
    "record_pushed",
]
