"""The syntax of ``${{ ... }}`` references in flow values.

Only ``${{ secrets.NAME }}`` is defined: the validator reports anything else
written in that form, and the engine (``containerops.engine.secrets``)
substitutes the values when a run starts.
"""

from __future__ import annotations

import re

#: Any ``${{ ... }}`` expression; only ``secrets.NAME`` is defined so far.
EXPRESSION = re.compile(r"\$\{\{(?P<body>.*?)\}\}")
SECRET_REF = re.compile(r"^\s*secrets\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*$")
SYNTAX = "write it as ${{ secrets.NAME }} (letters, digits and '_')"


def syntax_problems(text: str) -> list[str]:
    """A message per ``${{ ... }}`` in ``text`` that is not a secret reference."""
    problems = []
    for match in EXPRESSION.finditer(text):
        if SECRET_REF.match(match["body"]) is None:
            problems.append(f"'{match[0]}' is not a secret reference: {SYNTAX}")
    if "${{" in EXPRESSION.sub("", text):
        problems.append(f"'${{{{' without its closing '}}}}': {SYNTAX}")
    return problems


def names(text: str) -> list[str]:
    """The secret names ``text`` references, in order."""
    found = []
    for match in EXPRESSION.finditer(text):
        ref = SECRET_REF.match(match["body"])
        if ref is not None:
            found.append(ref["name"])
    return found
