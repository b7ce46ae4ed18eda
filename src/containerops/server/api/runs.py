"""``/api/v1/runs``: start, list, show, cancel, approve or reject, rerun."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from containerops.engine.cancelling import ask_to_cancel
from containerops.engine.decisions import decide
from containerops.model.names import ENV_NAME
from containerops.model.paths import group_of
from containerops.server.deps import (
    FLOW_URI,
    Caller,
    IsoTime,
    Manager,
    NamespaceQuery,
    RunId,
    StoreDep,
    listing_namespaces,
    namespace_of,
)
from containerops.server.errors import WITH_TOKEN, ApiError, Conflict, error_responses
from containerops.server.manager import SubmittedRun
from containerops.server.names import job_path, uri_part
from containerops.store import RunRow, Store, StoreError, runs
from containerops.store import flows as stored_flows
from containerops.store.ownership import ownership
from containerops.store.values import MAX_ID

router = APIRouter(prefix="/api/v1/runs", tags=["runs"], responses=WITH_TOKEN)

RunStatus = Literal["pending", "running", "paused", "success", "failure", "cancelled"]
LIVE = frozenset({"pending", "running", "paused"})
#: How long a cancel of a run another process owns waits for it to end before answering.
OTHERS_CANCEL_WAIT = 30.0


class StartRun(BaseModel):
    """What to run: a flow by URI, optionally an older version, and variable overrides."""

    model_config = ConfigDict(extra="forbid")

    flow: str = Field(
        description="The flow's URI: namespace/repository/name.", max_length=255, pattern=FLOW_URI
    )
    version: int | None = Field(
        None, ge=1, le=MAX_ID, description="A version number of the flow; the newest if absent."
    )
    set: dict[str, str] = Field(
        default_factory=dict, description="Flow environment variables to set or override: NAME: value."
    )


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(None, max_length=4000)


def split_uri(uri: str) -> tuple[str, str, str]:
    parts = uri.split("/")
    if len(parts) != 3:
        raise ApiError(f"flow {uri[:255]!r} must be namespace/repository/name", status=422)
    uri_part(parts[0], "namespace")
    uri_part(parts[1], "repository")
    uri_part(parts[2], "flow name")
    return parts[0], parts[1], parts[2]


def started(run: SubmittedRun, uri: str, status: int = 202) -> JSONResponse:
    return JSONResponse(
        {"id": run.id, "number": run.number, "uid": run.uid, "uri": uri, "url": f"/api/v1/runs/{run.id}"},
        status_code=status,
    )


@router.post("", status_code=202, summary="Start a run of a flow", responses=error_responses(400, 503))
async def start_run(body: StartRun, manager: Manager, store: StoreDep, caller: Caller) -> JSONResponse:
    """Answers 202 with the run's id and number as soon as it is recorded and queued."""
    namespace, _, _ = split_uri(body.flow)
    caller.require("write", namespace, not_found=f"no flow {body.flow}")
    bad = [name for name in body.set if not ENV_NAME.fullmatch(name)]
    if bad:
        raise ApiError(f"set: {bad[0][:80]!r} is not a variable name (letters, digits, _)", status=422)
    flow_id, version_id = await asyncio.to_thread(stored_flows.find_version, store, body.flow, body.version)
    params: dict[str, Any] = {"set": body.set} if body.set else {}
    run = await manager.submit(
        flow_id, version_id, params=params, trigger={"type": "api", "by": caller.name}, found=True
    )
    return started(run, body.flow)


def _utc(value: datetime | None) -> datetime | None:
    """The store compares times in UTC; a time without a zone is taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def listed_namespaces(caller: Caller, flow: str | None, namespace: str | None = None) -> list[str] | None:
    """The namespaces a listing of runs (of ``flow``, if given, else of ``namespace``) may show
    the caller: None for all; a flow the caller may not read is 404, as one that does not exist."""
    if flow is None:
        return listing_namespaces(caller, namespace)
    namespace, _, _ = split_uri(flow)
    caller.require("read", namespace, not_found=f"no flow {flow}")
    return None


@router.get("", summary="List runs, newest first", responses=error_responses(400))
def list_runs(
    store: StoreDep,
    caller: Caller,
    flow: Annotated[
        str | None, Query(description="Only runs of this flow URI.", max_length=255, pattern=FLOW_URI)
    ] = None,
    status: Annotated[RunStatus | None, Query(description="Only runs in this state.")] = None,
    number: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only the run with this number (with flow).")
    ] = None,
    since: Annotated[
        IsoTime | None, Query(description="Only runs created at or after this time (ISO 8601).")
    ] = None,
    until: Annotated[
        IsoTime | None, Query(description="Only runs created before this time (ISO 8601).")
    ] = None,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Paging: runs older than this run id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    namespace: NamespaceQuery = None,
) -> dict[str, Any]:
    visible = listed_namespaces(caller, flow, namespace)
    rows = store.list_runs(
        limit=limit,
        uri=flow,
        status=status,
        number=number,
        since=_utc(since),
        until=_utc(until),
        before_id=before,
        namespaces=visible,
    )
    return {
        "runs": [row.to_json(with_jobs=False) for row in rows],
        "next": rows[-1].id if len(rows) == limit else None,
    }


def readable_run(store: Store, caller: Caller, run_id: int, scope: str = "read") -> RunRow:
    """The run, if the caller may act on it at ``scope``; a hidden run is 404 like a missing one."""
    not_found = f"no run with id {run_id}"
    try:
        run = store.get_run(run_id, with_jobs=False)
    except StoreError:
        raise ApiError(not_found, status=404) from None
    caller.require(scope, namespace_of(run.uri), not_found=not_found)
    return run


def run_document(store: Store, run_id: int, *, instances: bool = True) -> dict[str, Any]:
    """The run as ``coops runs show --json`` prints it, plus what started it. Without
    ``instances`` a matrix job is one entry with counts: its instances' jobs, attempts and
    history are left out (``/runs/{id}/matrix/{path}`` lists them a page at a time)."""
    row = store.get_run(run_id)
    document = row.to_json(instances=instances)
    document["attempts"] = runs.attempts(store, run_id)
    document["history"] = runs.state_changes(store, run_id)
    if not instances:
        for key in ("attempts", "history"):
            document[key] = [
                item for item in document[key] if not item["job"] or group_of(item["job"]) is None
            ]
    trigger, rerun_of = runs.run_origin(store, run_id)
    document["trigger"] = trigger
    document["rerun_of"] = rerun_of
    return dict(jsonable_encoder(document))


@router.get("/{run_id}", summary="Show a run: jobs, attempts, history")
def show_run(
    run_id: RunId,
    store: StoreDep,
    caller: Caller,
    instances: Annotated[
        bool,
        Query(
            description="List every instance of a matrix job too (else each matrix is one entry with counts)."
        ),
    ] = False,
) -> dict[str, Any]:
    readable_run(store, caller, run_id)
    return run_document(store, run_id, instances=instances)


@router.get(
    "/{run_id}/matrix/{path}",
    summary="The instances of one matrix job of a run, a page at a time",
    responses=error_responses(400, 404),
)
def matrix_instances(
    run_id: RunId,
    path: str,
    store: StoreDep,
    caller: Caller,
    status: Annotated[
        RunStatus | Literal["skipped"] | None, Query(description="Only instances in this state.")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    readable_run(store, caller, run_id)
    job_path(path)
    row = store.get_run(run_id)
    counts = row.groups().get(path)
    if counts is None:
        raise ApiError(f"run {run_id} has no matrix job {path!r}", status=404)
    members = [job for job in row.jobs if job.group == path and (status is None or job.status == status)]
    return {
        "path": path,
        "instances": sum(counts.values()),
        "counts": counts,
        "jobs": [job.to_json() for job in members[offset : offset + limit]],
        "next": offset + limit if offset + limit < len(members) else None,
    }


@router.post(
    "/{run_id}/cancel",
    status_code=202,
    summary="Cancel a queued, running or paused run",
    responses=error_responses(409),
)
async def cancel_run(run_id: RunId, manager: Manager, store: StoreDep, caller: Caller) -> dict[str, Any]:
    """Cancel a run and answer once it has ended. A run another process owns (a ``coops
    run``, another server on the store) is asked through the store, and the answer waits
    for it up to 30 s; one whose process is gone is settled (failed as abandoned)."""
    run = readable_run(store, caller, run_id, "write")
    if run.status not in LIVE:
        raise Conflict(f"run {run_id} has already ended ({run.status})", status_now=run.status)
    reason = f"cancelled by {caller.name}"
    if await manager.cancel(run_id, reason):
        await manager.wait(run_id)
    elif await asyncio.to_thread(ask_to_cancel, store, run_id, reason):
        # another process runs it (a coops run, another server): it reads the request
        deadline = time.monotonic() + OTHERS_CANCEL_WAIT
        while ownership(store, run_id).status in LIVE and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    return {"id": run_id, "status": store.get_run(run_id, with_jobs=False).status}


def _decide(
    run_id: int, approve: bool, body: Decision | None, store: Store, caller: Caller
) -> dict[str, Any]:
    readable_run(store, caller, run_id, "write")
    comment = body.comment if body is not None else None
    pause = decide(store, run_id, approve, by=caller.name, comment=comment)
    return {"id": run_id, "pause": pause.to_json()}


@router.post(
    "/{run_id}/approve", summary="Approve the pause stage a run waits at", responses=error_responses(400, 409)
)
def approve_run(
    run_id: RunId, store: StoreDep, caller: Caller, body: Decision | None = None
) -> dict[str, Any]:
    return _decide(run_id, True, body, store, caller)


@router.post(
    "/{run_id}/reject",
    summary="Reject the pause stage a run waits at (the run fails)",
    responses=error_responses(400, 409),
)
def reject_run(
    run_id: RunId, store: StoreDep, caller: Caller, body: Decision | None = None
) -> dict[str, Any]:
    return _decide(run_id, False, body, store, caller)


@router.post(
    "/{run_id}/rerun",
    status_code=202,
    summary="Rerun a finished run from its failed jobs",
    responses=error_responses(409, 503),
)
async def rerun(run_id: RunId, manager: Manager, store: StoreDep, caller: Caller) -> JSONResponse:
    """A new run of the same flow version and parameters that keeps the outputs of the
    jobs that succeeded and runs the others again."""
    run = readable_run(store, caller, run_id, "write")
    if run.status in LIVE:
        raise Conflict(f"run {run_id} has not ended yet ({run.status})", status_now=run.status)
    flow_id, version_id = runs.run_flow_version(store, run_id)
    new = await manager.submit(
        flow_id,
        version_id,
        params=run.params,
        trigger={"type": "rerun", "run": run_id, "by": caller.name},
        reuse_from=run_id,
    )
    return started(new, run.uri)
