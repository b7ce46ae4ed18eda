"""Starting a run: the steps between a loaded flow and a prepared engine that the CLI,
the server and component tests share (components resolved and pinned, their images
present for Docker), with typed errors for the caller to print or answer with.

Above the engine and the repository: the engine receives an already-pinned flow and
knows nothing of components or registries.
"""

from containerops.launch.components import (
    ComponentImagesUnavailable,
    have_component_images,
    pin_recorded_components,
    resolve_flow_components,
)
from containerops.launch.prepare import prepare_run

__all__ = [
    "ComponentImagesUnavailable",
    "have_component_images",
    "pin_recorded_components",
    "prepare_run",
    "resolve_flow_components",
]
