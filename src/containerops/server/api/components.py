"""``/api/v1/components``: the component repository, read through the API.

The same catalog ``coops component list|search|show`` reads; a token sees the
components of the namespaces it can read (every token reads ``library``). Pushing
stays with ``coops component push``, which needs the Docker Engine and the registry.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from containerops.model.component_refs import RefInvalid, parse_ref
from containerops.repository import registry
from containerops.repository.catalog import Catalog, UnknownComponent
from containerops.server.deps import Caller, ComponentName, StoreDep, visible_namespaces
from containerops.server.errors import WITH_TOKEN, ApiError, NotFound
from containerops.store.components import ComponentRow

router = APIRouter(prefix="/api/v1/components", tags=["components"], responses=WITH_TOKEN)


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
    try:
        found = catalog.resolve(ref)
    except UnknownComponent as error:
        raise NotFound(str(error)) from None
    return {
        **found.to_json(),
        "image": found.image(registry.registry_address()),
        "spec": found.spec,
        "readme": found.readme,
        "versions": [v.to_json() for v in catalog.versions(ref.namespace, ref.name)],
    }
