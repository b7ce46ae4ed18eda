"""The syntax of ``${{ ... }}`` references in flow values: one grammar for every place.

A reference names one value, known when the job starts (the engine fills it in,
``containerops.engine.templating``):

- ``env.NAME``: a variable of the flow's or the job's environments, one a subscription
  gives, or one a run is given (a trigger's ``CO_GIT_REF``...); empty when the run lacks it;
- ``secrets.NAME``: a secret of the flow's namespace (a run without it is refused);
- ``inputs.NAME``: one of the job's inputs (not in the inputs themselves);
- ``matrix.KEY``: a value of the job's matrix (``containerops.model.matrix``);
- ``jobs["stage.action.job"].outputs.KEY``: an output of a job that has run before;
- ``run.id``, ``run.number``, ``run.uid``, ``flow.uri``, ``flow.namespace``;
- ``trigger.ref``, ``.sha``, ``.event``, ``.pr``, ``.repository``, ``.base_ref``,
  ``.head_ref``, ``.url``: what a webhook carried (empty on a run started by hand).

``| raw`` after a reference in a service job's ``url`` puts the value in as it is;
otherwise a value templated into a ``url`` is percent-encoded, so that it cannot change
the URL's shape. The validator reports anything else written as ``${{ ... }}`` at its
line, and names nothing defines (``containerops.model.validate``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from containerops.model.names import ENV_NAME, KEY

#: Any ``${{ ... }}`` expression.
EXPRESSION = re.compile(r"\$\{\{(?P<body>.*?)\}\}")
SECRET_REF = re.compile(rf"^\s*secrets\.(?P<name>{ENV_NAME.pattern})\s*$")
ENV_REF = re.compile(rf"^\s*env\.(?P<name>{ENV_NAME.pattern})\s*$")
#: ``${{ matrix.KEY }}``: filled when a matrix job is fanned out (``containerops.model.matrix``).
MATRIX_REF = re.compile(r"^\s*matrix\.(?P<name>[a-z_][a-z0-9_]*)\s*$")
_SPACED = re.compile(
    rf"^\s*(?P<space>env|secrets|inputs|run|flow|trigger)\.(?P<name>{KEY.pattern})\s*(?P<raw>\|\s*raw\s*)?$"
)
_JOB_OUTPUT = re.compile(
    rf"""^\s*jobs\[\s*(?P<q>["'])(?P<job>[^"'\]]+)(?P=q)\s*\]\.outputs\.(?P<name>{KEY.pattern})\s*(?P<raw>\|\s*raw\s*)?$"""
)
RUN_FIELDS = ("id", "number", "uid")
FLOW_FIELDS = ("uri", "namespace")
#: ``trigger.NAME`` -> the run variable a trigger sets (``containerops.server.triggers``).
TRIGGER_FIELDS = {
    "ref": "CO_GIT_REF",
    "sha": "CO_GIT_SHA",
    "event": "CO_EVENT",
    "pr": "CO_PR_NUMBER",
    "repository": "CO_GIT_REPOSITORY",
    "base_ref": "CO_GIT_BASE_REF",
    "head_ref": "CO_GIT_HEAD_REF",
    "url": "CO_GIT_URL",
}
_FIELDS = {"run": RUN_FIELDS, "flow": FLOW_FIELDS, "trigger": tuple(TRIGGER_FIELDS)}
SYNTAX = (
    "write ${{ env.NAME }}, ${{ secrets.NAME }}, ${{ inputs.NAME }}, ${{ matrix.KEY }}, "
    '${{ jobs["stage.action.job"].outputs.KEY }}, ${{ run.number }}, ${{ flow.uri }} or ${{ trigger.ref }}'
)

#: What a run's environment holds besides the flow's: set by git triggers (a run started
#: by hand has them when given with --set) and by the engine for every job.
RUN_VARIABLES = frozenset(
    {
        "CO_GIT_URL",
        "CO_GIT_REF",
        "CO_GIT_SHA",
        "CO_EVENT",
        "CO_PR_NUMBER",
        "CO_GIT_REPOSITORY",
        "CO_GIT_BASE_REF",
        "CO_GIT_HEAD_REF",
        "CO_RUN_ID",
        "CO_FLOW_URI",
        "CO_JOB_PATH",
        "CO_ATTEMPT",
        "CO_WORKSPACE",
    }
)


@dataclass(frozen=True, slots=True)
class Reference:
    """One ``${{ ... }}`` as read: its space (env, secrets, inputs, matrix, jobs, run, flow,
    trigger), the name in it, the job of a ``jobs[...]`` output, and ``| raw``."""

    space: str
    name: str
    job: str | None = None
    raw: bool = False


def parse_reference(body: str) -> Reference | None:
    """The reference a ``${{ body }}`` writes, or None when it is not one."""
    if (found := _SPACED.match(body)) is not None:
        return Reference(found["space"], found["name"], raw=found["raw"] is not None)
    if (found := _JOB_OUTPUT.match(body)) is not None:
        return Reference("jobs", found["name"], job=found["job"].strip(), raw=found["raw"] is not None)
    if (found := MATRIX_REF.match(body)) is not None:
        return Reference("matrix", found["name"])
    return None


def references(text: str) -> Iterator[Reference]:
    """Every well-formed reference in ``text``, in order."""
    for match in EXPRESSION.finditer(text):
        reference = parse_reference(match["body"])
        if reference is not None:
            yield reference


def syntax_problems(text: str) -> list[str]:
    """A message per ``${{ ... }}`` in ``text`` that is not a reference, or names a field
    of ``run``, ``flow`` or ``trigger`` that does not exist."""
    problems = []
    for match in EXPRESSION.finditer(text):
        reference = parse_reference(match["body"])
        if reference is None:
            problems.append(f"'{match[0]}' is not a known reference: {SYNTAX}")
        elif reference.space in ("env", "secrets") and not ENV_NAME.fullmatch(reference.name):
            problems.append(f"'{match[0]}': a variable name is letters, digits and '_'")
        elif (fields := _FIELDS.get(reference.space)) is not None and reference.name not in fields:
            problems.append(
                f"'{match[0]}': {reference.space} has no field {reference.name} (it has: {', '.join(fields)})"
            )
    if "${{" in EXPRESSION.sub("", text):
        problems.append(f"'${{{{' without its closing '}}}}': {SYNTAX}")
    return problems


def names(text: str) -> list[str]:
    """The secret names ``text`` references, in order."""
    return [reference.name for reference in references(text) if reference.space == "secrets"]


def env_names(text: str) -> list[str]:
    """The environment variable names ``text`` references, in order."""
    return [reference.name for reference in references(text) if reference.space == "env"]
