"""Where a ContainerOps installation keeps its state (``COOPS_HOME``): at the bottom of
the layers, because the store (its database file), the Docker executor (the label that
tells this home's containers from another's) and the CLI all need it."""

from __future__ import annotations

import os
from pathlib import Path


def coops_home() -> Path:
    """The state folder: ``COOPS_HOME``, else ``~/.containerops``."""
    home = os.environ.get("COOPS_HOME")
    return Path(home).expanduser() if home else Path.home() / ".containerops"
