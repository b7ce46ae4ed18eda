"""The syntax of ``${{ ... }}`` references in flow values.

``${{ secrets.NAME }}`` (a secret of the flow's namespace) and ``${{ env.NAME }}``
(a variable of the flow's or the job's environments, or one a trigger sets) are
defined in environments and inputs: the validator reports anything else written in
that form and an ``env`` name nothing defines, and the engine
(``containerops.engine.secrets``) substitutes the values when a job starts.
"""

from __future__ import annotations

import re

from containerops.model.names import ENV_NAME

#: Any ``${{ ... }}`` expression.
EXPRESSION = re.compile(r"\$\{\{(?P<body>.*?)\}\}")
SECRET_REF = re.compile(rf"^\s*secrets\.(?P<name>{ENV_NAME.pattern})\s*$")
ENV_REF = re.compile(rf"^\s*env\.(?P<name>{ENV_NAME.pattern})\s*$")
#: ``${{ matrix.KEY }}``: filled when a matrix job is fanned out (``containerops.model.matrix``).
MATRIX_REF = re.compile(r"^\s*matrix\.(?P<name>[a-z_][a-z0-9_]*)\s*$")
SYNTAX = "write it as ${{ env.NAME }}, ${{ secrets.NAME }} or ${{ matrix.KEY }} (letters, digits and '_')"

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


def syntax_problems(text: str) -> list[str]:
    """A message per ``${{ ... }}`` in ``text`` that is neither an env nor a secret reference."""
    problems = []
    for match in EXPRESSION.finditer(text):
        if not any(ref.match(match["body"]) for ref in (SECRET_REF, ENV_REF, MATRIX_REF)):
            problems.append(f"'{match[0]}' is not a known reference: {SYNTAX}")
    if "${{" in EXPRESSION.sub("", text):
        problems.append(f"'${{{{' without its closing '}}}}': {SYNTAX}")
    return problems


def names(text: str) -> list[str]:
    """The secret names ``text`` references, in order."""
    return _names(text, SECRET_REF)


def env_names(text: str) -> list[str]:
    """The environment variable names ``text`` references, in order."""
    return _names(text, ENV_REF)


def _names(text: str, pattern: re.Pattern[str]) -> list[str]:
    found = []
    for match in EXPRESSION.finditer(text):
        ref = pattern.match(match["body"])
        if ref is not None:
            found.append(ref["name"])
    return found
