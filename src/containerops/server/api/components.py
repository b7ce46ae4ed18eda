"""``/api/v1/components``: the component repository, read through the API.

The same catalog ``coops component list|search|show`` reads; a token sees the
components of the namespaces it can read (every token reads ``library``). Pushing
stays with ``coops component push``, which needs the Docker Engine and the registry;
a writer of the namespace may deprecate or yank a version here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from containerops.model.component_refs import RefInvalid, parse_ref
from containerops.model.names import SEMVER
from containerops.repository import registry
from containerops.repository.catalog import Catalog, CatalogError, UnknownComponent
from containerops.server.deps import Caller, ComponentName, StoreDep, visible_namespaces
from containerops.server.errors import WITH_TOKEN, ApiError, NotFound, error_responses
from containerops.store.components import ComponentRow

router = APIRouter(prefix="/api/v1/components", tags=["components"], responses=WITH_TOKEN)
#: A whole version in a path: MAJOR.MINOR.PATCH[-PRERELEASE].
Version = Annotated[str, Path(max_length=64, pattern=f"^{SEMVER.pattern}$")]


def _visible(rows: list[ComponentRow], caller: Caller) -> list[dict[str, Any]]:
    allowed = visible_namespaces(caller)
    return [row.to_json() for row in rows if allowed is None or row.namespace in allowed]


@router.get("", summary="List components, or search them (q: words matched from their start)")
def components(
    store: StoreDep,
    caller: Caller,
    q: Annotated[str | None, Query(max_length=200, description="search words")] = None,
    namespace: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    catalog = Catalog(store)
    rows = catalog.search(q, limit=limit) if q else catalog.list_components(namespace)
    if q and namespace:
        rows = [row for row in rows if row.namespace == namespace]
    return {"components": _visible(rows, caller)}


@router.get("/{namespace}/{name}", summary="A component: its newest (or given) version, spec, README")
def component(
    namespace: ComponentName,
    name: ComponentName,
    store: StoreDep,
    caller: Caller,
    version: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    ref_text = f"{namespace}/{name}" + (f":{version}" if version else "")
    try:
        ref = parse_ref(ref_text)
    except RefInvalid as error:
        raise ApiError(str(error), status=422) from None
    missing = f"no component {ref.repository} in the repository"
    caller.require("read", ref.namespace, not_found=missing)
    catalog = Catalog(store)
    try:  # a version named is shown even when yanked: people look up why
        found = catalog.resolve(ref, pinned=version is not None)
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
    caller.require("write", namespace, not_found=missing)
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
