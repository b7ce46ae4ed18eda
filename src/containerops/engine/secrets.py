"""``${{ secrets.NAME }}`` references: finding, checking and substituting them.

A flow names secrets, never holds them: the stored flow source keeps the
reference, and the engine substitutes the value only into the environment a
job's container gets (flow and job environments, inputs and so ``CO_DATA``,
service requests). Every value given to a run is masked in its logs. A
reference to a secret the run was not given refuses the run before it starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from containerops.model.flow import Flow
from containerops.model.references import ENV_REF, EXPRESSION, SECRET_REF, names


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


def substitute(text: str, values: Mapping[str, str], env: Mapping[str, str] | None = None) -> str:
    """``text`` with each ``${{ secrets.NAME }}`` replaced by its value in ``values`` and,
    given ``env``, each ``${{ env.NAME }}`` by its value there, or by nothing when the run
    does not have that variable (a trigger's CO_GIT_REF on a run started by hand: the
    validator made sure something may define it). Unknown secrets are kept (refused
    before the run starts, by :func:`check_available`)."""
    if "${{" not in text:
        return text

    def value(match: re.Match[str]) -> str:
        if env is not None and (var := ENV_REF.match(match["body"])) is not None:
            return env.get(var["name"], "")
        ref = SECRET_REF.match(match["body"])
        if ref is None or ref["name"] not in values:
            return match[0]
        return values[ref["name"]]

    return EXPRESSION.sub(value, text)


def substitute_all(
    mapping: Mapping[str, str], values: Mapping[str, str], env: Mapping[str, str] | None = None
) -> dict[str, str]:
    return {key: substitute(text, values, env) for key, text in mapping.items()}


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
        note([*job.environments.values(), *job.inputs.values()], f"job {job.path}")
        if job.service is not None:
            note(job.service.texts(), f"job {job.path}")
    return used


def check_available(flow: Flow, available: Mapping[str, str], overrides: Mapping[str, str] = {}) -> None:
    """Raise :class:`MissingSecret` when the flow references a secret not in ``available``."""
    used = flow_references(flow, overrides)
    missing = {name: places for name, places in used.items() if name not in available}
    if missing:
        raise MissingSecret(missing, flow.namespace)
