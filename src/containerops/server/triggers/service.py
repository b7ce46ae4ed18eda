"""Triggers and notifications running beside the server's run manager.

``running(app)`` is entered by the application's lifespan once the manager has
started: it subscribes the notifier to the manager's run events and keeps the
cron scheduler's loop going until the server stops. ``app.state.clock`` (when a
test sets it before start) replaces the system clock; ``app.state.notify_options``
(a dict of ``Notifier`` keyword arguments) tunes retries.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from containerops.notify.dispatch import Notifier
from containerops.server.config import ServerConfig
from containerops.server.triggers.cron import Scheduler
from containerops.server.triggers.secrets import namespace_secret


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    state: Any = app.state
    store, manager = state.store, state.manager
    options: dict[str, Any] = dict(getattr(state, "notify_options", None) or {})
    options.setdefault("public_url", getattr(state, "public_url", None) or ServerConfig.from_env().public_url)
    notifier = Notifier(
        store, secret=lambda namespace, name: namespace_secret(store, namespace, name), **options
    )
    unsubscribe = manager.subscribe(notifier.on_event)
    manager.log_sinks = notifier.log_routes  # the flows' logs: rules
    scheduler = Scheduler(store, manager, getattr(state, "clock", None))
    state.notifier, state.scheduler = notifier, scheduler
    loop = asyncio.create_task(scheduler.run(), name="cron-scheduler")
    try:
        yield
    finally:
        scheduler.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        unsubscribe()
        manager.log_sinks = None
        await notifier.close()
