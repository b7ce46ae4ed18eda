"""``/api/v1/runs/{run_id}/notifications``: what each receiver of a run was told, and how it went."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from containerops.server.deps import Caller, RunId, StoreDep, namespace_of
from containerops.server.errors import WITH_TOKEN
from containerops.store.notifications import list_notifications

router = APIRouter(prefix="/api/v1/runs", tags=["runs"], responses=WITH_TOKEN)


@router.get("/{run_id}/notifications", summary="A run's notifications: receiver, attempts, status, error")
def notifications(run_id: RunId, store: StoreDep, caller: Caller) -> dict[str, Any]:
    missing = f"no run with id {run_id}"
    run = store.get_run(run_id, with_jobs=False)  # StoreError "no run ..." answers 404
    caller.require("read", namespace_of(run.uri), not_found=missing)
    return {"run_id": run_id, "notifications": list_notifications(store, run_id)}
