"""``/api/v1/flows``: create versions from YAML or JSON, list, show, delete."""

from __future__ import annotations

import copy
import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from containerops.model.diagnostics import FlowInvalid
from containerops.model.flow import Flow
from containerops.model.flow_schema import flow_json_schema
from containerops.model.loader import LoadResult, parse_flow
from containerops.model.validate import check_runnable_locally
from containerops.repository.usage import resolve_components
from containerops.server.deps import (
    FLOW_PART,
    Caller,
    FlowPart,
    StoreDep,
    VersionNumber,
    listing_namespaces,
    namespace_of,
)
from containerops.server.errors import WITH_TOKEN, ApiError, answer, error_responses
from containerops.server.names import MAX_PART, flow_uri
from containerops.store import Store
from containerops.store import flows as stored_flows
from containerops.store.accounts import readable_by_flows_of

router = APIRouter(prefix="/api/v1/flows", tags=["flows"], responses=WITH_TOKEN)
#: A flow URI's parts with two dots pass the pattern but not ``names.uri_part``: 400.
BAD_NAME = error_responses(400)

#: The body of the routes that take a flow (``read_flow``): its YAML or JSON text, whatever
#: the content type says.
FLOW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}

#: Larger bodies are refused before parsing (the biggest flows we test are a few MB).
MAX_FLOW_BYTES = 32 * 2**20


async def read_flow(request: Request, filename: str = "<request body>") -> LoadResult:
    """The request body as a valid flow; an invalid one raises ``FlowInvalid``, answered
    422 with every problem and its line."""
    body = await request.body()
    if len(body) > MAX_FLOW_BYTES:
        raise ApiError(f"the flow is larger than {MAX_FLOW_BYTES // 2**20} MB", status=413)
    if not body.strip():
        raise ApiError("the request body is empty: send the flow as YAML or JSON", status=422)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise ApiError(f"the flow is not UTF-8 text (line {line})", status=422, line=line) from None
    return parse_flow(text, filename)  # FlowInvalid: 422 with every problem (errors.py)


def runnable(store: Store, flow: Flow, executor: str) -> None:
    """FlowInvalid (422) for what a run of the flow would refuse: components it may not use or
    that do not exist, inputs that do not match their spec, jobs this server's executor
    cannot run. So the newest stored version of a flow is always one that can run."""
    problems = check_runnable_locally(flow, f"flow {flow.uri}", executor, server=True)
    if problems:
        raise FlowInvalid(problems)
    if flow.uses_components():
        readable = readable_by_flows_of(store, flow.namespace)
        resolve_components(
            store, copy.deepcopy(flow), filename=f"flow {flow.uri}", readable=readable.__contains__
        )


@router.post(
    "",
    status_code=201,
    summary="Create a new version of a flow from YAML or JSON",
    responses={200: answer("The flow is unchanged: its newest version."), **BAD_NAME},
    openapi_extra=FLOW_BODY,
)
async def create_flow(request: Request, store: StoreDep, caller: Caller) -> JSONResponse:
    """The body is the flow (any content type); its ``uri`` names it. An unchanged
    definition answers 200 with the existing version; a changed one makes a new version."""
    loaded = await read_flow(request)
    caller.require("write", namespace_of(loaded.flow.uri))
    runnable(store, loaded.flow, request.app.state.manager.executor.name)
    before = stored_flows.latest_version(store, loaded.flow.uri)
    flow_id, version_id, version = store.save_flow(loaded.flow.uri, loaded.source, loaded.format, caller.user)
    stored_flows.set_deleted(store, flow_id, False)
    flows_changed(request)
    created = before != version
    return JSONResponse(
        {
            "id": flow_id,
            "uri": loaded.flow.uri,
            "version": version,
            "version_id": version_id,
            "created": created,
            "warnings": [d.to_json(file=False) for d in loaded.warnings],
        },
        status_code=201 if created else 200,
    )


@router.post(
    "/validate",
    summary="Check a flow as saving it would, without saving it",
    responses=error_responses(413),
    openapi_extra=FLOW_BODY,
)
async def validate_flow(request: Request, store: StoreDep, caller: Caller) -> dict[str, Any]:
    """The web editor's live check: the same checks as a save (and ``coops run``), the
    components resolved for the flow's namespace, which the caller must be able to write.
    Answers 200 either way: ``valid``, and every ``problem`` and ``warning`` with its line
    and column (1-based), so the editor marks them where they are."""
    try:
        loaded = await read_flow(request)
        caller.require("write", namespace_of(loaded.flow.uri))
        runnable(store, loaded.flow, request.app.state.manager.executor.name)
    except FlowInvalid as invalid:
        found = [d.to_json(file=False) for d in invalid.diagnostics]
        return {
            "valid": False,
            "problems": [d for d in found if d["severity"] == "error"],
            "warnings": [d for d in found if d["severity"] != "error"],
        }
    except ApiError as error:
        if error.status != 422:
            raise
        problem = {"severity": "error", "message": error.message, "line": error.extra.get("line")}
        return {"valid": False, "problems": [problem | {"column": None, "where": None}], "warnings": []}
    warnings = [d.to_json(file=False) for d in loaded.warnings]
    return {"valid": True, "uri": loaded.flow.uri, "problems": [], "warnings": warnings}


@router.get("/schema", summary="The JSON Schema of the flow format (as `coops schema flow` prints it)")
def flow_schema(caller: Caller) -> dict[str, Any]:
    """For the web editor's completion; any signed-in caller may read it."""
    del caller  # a token is needed, no particular right
    return flow_json_schema()


@router.get("", summary="List flows", responses=BAD_NAME)
def list_flows(
    store: StoreDep,
    caller: Caller,
    namespace: Annotated[
        str | None, Query(description="Only flows of this namespace.", max_length=MAX_PART, pattern=FLOW_PART)
    ] = None,
    after: Annotated[
        str | None, Query(description="Paging: flows whose URI sorts after this one.", max_length=255)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    visible = listing_namespaces(caller, namespace)
    flows = stored_flows.list_flows(store, namespaces=visible, after=after, limit=limit)
    return {
        "flows": [flow.to_json() for flow in flows],
        "next": flows[-1].uri if len(flows) == limit else None,
    }


@router.get("/{namespace}/{repository}/{name}", summary="Show a flow and its versions", responses=BAD_NAME)
def show_flow(
    namespace: FlowPart, repository: FlowPart, name: FlowPart, store: StoreDep, caller: Caller
) -> dict[str, Any]:
    uri = flow_uri(namespace, repository, name)
    caller.require("read", namespace)
    flow = stored_flows.get_flow(store, uri)
    newest = stored_flows.flow_version(store, flow.id, flow.latest_version)
    return {
        **flow.to_json(),
        "version_list": stored_flows.flow_versions(store, flow.id),
        "triggers": triggers_of(newest["source"], uri),
    }


def triggers_of(source: str, uri: str) -> list[dict[str, Any]]:
    """The triggers of a stored version (cron, git and webhook; secrets by name only), with
    the path its webhooks are posted to; none if the version no longer reads (the cron
    scheduler skips such a version the same way)."""
    try:
        flow = parse_flow(source, f"flow {uri}").flow
    except FlowInvalid:
        return []
    found = []
    for trigger in flow.triggers:
        fields = {k: v for k, v in dataclasses.asdict(trigger).items() if k != "position"}
        if trigger.type != "cron":
            fields["hook"] = f"/hooks/{trigger.type}/{uri}"
        found.append(fields)
    return found


@router.get(
    "/{namespace}/{repository}/{name}/versions/{version}",
    summary="Show one version of a flow",
    responses=BAD_NAME,
)
def show_version(
    namespace: FlowPart,
    repository: FlowPart,
    name: FlowPart,
    version: VersionNumber,
    store: StoreDep,
    caller: Caller,
) -> dict[str, Any]:
    uri = flow_uri(namespace, repository, name)
    caller.require("read", namespace)
    flow = stored_flows.get_flow(store, uri)
    return {"uri": uri, **stored_flows.flow_version(store, flow.id, version)}


@router.delete(
    "/{namespace}/{repository}/{name}", status_code=204, summary="Delete a flow", responses=BAD_NAME
)
def delete_flow(
    namespace: FlowPart,
    repository: FlowPart,
    name: FlowPart,
    request: Request,
    store: StoreDep,
    caller: Caller,
) -> Response:
    """The flow disappears from lists and cannot start; its past runs and versions stay."""
    uri = flow_uri(namespace, repository, name)
    caller.require("write", namespace)
    flow = stored_flows.get_flow(store, uri)
    stored_flows.set_deleted(store, flow.id, True)
    flows_changed(request)
    return Response(status_code=204)


def flows_changed(request: Request) -> None:
    """The cron scheduler syncs now, so that a flow's schedule shows (or goes) at once
    rather than at the scheduler's next round (a flow saved by another process waits for it)."""
    scheduler = getattr(request.app.state, "scheduler", None)
    if scheduler is not None:
        scheduler.wake()
