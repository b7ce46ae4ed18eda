"""``/api/v1/workers``: the workers claiming jobs from this server's database, as ``coops
workers list`` shows them. Workers serve every namespace, so this is for site
administrators (read scope is enough), as ``/metrics`` is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from containerops.server.deps import Caller, StoreDep
from containerops.server.errors import WITH_TOKEN, ApiError
from containerops.store.workers import list_workers
from containerops.workers.queue import lease_seconds

router = APIRouter(prefix="/api/v1", tags=["workers"])


@router.get(
    "/workers",
    summary="The workers not stopped: labels, slots, jobs running, last heartbeat (site administrators)",
    responses=WITH_TOKEN,
)
async def workers(store: StoreDep, caller: Caller) -> list[dict[str, Any]]:
    caller.require_any("read")
    if not caller.admin:
        raise ApiError("workers are listed for site administrators: use a token of one", status=403)
    rows = await run_in_threadpool(list_workers, store, lease_seconds())
    return [row.document() for row in rows]
