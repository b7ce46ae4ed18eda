"""What the store hands back: plain rows, and the error it raises.

Kept apart from the queries (and from SQLAlchemy) so that code which only shows rows,
such as the CLI reading them from a server, loads none of the database machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from containerops.model.paths import group_of
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

    @property
    def group(self) -> str | None:
        """The matrix job this job is an instance of; None for any other job."""
        return group_of(self.path)

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

    def to_json(self, *, with_jobs: bool = True, instances: bool = True) -> dict[str, Any]:
        """The run as ``coops run --json`` and ``coops runs show --json`` print it (a matrix's
        instances only with ``instances``: the API leaves them out unless asked)."""
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
            document["jobs"] = self.jobs_json(instances=instances)
        return document

    def groups(self) -> dict[str, dict[str, int]]:
        """Each matrix job's instances counted by status: ``{path: {"success": 998, ...}}``."""
        counts: dict[str, dict[str, int]] = {}
        for job in self.jobs:
            if (group := job.group) is not None:
                tally = counts.setdefault(group, {})
                tally[job.status] = tally.get(job.status, 0) + 1
        return counts

    def jobs_json(self, *, instances: bool = True) -> list[dict[str, Any]]:
        """The jobs; a matrix job says how many instances it has and their counts by status,
        and its instances are listed (each naming its group) only with ``instances``."""
        groups = self.groups()
        listed: list[dict[str, Any]] = []
        for job in self.jobs:
            group = job.group
            if group is not None and not instances:
                continue
            document = job.to_json()
            if group is not None:
                document["group"] = group
            elif job.path in groups:
                counts = groups[job.path]
                document["matrix"] = {"instances": sum(counts.values()), "counts": counts}
            listed.append(document)
        return listed


@dataclass(slots=True)
class LogRow:
    id: int
    job_path: str
    attempt: int
    seq: int
    at: datetime
    stream: str
    line: str
