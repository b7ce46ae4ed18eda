"""``defaults:`` on a flow and on a stage: what a job gets for a key it does not write.

A job's own value wins, then its stage's defaults, then the flow's. Maps merge key by key
(``environments``, and ``resources`` per field), so a job that sets one variable keeps the
others. For a job that names a component, the component's spec is more specific than a
default: a default resource or timeout only fills what the spec leaves open
(``containerops.repository.usage``), and ``endpoint`` never applies to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from containerops.model.flow import Job, Resources
from containerops.model.retries import Backoff

#: The keys ``defaults:`` may give, in the order they are read.
DEFAULT_KEYS = ("endpoint", "resources", "timeout", "retries", "environments")


@dataclass(frozen=True, slots=True)
class Defaults:
    endpoint: str | None = None
    cpu: float | None = None
    memory: int | None = None
    timeout: float | None = None
    retries: tuple[int, Backoff | None] | None = None  # the limit and its backoff
    environments: dict[str, str] = field(default_factory=dict)

    def beneath(self, inner: Defaults) -> Defaults:
        """These defaults with ``inner``'s (a stage's, under the flow's) taking precedence."""
        return Defaults(
            endpoint=inner.endpoint or self.endpoint,
            cpu=self.cpu if inner.cpu is None else inner.cpu,
            memory=self.memory if inner.memory is None else inner.memory,
            timeout=self.timeout if inner.timeout is None else inner.timeout,
            retries=self.retries if inner.retries is None else inner.retries,
            environments={**self.environments, **inner.environments},
        )


NONE = Defaults()


def apply_defaults(job: Job, defaults: Defaults, written: set[str]) -> None:
    """Fill what ``job`` does not write from ``defaults``. ``written``: its keys, with
    ``resources.cpu`` and ``resources.memory`` for those it writes (0 too: no limit)."""
    if defaults is NONE:
        return
    if defaults.endpoint and not written & {"endpoint", "component"} and job.type != "service":
        job.endpoint = defaults.endpoint
    job.resources = Resources(
        cpu=job.resources.cpu if "resources.cpu" in written else defaults.cpu,
        memory=job.resources.memory if "resources.memory" in written else defaults.memory,
    )
    if "timeout" not in written and defaults.timeout is not None:
        job.timeout = defaults.timeout
    if "retries" not in written and defaults.retries is not None:
        job.retries, job.backoff = defaults.retries
    if defaults.environments:
        job.environments = {**defaults.environments, **job.environments}
