"""What every receiver says about a run, gathered once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A run as receivers report it. ``duration`` is in seconds (None before it ends);
    ``link`` is the run's address on the server; ``trigger`` is what started it
    (for a GitHub event: ``repository`` and ``sha``)."""

    run_id: int
    flow: str
    number: int
    status: str
    reason: str | None = None
    duration: float | None = None
    failed_jobs: tuple[str, ...] = ()
    link: str = ""
    trigger: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.flow} #{self.number}"

    def duration_text(self) -> str:
        if self.duration is None:
            return "-"
        seconds = round(self.duration, 1)
        return f"{int(seconds // 60)}m{seconds % 60:04.1f}s" if seconds >= 60 else f"{seconds}s"

    def text(self) -> str:
        """One plain paragraph: flow, number, status, duration, failed jobs, link."""
        lines = [f"{self.title}: {self.status} in {self.duration_text()}"]
        if self.reason and self.status != "success":
            lines.append(f"reason: {self.reason}")
        if self.failed_jobs:
            lines.append("failed jobs: " + ", ".join(self.failed_jobs))
        if self.link:
            lines.append(self.link)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "flow": self.flow,
            "number": self.number,
            "status": self.status,
            "reason": self.reason,
            "duration": self.duration,
            "failed_jobs": list(self.failed_jobs),
            "link": self.link,
        }
