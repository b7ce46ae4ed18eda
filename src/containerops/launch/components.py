"""The component jobs of a run: resolved to pinned images before the run is recorded,
pinned again to the same versions when a paused run is picked up after a restart."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from containerops.model.flow import Flow
from containerops.store import Store

if TYPE_CHECKING:
    from containerops.repository.usage import Resolution


class ComponentImagesUnavailable(RuntimeError):
    """The registry could not give a component's image to the Docker Engine."""


def resolve_flow_components(
    store: Store,
    flow: Flow,
    *,
    filename: str,
    readable: Callable[[str], bool] | None = None,
) -> Resolution | None:
    """Resolve the flow's ``component:`` jobs in place (None when it has none).

    Raises ``FlowInvalid`` (file:line of each problem) and records nothing; ``readable``
    (namespace -> may this flow use its components) hides the others as missing.
    """
    if not flow.uses_components():
        return None
    # the repository (and its registry client) loads only for flows with components
    from containerops.repository.usage import resolve_components

    return resolve_components(store, flow, filename=filename, readable=readable)


def have_component_images(
    resolution: Resolution, executor_name: str, progress: Callable[[str], None] | None = None
) -> None:
    """Pull what the Docker Engine lacks of the resolved images (nothing for other
    executors); ``ComponentImagesUnavailable`` when the registry cannot serve one."""
    if executor_name != "docker":
        return
    from containerops.repository.registry import RegistryError
    from containerops.repository.transfer import TransferError
    from containerops.repository.usage import ensure_images

    try:
        ensure_images(resolution.images, progress)
    except (RegistryError, TransferError) as error:
        raise ComponentImagesUnavailable(str(error)) from error


def pin_recorded_components(store: Store) -> Callable[[Flow, Mapping[str, str], str], Iterable[str]]:
    """For ``Engine.restore``: pin a restored run's component jobs to the versions the run
    resolved at its start (``recorded``: job path -> version) and give their secret inputs."""

    def pin(flow: Flow, recorded: Mapping[str, str], filename: str) -> Iterable[str]:
        from containerops.repository.usage import pin_components, resolve_components

        pin_components(flow, recorded)
        return resolve_components(store, flow, filename=filename, pinned=True).secrets

    return pin
