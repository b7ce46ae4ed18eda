"""The workflow engine: runs a validated flow on an executor and records it."""

from containerops.engine.runner import Engine
from containerops.engine.state import JobState, RunState

__all__ = ["Engine", "JobState", "RunState"]
