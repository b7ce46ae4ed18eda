"""``/api/v1/deliveries``: every webhook request received, and what came of it.

Listing needs read access and shows only the caller's namespaces; ``flow``
filters by flow URI and ``verdict`` by outcome (accepted, ignored, duplicate,
refused, failed). One delivery shows the headers kept (tokens masked) and the
body as it came.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from containerops.server.api.runs import split_uri
from containerops.server.deps import (
    FLOW_URI,
    Caller,
    DeliveryId,
    NamespaceQuery,
    StoreDep,
    listing_namespaces,
    namespace_of,
)
from containerops.server.errors import WITH_TOKEN, NotFound, error_responses
from containerops.store import StoreError, deliveries
from containerops.store.values import MAX_ID

router = APIRouter(prefix="/api/v1/deliveries", tags=["triggers"], responses=WITH_TOKEN)

Verdict = Literal["received", "accepted", "ignored", "duplicate", "refused", "failed"]


@router.get("", summary="List webhook deliveries, newest first", responses=error_responses(400))
def list_deliveries(
    store: StoreDep,
    caller: Caller,
    flow: Annotated[
        str | None, Query(max_length=255, pattern=FLOW_URI, description="namespace/repository/name")
    ] = None,
    verdict: Verdict | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="only deliveries with a smaller id (paging)")
    ] = None,
    namespace: NamespaceQuery = None,
) -> dict[str, Any]:
    namespaces = listing_namespaces(caller, namespace)
    if flow is not None:
        split_uri(flow)
        if namespaces is not None and namespace_of(flow) not in namespaces:
            return {"deliveries": []}
    found = deliveries.list_deliveries(
        store, flow_uri=flow, namespaces=namespaces, verdict=verdict, limit=limit, before=before
    )
    return {"deliveries": found}


@router.get("/{delivery_id}", summary="One delivery: headers kept, body, verdict")
def show_delivery(delivery_id: DeliveryId, store: StoreDep, caller: Caller) -> dict[str, Any]:
    missing = f"no delivery with id {delivery_id}"
    try:
        found = deliveries.get_delivery(store, delivery_id)
    except StoreError:
        raise NotFound(missing) from None
    caller.require("read", namespace_of(found["flow"]), not_found=missing)
    return found
