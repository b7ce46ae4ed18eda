"""``${{ secrets.NAME }}`` references: finding, checking and substituting them.

A flow names secrets, never holds them: the stored flow source keeps the
reference, and the engine fills in the value (``containerops.engine.templating``) only
where a job starts (flow and job environments, inputs and so ``CO_DATA``, command,
service requests). Every value given to a run is masked in its logs. A
reference to a secret the run was not given refuses the run before it starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from containerops.model.flow import Flow
from containerops.model.references import names


class MissingSecret(ValueError):
    """A run references secrets it was not given: which ones, and where."""

    def __init__(self, missing: Mapping[str, list[str]], namespace: str) -> None:
        self.missing = dict(missing)
        parts = [f"{name} (used by {', '.join(places)})" for name, places in self.missing.items()]
        first = next(iter(self.missing))
        super().__init__(
            f"unknown secret{'s' if len(parts) > 1 else ''} {'; '.join(parts)}: namespace {namespace!r} "
            f"has no such secret (coops secret set {namespace} {first}; for coops run, "
            f"--secret {first}=VALUE); nothing was started"
        )


def flow_references(flow: Flow, overrides: Mapping[str, str] = {}) -> dict[str, list[str]]:
    """Secret name -> the places that use it ("flow environment", job paths)."""
    used: dict[str, list[str]] = {}

    def note(texts: Iterable[str], place: str) -> None:
        for text in texts:
            for name in names(text):
                places = used.setdefault(name, [])
                if place not in places:
                    places.append(place)

    note([*flow.environments.values(), *overrides.values()], "the flow environment")
    for job in flow.jobs():
        note(job.texts(), f"job {job.path}")
    return used


def check_available(flow: Flow, available: Mapping[str, str], overrides: Mapping[str, str] = {}) -> None:
    """Raise :class:`MissingSecret` when the flow references a secret not in ``available``."""
    used = flow_references(flow, overrides)
    missing = {name: places for name, places in used.items() if name not in available}
    if missing:
        raise MissingSecret(missing, flow.namespace)
