"""Server-Sent Events of a run read from the store, live until the run ends: the loop the
log stream (``api/logs.py``) and the state-change stream (``api/events.py``) share.

Each stream gives ``follow`` a function reading the items after a cursor (a row id, which
is also each event's id, so ``Last-Event-ID`` resumes); ``follow`` reads the run's state
before each batch, so a run seen ended has nothing left unread after that batch, then
sends ``end`` with the run's status and reason; a run waiting for its ``concurrency:``
group gets a ``waiting`` event (its status and reason) each time the reason changes. A
quiet stream gets a comment every ``KEEPALIVE`` seconds so that proxies keep it open; an
idle run is polled every ``POLL``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from containerops.engine.notify import wait_or_poll, waiting
from containerops.server.api.runs import LIVE
from containerops.store import Store
from containerops.store.values import MAX_ID

POLL = 0.1
#: A comment line this often keeps proxies from closing a quiet stream.
KEEPALIVE = 15.0

#: Read the events after a cursor: (id, the event's text) each, at most a batch.
Reader = Callable[[int], list[tuple[int, str]]]


def event_schema(name: str, data: dict[str, Any], **more: Any) -> dict[str, Any]:
    """The OpenAPI schema of one kind of event: its name, and its data as JSON text."""
    return {
        "type": "object",
        "required": ["event", "data", *more],
        "properties": {
            "event": {"const": name},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
            **more,
        },
    }


def event(name: str, data: Any, ident: int | None = None) -> str:
    head = f"id: {ident}\n" if ident is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def resume_after(after: int, last_event_id: str | None) -> int:
    """The cursor to start from: ``after``, or a later ``Last-Event-ID`` (one that is not
    a row id is ignored, as the SSE specification says)."""
    resumed = (last_event_id or "").strip()
    if resumed.isascii() and resumed.isdigit() and int(resumed) <= MAX_ID:
        return max(after, int(resumed))
    return after


def stream(
    request: Request, store: Store, run_id: int, read: Reader, after: int, batch: int, wake: str | None = None
) -> StreamingResponse:
    """``wake``: a kind of ``engine.notify`` wake-up (keyed by the run id) that ends a wait
    before its poll: an engine of this process says when it stored new items."""
    return StreamingResponse(
        follow(request, store, run_id, read, after, batch, wake),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def follow(
    request: Request, store: Store, run_id: int, read: Reader, after: int, batch: int, wake: str | None
) -> AsyncIterator[str]:
    if wake is None:
        async for text in _follow(request, store, run_id, read, after, batch, None):
            yield text
        return
    with waiting(wake, run_id) as woken:
        async for text in _follow(request, store, run_id, read, after, batch, woken):
            yield text


async def _follow(
    request: Request,
    store: Store,
    run_id: int,
    read: Reader,
    after: int,
    batch: int,
    woken: asyncio.Event | None,
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    said: str | None = None
    while True:
        # The state is read before the items: a run seen ended has none left unread after this batch.
        run = await run_in_threadpool(store.get_run, run_id, with_jobs=False)
        if run.status == "pending" and run.reason and run.reason != said:  # waiting for its concurrency group
            said = run.reason
            yield event("waiting", {"status": run.status, "reason": run.reason})
        events = await run_in_threadpool(read, after)
        if events:
            after = events[-1][0]
            quiet_since = loop.time()
            yield "".join(text for _, text in events)
            if len(events) == batch:
                continue
        if run.status not in LIVE:
            yield event("end", {"status": run.status, "reason": run.reason})
            return
        if await request.is_disconnected():
            return
        if loop.time() - quiet_since > KEEPALIVE:
            quiet_since = loop.time()
            yield ": keep-alive\n\n"
        if woken is None:
            await asyncio.sleep(POLL)
        else:
            await wait_or_poll(woken, POLL)
