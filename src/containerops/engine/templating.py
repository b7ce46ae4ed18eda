"""Filling ``${{ ... }}`` references when a job starts (their grammar and what each names:
``containerops.model.references``; the validator has checked every one before the run).

One ``Values`` per job holds what references may name; ``render`` fills a text with it.
A value put into a service job's ``url`` is percent-encoded unless written ``| raw``, so
that a branch name from a webhook (``x?admin=1``, ``../``) cannot change the URL's shape.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from containerops.engine.state import RunState
from containerops.model.flow import Flow, Job
from containerops.model.references import EXPRESSION, TRIGGER_FIELDS, parse_reference, references


def _no_outputs(path: str) -> Mapping[str, str] | None:
    return None


@dataclass(frozen=True, slots=True)
class Values:
    """What a job's references may name."""

    env: Mapping[str, str]
    secrets: Mapping[str, str]
    inputs: Mapping[str, str] = field(default_factory=dict)
    #: ``run.*``, ``flow.*`` and ``trigger.*`` (the run's variables a trigger set).
    run: Mapping[str, str] = field(default_factory=dict)
    flow: Mapping[str, str] = field(default_factory=dict)
    trigger: Mapping[str, str] = field(default_factory=dict)
    #: A job's path -> its outputs so far (None: no such job).
    outputs: Callable[[str], Mapping[str, str] | None] = _no_outputs

    def but(self, **changes: Mapping[str, str]) -> Values:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def with_outputs(self, outputs: Callable[[str], Mapping[str, str] | None]) -> Values:
        return dataclasses.replace(self, outputs=outputs)

    def render(self, text: str, *, url: bool = False) -> str:
        """``text`` with each reference filled in; ``url``: percent-encoded (unless ``| raw``).
        A secret the run was not given, and a ``matrix`` reference (filled when the job is
        fanned out), are left as written: the run was refused before for the first, and
        the validator allows the second only in matrix jobs."""
        if "${{" not in text:
            return text

        def value(match: re.Match[str]) -> str:
            reference = parse_reference(match["body"])
            if reference is None:
                return match[0]
            found = self._lookup(reference.space, reference.name, reference.job)
            if found is None:
                return match[0]
            return quote(found, safe="") if url and not reference.raw else found

        return EXPRESSION.sub(value, text)

    def render_all(self, mapping: Mapping[str, str]) -> dict[str, str]:
        return {key: self.render(text) for key, text in mapping.items()}

    def render_data(self, data: object) -> object:
        """JSON data (a service's body) with every string, keys too, filled in."""
        if isinstance(data, str):
            return self.render(data)
        if isinstance(data, dict):
            return {self.render(str(key)): self.render_data(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.render_data(item) for item in data]
        return data

    def _lookup(self, space: str, name: str, job: str | None) -> str | None:
        if space == "secrets":
            return self.secrets.get(name)
        if space == "matrix":
            return None
        if space == "jobs":
            assert job is not None
            outputs = self.outputs(job)
            return "" if outputs is None else outputs.get(name, "")
        if space == "trigger":
            return self.trigger.get(TRIGGER_FIELDS[name], "")
        known: Mapping[str, str] = getattr(self, space)  # env, inputs, run, flow
        return known.get(name, "")


def flow_values(flow: Flow, flow_env: Mapping[str, str]) -> Values:
    """What is known of a run before it exists: its environment (with ``--set`` and a
    trigger's variables), the flow, the trigger. Matrix values may name these."""
    return Values(
        env=flow_env,
        secrets={},
        flow={"uri": flow.uri, "namespace": flow.namespace},
        trigger={name: flow_env[name] for name in TRIGGER_FIELDS.values() if name in flow_env},
    )


def run_values(state: RunState, flow_env: Mapping[str, str], secrets: Mapping[str, str]) -> Values:
    """What every job of the run may name; each job adds its own environment and inputs."""
    jobs = state.jobs

    def outputs(path: str) -> Mapping[str, str] | None:
        found = jobs.get(path)
        return None if found is None else found.outputs

    return (
        flow_values(state.flow, flow_env)
        .but(secrets=secrets, run={"id": str(state.id), "number": str(state.number), "uid": state.uid})
        .with_outputs(outputs)
    )


def missing_outputs(job: Job, state: RunState) -> str | None:
    """Why the job cannot start: an output it names by ``jobs[...]`` that its job did not
    give (skipped, failed, or never printed it); None when all are there."""
    for text in job.texts():
        for reference in references(text):
            if reference.space != "jobs" or reference.job is None:
                continue
            source = state.jobs.get(reference.job)
            if source is None or reference.name not in source.outputs:
                status = source.status if source is not None else "missing"
                said = "never printed it" if status in ("success", "failure") else "did not run"
                return f"needs output {reference.name} of {reference.job}, which {said} ({status})"
    return None
