"""A run's state changes as Server-Sent Events, live until the run ends: what the web
UI colours its graph with, without polling the whole run.

Like the log stream (``logs.py``; both run the loop of ``server/sse.py``) it reads the
store, so it works for any run, and each event's id is the state change's id: a client
that reconnects with ``Last-Event-ID`` misses nothing. Events: ``state`` (data: job path
or null for the run itself, attempt, status, reason, time), then ``end`` (the run's status
and reason) once the run has ended and every change was sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from containerops.server.api.runs import readable_run
from containerops.server.deps import Caller, RunId, StoreDep
from containerops.server.errors import WITH_TOKEN
from containerops.server.sse import event, event_schema, resume_after, stream
from containerops.store import runs
from containerops.store.values import MAX_ID

router = APIRouter(prefix="/api/v1/runs", tags=["runs"], responses=WITH_TOKEN)

BATCH = 1_000

EVENT = {
    "oneOf": [
        event_schema(
            "state",
            {"type": "object", "required": ["job", "attempt", "status", "reason", "at"]},
            id={"type": "string", "pattern": "^[0-9]+$"},
        ),
        event_schema("end", {"type": "object", "required": ["status", "reason"]}),
    ]
}


@router.get(
    "/{run_id}/events",
    summary="A run's state changes as Server-Sent Events, live until the run ends",
    response_class=Response,
    responses={
        200: {
            "description": "The events, until the run has ended and every state change was sent.",
            "content": {"text/event-stream": {"itemSchema": EVENT}},
        }
    },
)
async def stream_events(
    run_id: RunId,
    request: Request,
    store: StoreDep,
    caller: Caller,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Start after this state change id.")] = 0,
    last_event_id: Annotated[str | None, Header(description="Resume after this state change id.")] = None,
) -> StreamingResponse:
    """Events: ``state`` (id: the change's id) and, last, ``end``."""
    readable_run(store, caller, run_id)

    def read(cursor: int) -> list[tuple[int, str]]:
        changes = runs.state_changes_after(store, run_id, cursor, BATCH)
        return [(change_id, event("state", change, change_id)) for change_id, change in changes]

    return stream(request, store, run_id, read, resume_after(after, last_event_id), BATCH)
