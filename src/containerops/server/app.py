"""The FastAPI application of ``coops server``.

``create_app`` opens the store, builds the run manager on the chosen executor,
and mounts every part's routes. The manager starts (settling what a previous
server left unfinished) when the application starts, and stops its runs when
it stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from containerops import __version__
from containerops.executors import get_executor
from containerops.executors.base import Executor
from containerops.server import metrics
from containerops.server.config import DEFAULT_MAX_RUNS
from containerops.server.errors import error_responses, install_error_handlers
from containerops.server.limits import BodyLimit
from containerops.server.manager import RunManager
from containerops.server.triggers.service import running as triggers_running
from containerops.server.ui import UI_DIST, UiFiles
from containerops.store import Store


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
        notifications,
        pilotage,
        registry,
        runs,
        schedules,
        session,
    )

    for module in (
        flows,
        runs,
        events,
        logs,
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
) -> FastAPI:
    """The server application, on the store at ``store_url`` (default: COOPS_HOME's).

    ``executor`` is an executor name (docker, local, dummy) or an instance; ``ui_dist`` is
    the built web UI it serves at ``/``.
    ``app.state.store`` and ``app.state.manager`` are set at once, so that the
    other parts can reach them (and tests can, before the first request).
    """
    opened = store if store is not None else Store.open(store_url)
    chosen = executor if isinstance(executor, Executor) else get_executor(executor, network_mode=network_mode)
    manager = RunManager(opened, chosen, max_concurrent_runs=max_concurrent_runs)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await manager.start()
        try:
            async with triggers_running(_app):  # cron schedules and notifications
                yield
        finally:
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
    app.add_middleware(BodyLimit)
    app.add_middleware(UiFiles, root=ui_dist)  # the web UI at / (outermost: it answers only its own paths)
    install_error_handlers(app)
    _include_routers(app)
    return app
