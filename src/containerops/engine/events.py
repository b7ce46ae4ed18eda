"""What happened to a run, as the process running it tells its listeners (the live
views, the notifiers): kept beside the engine's state so that a listener (``notify``)
depends on the engine, not on the server that emits the events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from containerops.engine.state import RunState

EventKind = Literal["queued", "started", "paused", "finished"]


@dataclass(frozen=True, slots=True)
class RunEvent:
    """Something that happened to a run. ``state`` is the engine's live state (None
    when the run never reached an engine, e.g. one settled at startup)."""

    kind: EventKind
    run_id: int
    state: RunState | None
