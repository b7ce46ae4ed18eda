"""The FastAPI application of ``coops server``.

``create_app`` opens the store, builds the run manager on the chosen executor,
and mounts every part's routes. The manager starts (settling what a previous
server left unfinished) when the application starts, and stops its runs when
it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from containerops import __version__
from containerops.executors import get_executor
from containerops.executors.base import Executor
from containerops.server import metrics, retention
from containerops.server.config import DEFAULT_MAX_RUNS
from containerops.server.errors import error_responses, install_error_handlers
from containerops.server.limits import BodyLimit
from containerops.server.local_workers import local_workers
from containerops.server.manager import RunManager
from containerops.server.triggers.service import running as triggers_running
from containerops.server.ui import UI_DIST, UiFiles
from containerops.store import Store
from containerops.workers import QueueExecutor


def _include_routers(app: FastAPI) -> None:
    """Every part of the server's routes, one router per module of server/api."""
    from containerops.server.api import (
        accounts,
        callbacks,
        components,
        deliveries,
        events,
        flows,
        hooks,
        logs,
        logsearch,
        notifications,
        pilotage,
        registry,
        runs,
        schedules,
        session,
        workers,
    )

    for module in (
        flows,
        runs,
        events,
        logs,
        logsearch,
        pilotage,
        components,
        registry,
        hooks,
        deliveries,
        schedules,
        notifications,
        accounts,
        session,
        callbacks,
        workers,
    ):
        app.include_router(module.router)
    app.include_router(metrics.router)


def create_app(
    store_url: str | None = None,
    executor: str | Executor = "docker",
    *,
    max_concurrent_runs: int = DEFAULT_MAX_RUNS,
    network_mode: str | None = None,
    store: Store | None = None,
    ui_dist: Path = UI_DIST,
    log_retention: float | None = None,
    retention_every: float = retention.EVERY,
    workers: int = 0,
    worker_slots: int = 4,
    external_workers: bool = False,
    anonymous_read: bool | None = None,
) -> FastAPI:
    """The server application, on the store at ``store_url`` (default: COOPS_HOME's).

    ``executor`` is an executor name (docker, local, dummy) or an instance; ``ui_dist`` is
    the built web UI it serves at ``/``; with ``log_retention`` (seconds), the lines of runs
    that ended longer ago are removed every ``retention_every`` seconds. With ``workers``
    (local worker processes, of ``worker_slots`` jobs each, on ``executor``) or
    ``external_workers`` (``coops worker`` processes started elsewhere), jobs are put up in
    the store for workers to claim rather than run in this process. ``anonymous_read``: public
    components are read without a token too (None: ``COOPS_SERVER_ANONYMOUS_READ`` decides).
    ``app.state.store`` and ``app.state.manager`` are set at once, so that the
    other parts can reach them (and tests can, before the first request).
    """
    opened = store if store is not None else Store.open(store_url)
    chosen: Executor
    if workers or external_workers:
        chosen = QueueExecutor(opened)
    else:
        chosen = (
            executor if isinstance(executor, Executor) else get_executor(executor, network_mode=network_mode)
        )
    manager = RunManager(opened, chosen, max_concurrent_runs=max_concurrent_runs)
    worker_executor = executor if isinstance(executor, str) else executor.name
    database_url = opened.database.url.render_as_string(hide_password=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # the workers outlive the manager: its runs stop before their jobs' workers do
        async with local_workers(workers, worker_executor, database_url, worker_slots):
            await manager.start()
            keeping = (
                asyncio.create_task(retention.keep_logs(opened, log_retention, retention_every))
                if log_retention
                else None
            )
            try:
                async with triggers_running(_app):  # cron schedules and notifications
                    yield
            finally:
                if keeping is not None:
                    keeping.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await keeping
                await manager.stop()
                if store is None:
                    opened.close()

    app = FastAPI(
        title="ContainerOps",
        version=__version__,
        description="Flows of container components: define them, run them, follow their logs.",
        lifespan=lifespan,
        responses=error_responses(413),  # every route: limits.BodyLimit refuses a body over the cap
    )
    app.state.store = opened
    app.state.manager = manager
    app.state.metrics = metrics.registry_for(opened, manager)
    app.state.anonymous_read = anonymous_read
    app.add_middleware(BodyLimit)
    app.add_middleware(UiFiles, root=ui_dist)  # the web UI at / (outermost: it answers only its own paths)
    install_error_handlers(app)
    _include_routers(app)
    return app
