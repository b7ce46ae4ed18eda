"""``/api/v1/components``: the component repository through the API.

The same catalog ``coops component list|search|show`` reads. A token sees the
components of the namespaces it can read and the public ones (``library`` is public);
any other is answered exactly as a missing one, in listings, search and lookups.
``coops component push --server`` builds the image on the client, pushes it to the
registry with the coops token (the registry asks this server, which checks write
access to the namespace) and then records the version here, once the server has seen
the registry hold that very image. A writer of the namespace may deprecate or yank a
version; its owner makes a component public or private.
"""

from __future__ import annotations

from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from containerops.component.spec import ComponentSpec
from containerops.model.component_refs import RefInvalid, parse_ref
from containerops.model.names import SEMVER
from containerops.repository import registry
from containerops.repository.catalog import Catalog, CatalogError, UnknownComponent, VersionConflict
from containerops.repository.transfer import TransferError, record_pushed
from containerops.server.api.registry import server_pull_token
from containerops.server.auth import Principal
from containerops.server.deps import Caller, ComponentName, Reader, StoreDep, reads
from containerops.server.errors import WITH_TOKEN, ApiError, NotFound, answer, error_responses
from containerops.store.accounts import namespace_exists
from containerops.store.components import PushRecord

router = APIRouter(prefix="/api/v1/components", tags=["components"], responses=WITH_TOKEN)
#: A whole version in a path: MAJOR.MINOR.PATCH[-PRERELEASE].
Version = Annotated[str, Path(max_length=64, pattern=f"^{SEMVER.pattern}$")]


def readable_by(caller: Principal | None) -> frozenset[str] | None:
    """The namespaces whose private components ``caller`` reads (None: all, an administrator;
    none for an anonymous reader, who reads only public components)."""
    if caller is None:
        return frozenset()
    caller.require("read")
    found = caller.namespaces("read")
    return None if found is None else frozenset(found)


def _require_component(
    store: StoreDep, caller: Principal, namespace: str, name: str, missing: str, scope: str = "read"
) -> None:
    """404 (``missing``) unless ``caller`` may read the component (the one rule, as resolution
    has it), then 403 unless it may act on its namespace at ``scope``."""
    caller.require("read")
    if not Catalog(store).may_read(namespace, name, lambda ns: caller.can("read", ns)):
        raise NotFound(missing)
    if not caller.can(scope, namespace):
        raise ApiError(f"user {caller.user!r} needs {scope!r} access to namespace {namespace!r}", status=403)


@router.get("", summary="List components, or search them (q: words matched from their start)")
def components(
    store: StoreDep,
    caller: Reader,
    q: Annotated[str | None, Query(max_length=200, description="search words")] = None,
    namespace: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    catalog = Catalog(store)
    readable = readable_by(caller)
    if q:
        rows = catalog.search(q, limit=limit, readable=readable)
        if namespace:
            rows = [row for row in rows if row.namespace == namespace]
    else:
        rows = catalog.list_components(namespace, readable=readable)
    return {"components": [row.to_json() for row in rows]}


@router.get("/{namespace}/{name}", summary="A component: its newest (or given) version, spec, README")
def component(
    namespace: ComponentName,
    name: ComponentName,
    store: StoreDep,
    caller: Reader,
    version: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    ref_text = f"{namespace}/{name}" + (f":{version}" if version else "")
    try:
        ref = parse_ref(ref_text)
    except RefInvalid as error:
        raise ApiError(str(error), status=422) from None
    catalog = Catalog(store)
    try:  # a version named is shown even when yanked: people look up why
        found = catalog.resolve(ref, reads(caller), pinned=version is not None)
    except UnknownComponent as error:
        raise NotFound(str(error)) from None
    return {
        **found.to_json(),
        "image": found.image(registry.registry_address()),
        "spec": found.spec,
        "readme": found.readme,
        "versions": [v.to_json() for v in catalog.versions(ref.namespace, ref.name)],
    }


class Deprecation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str | None = Field(
        description="What users should know (shown when they use it); null: no longer deprecated.",
        max_length=2000,
        min_length=1,
    )


class Yank(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        description="Why it must not be used; null: unyank it.", max_length=2000, min_length=1
    )
    replacement: str | None = Field(None, max_length=64, description="The version to use instead.")


def _marked(
    namespace: str, name: str, version: str, store: StoreDep, caller: Caller, change: Any
) -> dict[str, Any]:
    missing = f"no version {version} of {namespace}/{name} in the repository"
    _require_component(store, caller, namespace, name, missing, "write")
    try:
        return dict(change(Catalog(store)).to_json())
    except UnknownComponent as error:
        raise NotFound(str(error)) from None
    except CatalogError as error:
        raise ApiError(str(error), status=422) from None


@router.post(
    "/{namespace}/{name}/versions/{version}/deprecate",
    summary="Deprecate a version (a warning where it is used), or no longer",
    responses=error_responses(400),
)
def deprecate(
    namespace: ComponentName,
    name: ComponentName,
    version: Version,
    body: Deprecation,
    store: StoreDep,
    caller: Caller,
) -> dict[str, Any]:
    return _marked(
        namespace,
        name,
        version,
        store,
        caller,
        lambda catalog: catalog.deprecate(namespace, name, version, body.message),
    )


@router.post(
    "/{namespace}/{name}/versions/{version}/yank",
    summary="Yank a version (new runs refuse it, pinned runs keep it), or unyank it",
    responses=error_responses(400),
)
def yank(
    namespace: ComponentName,
    name: ComponentName,
    version: Version,
    body: Yank,
    store: StoreDep,
    caller: Caller,
) -> dict[str, Any]:
    return _marked(
        namespace,
        name,
        version,
        store,
        caller,
        lambda catalog: catalog.yank(namespace, name, version, body.reason, body.replacement),
    )


class PushedVersion(BaseModel):
    """A version whose image the client pushed to the registry: what to record of it."""

    model_config = ConfigDict(extra="forbid")

    image_id: str = Field(pattern=r"^sha256:[0-9a-f]{64}$", description="The image's id (its config digest).")
    spec: dict[str, Any] = Field(description="The component's spec (component.yaml) as JSON.")
    readme: str = Field("", max_length=1_000_000)
    source_commit: str | None = Field(None, pattern=r"^[0-9a-f]{40,64}$")
    source_dirty: bool | None = None
    size: int | None = Field(None, ge=0, le=2**62)


@router.post(
    "/{namespace}/{name}/versions/{version}",
    summary="Record a version pushed to the registry (a writer of the namespace)",
    status_code=201,
    responses={
        200: answer("This very image was recorded as this version before: nothing changed."),
        **error_responses(400, 409, 503),
    },
)
def record_push(
    namespace: ComponentName,
    name: ComponentName,
    version: Version,
    body: PushedVersion,
    request: Request,
    store: StoreDep,
    caller: Caller,
) -> JSONResponse:
    """The registry must hold ``namespace/name:version`` with ``image_id`` (the client pushed
    it with its token); the server reads it there and records the registry's digest, with
    the caller as who pushed it."""
    caller.require("write", namespace, not_found=f"no namespace {namespace!r}")
    if not namespace_exists(store, namespace):
        raise NotFound(f"no namespace {namespace!r}")
    try:
        spec = ComponentSpec.model_validate(body.spec)
    except pydantic.ValidationError as error:
        raise ApiError(
            f"the spec is not a valid component.yaml: {error.errors()[0]['msg']}", status=422
        ) from None
    if (spec.namespace, spec.name, spec.version) != (namespace, name, version):
        raise ApiError(
            f"the spec is {spec.namespace}/{spec.name}:{spec.version}, not {namespace}/{name}:{version}",
            status=422,
        )
    record = PushRecord(
        namespace=namespace,
        name=name,
        version=version,
        digest="",
        image_id=body.image_id,
        spec=spec.model_dump(mode="json", exclude_none=True),
        readme=body.readme,
        title=spec.title,
        description=spec.description,
        keywords=tuple(spec.keywords),
        pushed_by=caller.user,
        source_commit=body.source_commit,
        source_dirty=body.source_dirty,
        size=body.size,
    )
    token = server_pull_token(request, namespace, name)
    try:
        result = record_pushed(store, record, registry.registry_address(), token=token)
    except VersionConflict as conflict:
        raise ApiError(str(conflict), status=409) from None
    except TransferError as error:
        raise ApiError(f"{error}: push the image first (coops component push --server)", status=422) from None
    except CatalogError as error:
        raise ApiError(str(error), status=422) from None
    except registry.RegistryError as error:
        raise ApiError(str(error), status=503) from None
    document = {**result.version.to_json(), "image": result.image, "created": result.created}
    return JSONResponse(document, status_code=201 if result.created else 200)


class Visibility(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public: bool | None = Field(
        description="true: every signed-in user reads it; false: only its namespace's readers; "
        "null: as its namespace."
    )


@router.put(
    "/{namespace}/{name}/visibility",
    summary="Make a component public or private (an owner of its namespace)",
    responses=error_responses(400),
)
def set_visibility(
    namespace: ComponentName, name: ComponentName, body: Visibility, store: StoreDep, caller: Caller
) -> dict[str, Any]:
    missing = f"no component {namespace}/{name} in the repository"
    _require_component(store, caller, namespace, name, missing, "admin")
    catalog = Catalog(store)
    try:
        catalog.set_public(namespace, name, body.public)
    except UnknownComponent:
        raise NotFound(missing) from None
    row = next(r for r in catalog.list_components(namespace) if r.name == name)
    return row.to_json()
