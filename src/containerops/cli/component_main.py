"""``coops component ...`` and ``coops registry ...`` alone: what ``main`` loads for a call
naming one of these groups. Their modules need Typer, Rich and httpx, not the engine, the
executors, the flow model or the accounts, workers and runs commands that ``commands``
imports (bench/component_transfer.py: a pull's time over ``docker pull`` is mostly the
CLI starting)."""

from __future__ import annotations

from containerops.cli import visibility  # noqa: F401  (its commands join the groups)
from containerops.cli.component import component_app
from containerops.cli.repository import registry_app
from containerops.cli.root import root_app

GROUPS = ("component", "registry")

app = root_app()
app.add_typer(component_app, name="component")
app.add_typer(registry_app, name="registry")
