"""The orchestration server (``coops server``): one process that serves the REST
API, runs flows in its engine on the shared store, and hosts the routes of the
other server parts (triggers, callbacks, auth).

``create_app`` builds the FastAPI application; ``RunManager`` (``app.state.manager``)
is the one way a run is started, followed or stopped inside the server.
"""

from containerops.server.app import create_app
from containerops.server.manager import RunEvent, RunManager, SubmittedRun

__all__ = ["RunEvent", "RunManager", "SubmittedRun", "create_app"]
