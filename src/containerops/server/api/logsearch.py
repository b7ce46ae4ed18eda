"""``/api/v1/logs``: searching the logs of many runs at once (a flow's last runs, or every
run the caller may read), newest run first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from containerops.server.api.logs import ContextQuery, PlainQuery, checked_pattern, line_json
from containerops.server.api.runs import listed_namespaces
from containerops.server.deps import FLOW_URI, Caller, IsoTime, StoreDep
from containerops.server.errors import WITH_TOKEN, error_responses
from containerops.store.logsearch import search_run
from containerops.timestamps import utc

router = APIRouter(prefix="/api/v1/logs", tags=["logs"], responses=WITH_TOKEN)


@router.get("", summary="Search the logs of many runs, newest first", responses=error_responses(400))
def search_logs(
    store: StoreDep,
    caller: Caller,
    q: Annotated[
        str, Query(description="An RE2 pattern (e.g. (?i)panic|data race).", min_length=1, max_length=1000)
    ],
    flow: Annotated[
        str | None, Query(description="Only runs of this flow URI.", max_length=255, pattern=FLOW_URI)
    ] = None,
    since: Annotated[
        IsoTime | None, Query(description="Only runs created at or after this time (ISO 8601).")
    ] = None,
    runs: Annotated[int, Query(ge=1, le=1000, description="How many of the newest runs to search.")] = 100,
    limit: Annotated[int, Query(ge=1, le=5000, description="Matching lines at most.")] = 200,
    context: ContextQuery = 0,
    plain: PlainQuery = False,
) -> dict[str, Any]:
    """Matching lines (each with its run: ``run``, ``flow``, ``number``), run by run from the
    newest; ``complete`` is false when ``limit`` cut the answer short. Only runs of flows in
    namespaces the caller may read are searched."""
    pattern = checked_pattern(q)
    visible = listed_namespaces(caller, flow)
    searched = store.list_runs(limit=runs, uri=flow, since=utc(since), namespaces=visible)
    lines: list[dict[str, Any]] = []
    matches, count, complete = 0, 0, True
    for run in searched:
        found, more = search_run(store, run.id, pattern, context=context, limit=limit - matches)
        count += 1
        matches += sum(item.match for item in found)
        where = {"run": run.id, "flow": run.uri, "number": run.number}
        lines += [{**where, **line_json(item.row, plain=plain), "match": item.match} for item in found]
        if more is not None or (matches >= limit and count < len(searched)):
            complete = False
            break
    return {"lines": lines, "runs_searched": count, "complete": complete}
