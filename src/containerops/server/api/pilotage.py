"""The original engine's routes, kept for its clients (the pilotage API).

``POST /flow/v1/{namespace}/{repository}/{flow}/{tag}/{yaml|json}`` with the flow
as body saves it and starts a run (201, the run's id and number);
``GET /flow/v1/{namespace}/{repository}/{flow}/{tag}/{number}/runtime/{json|yaml}``
answers the run's state as it is now. Both need an API token like ``/api/v1``
(write to start, read to look): the original had none, which no longer fits a
server that runs containers.
"""

from __future__ import annotations

from typing import Literal

import yaml
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from containerops.server.api.flows import FLOW_BODY, flows_changed, read_flow
from containerops.server.api.runs import run_document
from containerops.server.deps import Caller, FlowPart, Manager, RunNumber, StoreDep
from containerops.server.errors import WITH_TOKEN, ApiError, NotFound, error_responses
from containerops.server.names import flow_uri, uri_part
from containerops.store import flows as stored_flows

router = APIRouter(prefix="/flow/v1", tags=["pilotage"], responses=WITH_TOKEN)

Format = Literal["yaml", "json"]


@router.post(
    "/{namespace}/{repository}/{flow}/{tag}/{fmt}",
    status_code=201,
    summary="Save and start a flow",
    responses=error_responses(400, 503),
    openapi_extra=FLOW_BODY,
)
async def start_flow(
    namespace: FlowPart,
    repository: FlowPart,
    flow: FlowPart,
    tag: FlowPart,
    fmt: Format,
    request: Request,
    manager: Manager,
    store: StoreDep,
    caller: Caller,
) -> JSONResponse:
    uri = flow_uri(namespace, repository, flow)
    uri_part(tag, "tag")
    caller.require("write", namespace, not_found=f"no flow {uri}")
    loaded = await read_flow(request, f"{uri}:{tag}")
    if fmt == "json" and loaded.format != "json":
        raise ApiError("the route says json, but the body is not JSON", status=422)
    if loaded.flow.uri != uri:
        raise ApiError(f"the flow's uri {loaded.flow.uri!r} is not the route's {uri!r}", status=422)
    if loaded.flow.tag != tag:
        raise ApiError(f"the flow's tag {loaded.flow.tag!r} is not the route's {tag!r}", status=422)
    flow_id, version_id, version = store.save_flow(uri, loaded.source, loaded.format, caller.user)
    stored_flows.set_deleted(store, flow_id, False)
    flows_changed(request)
    run = await manager.submit(
        flow_id, version_id, trigger={"type": "pilotage", "by": caller.name}, found=True
    )
    return JSONResponse(
        {"id": run.id, "number": run.number, "uri": uri, "tag": tag, "version": version},
        status_code=201,
    )


@router.get(
    "/{namespace}/{repository}/{flow}/{tag}/{number}/runtime/{fmt}",
    summary="A run's state now",
    responses={
        200: {
            "description": "The run as JSON or YAML, as the route's last part says.",
            "content": {"application/json": {}, "application/yaml": {"schema": {"type": "string"}}},
        },
        **error_responses(400),
    },
)
def runtime(
    namespace: FlowPart,
    repository: FlowPart,
    flow: FlowPart,
    tag: FlowPart,
    number: RunNumber,
    fmt: Format,
    manager: Manager,
    store: StoreDep,
    caller: Caller,
) -> Response:
    uri = flow_uri(namespace, repository, flow)
    uri_part(tag, "tag")
    missing = f"no run {uri}#{number} with tag {tag}"
    caller.require("read", namespace, not_found=missing)
    found = store.list_runs(uri=uri, number=number, limit=1)
    if not found:
        raise NotFound(missing)
    run = found[0]
    if manager.flow_of_run(run.id).tag != tag:
        raise NotFound(missing)
    document = run_document(store, run.id)
    document["tag"] = tag
    if fmt == "yaml":
        return Response(yaml.safe_dump(document, sort_keys=False), media_type="application/yaml")
    return JSONResponse(document)
