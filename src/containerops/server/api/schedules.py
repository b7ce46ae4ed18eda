"""``/api/v1/schedules``: the cron triggers the server runs, their last and next ticks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from containerops.server.deps import Caller, NamespaceQuery, StoreDep, listing_namespaces
from containerops.server.errors import WITH_TOKEN
from containerops.store.schedules import list_schedules

router = APIRouter(prefix="/api/v1/schedules", tags=["triggers"], responses=WITH_TOKEN)


@router.get("", summary="List schedules (cron triggers) of the flows the caller can see")
def schedules(store: StoreDep, caller: Caller, namespace: NamespaceQuery = None) -> dict[str, Any]:
    return {"schedules": list_schedules(store, listing_namespaces(caller, namespace))}
