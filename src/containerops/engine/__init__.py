"""The workflow engine: runs a validated flow on an executor and records it.

``Engine`` loads the runner (the store, the executors) on first use, so that code
which only reads run states (the CLI's rendering) starts without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from containerops.engine.state import JobState, RunState

if TYPE_CHECKING:
    from containerops.engine.runner import Engine

__all__ = ["Engine", "JobState", "RunState"]


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from containerops.engine.runner import Engine  # on first use: see the module docstring

        return Engine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
