"""The orchestration server (``coops server``): one process that serves the REST
API, runs flows in its engine on the shared store, and hosts the routes of the
other server parts (triggers, callbacks, auth).

``create_app`` builds the FastAPI application; ``RunManager`` (``app.state.manager``)
is the one way a run is started, followed or stopped inside the server. Both are
imported on first use: the CLI imports parts of this package (accounts, config)
and must not pay for FastAPI on every command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from containerops.server.app import create_app
    from containerops.server.manager import RunEvent, RunManager, SubmittedRun

__all__ = ["RunEvent", "RunManager", "SubmittedRun", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from containerops.server.app import create_app

        return create_app
    if name in ("RunEvent", "RunManager", "SubmittedRun"):
        from containerops.server import manager

        return getattr(manager, name)
    raise AttributeError(f"module 'containerops.server' has no attribute {name!r}")
