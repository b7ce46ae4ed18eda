"""Log lines of a run or of one job: paged JSON, and live Server-Sent Events.

The stream reads the store, not the engine: it works for any run, also one a
``coops run`` process is running, and a reader never slows a job down. Lines
are read in batches of up to ``BATCH`` and written as one chunk, so a job
printing thousands of lines a second costs a few queries a second; an idle run
is polled every ``sse.POLL`` seconds. The stream ends with an ``end`` event once
the run has ended and every line was sent. Each line's event id is its store
id: a client that reconnects with ``Last-Event-ID`` misses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from containerops.engine.notify import LOGS
from containerops.logtext import prefixed_runs, strip_ansi
from containerops.server.api.runs import LIVE, readable_run
from containerops.server.deps import JOB, Caller, RunId, StoreDep
from containerops.server.errors import WITH_TOKEN, ApiError, error_responses
from containerops.server.names import MAX_JOB_PATH, job_path
from containerops.server.sse import event, event_schema, resume_after, stream
from containerops.store import LogRow, Store
from containerops.store.logs import job_paths, log_text_runs
from containerops.store.logsearch import MAX_CONTEXT, PatternError, compile_pattern, search_run
from containerops.store.values import MAX_ID
from containerops.timestamps import rfc3339

router = APIRouter(prefix="/api/v1/runs", tags=["logs"], responses=WITH_TOKEN)

BATCH = 5_000
#: With ``batch=page``: lines in one ``lines`` event. A browser parses one JSON text per
#: event, not one per line: following 50,000 lines a second stays a few events a frame.
PAGE = 1_000


def line_json(row: LogRow, *, plain: bool = False) -> dict[str, Any]:
    return {
        "id": row.id,
        "job": row.job_path,
        "attempt": row.attempt,
        "seq": row.seq,
        "at": rfc3339(row.at),
        "stream": row.stream,
        "line": strip_ansi(row.line) if plain else row.line,
    }


JobQuery = Annotated[
    str | None,
    Query(description="Only this job: stage.action.job.", pattern=JOB, max_length=MAX_JOB_PATH),
]
#: ``q``: a search pattern (RE2 syntax); ``context``: lines around each match; ``plain``:
#: lines without ANSI escape sequences.
SearchQuery = Annotated[
    str | None,
    Query(
        description="Only lines matching this RE2 pattern (e.g. (?i)panic|data race).",
        min_length=1,
        max_length=1000,
    ),
]
ContextQuery = Annotated[
    int, Query(ge=0, le=MAX_CONTEXT, description="With q: lines of the same job attempt around each match.")
]
PlainQuery = Annotated[bool, Query(description="Lines without ANSI escape sequences (colours).")]


def checked_pattern(q: str) -> Any:
    """The compiled pattern, or 400 saying why it is refused."""
    try:
        return compile_pattern(q)
    except PatternError as error:
        raise ApiError(str(error), status=400) from None


def _checked_job(store: Store, run_id: int, job: str | None) -> str | None:
    if job is None:
        return None
    job_path(job)
    paths = job_paths(store, run_id)
    if job not in paths:
        raise ApiError(f"run {run_id} has no job {job!r}", status=404, jobs=paths[:100])
    return job


LINE = {"type": "object", "required": ["id", "job", "attempt", "seq", "at", "stream", "line"]}
#: Each event of the stream (OpenAPI 3.2's ``itemSchema``, as FastAPI's own SSE routes): a
#: ``line`` (id: its line id), with ``batch=page`` ``lines`` instead (id: the last line's
#: id), ``waiting`` (the run waits for its ``concurrency:`` group) or, last, ``end``.
EVENT = {
    "oneOf": [
        event_schema(
            "line",
            LINE,
            id={"type": "string", "pattern": "^[0-9]+$"},
        ),
        event_schema(
            "lines",
            {"type": "array", "minItems": 1, "maxItems": PAGE, "items": LINE},
            id={"type": "string", "pattern": "^[0-9]+$"},
        ),
        event_schema("waiting", {"type": "object", "required": ["status", "reason"]}),
        event_schema("end", {"type": "object", "required": ["status", "reason"]}),
    ]
}

#: A job path that is not stage.action.job: 400 with the value.
BAD_JOB = error_responses(400)


@router.get("/{run_id}/logs", summary="Log lines of a run or one job, paged", responses=BAD_JOB)
def get_logs(
    run_id: RunId,
    store: StoreDep,
    caller: Caller,
    job: JobQuery = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Paging: lines after this line id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=BATCH)] = 1_000,
    q: SearchQuery = None,
    context: ContextQuery = 0,
    plain: PlainQuery = False,
) -> dict[str, Any]:
    """``next`` is the id to pass as ``after`` for the following page; ``finished``
    says whether the run has ended (then an empty page means: no more lines).

    With ``q``, only matching lines (at most ``limit``), each with ``match`` (true; false
    for a context line); ``next`` is null once the whole log was searched."""
    run = readable_run(store, caller, run_id)
    job = _checked_job(store, run_id, job)
    finished = run.status not in LIVE
    if q is not None:
        found, more = search_run(
            store, run_id, checked_pattern(q), job_path=job, context=context, after_id=after, limit=limit
        )
        lines = [{**line_json(item.row, plain=plain), "match": item.match} for item in found]
        return {"run": run_id, "lines": lines, "next": more, "finished": finished}
    rows = store.log_lines(run_id, job_path=job, after_id=after, limit=limit)
    return {
        "run": run_id,
        "lines": [line_json(row, plain=plain) for row in rows],
        "next": rows[-1].id if rows else after,
        "finished": finished,
    }


#: Lines read a page at a time for a download: memory stays bounded whatever the log's size.
DOWNLOAD_PAGE = 100_000


@router.get(
    "/{run_id}/logs.txt",
    summary="The whole log of a run or one job as text, streamed",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "The lines, one a line."}, **BAD_JOB},
)
def download_logs(
    run_id: RunId,
    store: StoreDep,
    caller: Caller,
    job: JobQuery = None,
    plain: PlainQuery = False,
) -> StreamingResponse:
    """The lines as the job printed them; a whole run's are each prefixed by ``[job]`` (and
    ``#attempt`` when retried) and ``! `` on stderr, as ``coops logs`` prints them. Read a
    page of blocks at a time, so a 1 GB log is never held in memory."""
    readable_run(store, caller, run_id)
    job = _checked_job(store, run_id, job)

    def pages() -> Iterator[bytes]:
        after = 0
        while True:
            paths, runs = log_text_runs(store, run_id, job_path=job, after_id=after, limit=DOWNLOAD_PAGE)
            if not runs:
                return
            text = prefixed_runs(
                ((paths[r.job_id], r.attempt, r.stream, r.text) for r in runs), with_job=not job
            )
            yield (strip_ansi(text) if plain else text).encode("utf-8", "replace")
            after = runs[-1].last_id

    name = f"run-{run_id}{'-' + job if job else ''}.log"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(pages(), media_type="text/plain; charset=utf-8", headers=headers)


@router.get(
    "/{run_id}/logs/stream",
    summary="Log lines as Server-Sent Events, live until the run ends",
    response_class=Response,  # no media type of its own: the document's 200 is the events only
    responses={
        200: {
            "description": "The events, until the run has ended and every line was sent.",
            "content": {"text/event-stream": {"itemSchema": EVENT}},
        },
        **BAD_JOB,
    },
)
async def stream_logs(
    run_id: RunId,
    request: Request,
    store: StoreDep,
    caller: Caller,
    job: JobQuery = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Start after this line id.")] = 0,
    last_event_id: Annotated[str | None, Header(description="Resume after this line id.")] = None,
    plain: PlainQuery = False,
    batch: Annotated[
        Literal["line", "page"],
        Query(description=f"line: an event per line; page: a ``lines`` event per up to {PAGE} lines."),
    ] = "line",
) -> StreamingResponse:
    """Events: ``line`` (data: the line as JSON, id: its id) or, with ``batch=page``,
    ``lines`` (data: a JSON array of up to ``PAGE`` lines, id: the last one's), ``waiting`` when the run
    waits for its ``concurrency:`` group (data: its status, pending, and the reason: which
    run it waits for) and, once the run has ended and every line was sent, ``end`` (data:
    the run's status and reason)."""
    readable_run(store, caller, run_id)
    job = _checked_job(store, run_id, job)

    def read(cursor: int) -> list[tuple[int, str]]:
        rows = store.log_lines(run_id, job_path=job, after_id=cursor, limit=BATCH)
        return [(row.id, event("line", line_json(row, plain=plain), row.id)) for row in rows]

    def read_pages(cursor: int) -> list[tuple[int, str]]:
        rows = store.log_lines(run_id, job_path=job, after_id=cursor, limit=BATCH)
        pages = [rows[start : start + PAGE] for start in range(0, len(rows), PAGE)]
        return [(p[-1].id, event("lines", [line_json(r, plain=plain) for r in p], p[-1].id)) for p in pages]

    cursor = resume_after(after, last_event_id)
    if batch == "page":  # a full read is BATCH // PAGE events: the loop reads on at once
        return stream(request, store, run_id, read_pages, cursor, BATCH // PAGE, LOGS)
    return stream(request, store, run_id, read, cursor, BATCH, LOGS)
