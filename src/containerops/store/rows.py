"""What the store hands back: plain rows, and the error it raises.

Kept apart from the queries (and from SQLAlchemy) so that code which only shows rows,
such as the CLI reading them from a server, loads none of the database machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from containerops.timestamps import rfc3339


class StoreError(Exception):
    """A lookup that found nothing, or a write that cannot be done; said plainly."""


@dataclass(slots=True)
class NewRun:
    id: int
    number: int
    uid: str
    job_ids: dict[str, int]


@dataclass(slots=True)
class JobRow:
    id: int
    path: str
    position: int
    image: str | None
    status: str
    reason: str | None
    exit_code: int | None
    attempts: int
    outputs: dict[str, str]
    started_at: datetime | None
    finished_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "exit_code": self.exit_code,
            "attempts": self.attempts,
            "outputs": self.outputs,
            "reason": self.reason,
            "image": self.image,
            "started_at": rfc3339(self.started_at),
            "finished_at": rfc3339(self.finished_at),
        }


@dataclass(slots=True)
class RunRow:
    id: int
    uri: str
    number: int
    uid: str
    flow_version: int
    status: str
    reason: str | None
    executor: str
    params: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    jobs: list[JobRow] = field(default_factory=list)

    def to_json(self, *, with_jobs: bool = True) -> dict[str, Any]:
        """The run as ``coops run --json`` and ``coops runs show --json`` print it."""
        document: dict[str, Any] = {
            "id": self.id,
            "uri": self.uri,
            "number": self.number,
            "flow_version": self.flow_version,
            "status": self.status,
            "reason": self.reason,
            "executor": self.executor,
            "created_at": rfc3339(self.created_at),
            "started_at": rfc3339(self.started_at),
            "finished_at": rfc3339(self.finished_at),
        }
        if with_jobs:
            document["jobs"] = [job.to_json() for job in self.jobs]
        return document


@dataclass(slots=True)
class LogRow:
    id: int
    job_path: str
    attempt: int
    seq: int
    at: datetime
    stream: str
    line: str
