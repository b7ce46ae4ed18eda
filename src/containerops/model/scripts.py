"""Lua in flows: a job's ``pre:`` and ``post:`` scripts and ``when:`` expressions.

They are compiled (not run) when the flow is validated, so that a syntax error
is reported at its line in the flow file rather than when the job starts.
"""

from __future__ import annotations

import re

from yaml.nodes import Node, ScalarNode

from containerops.model.diagnostics import Diagnostic
from containerops.model.reading import Reader

#: A bare word in ``when:`` is a misspelt keyword (``on_sucess``), not Lua.
BARE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Scripts are code, not data: far below any real need, and cheap to compile.
MAX_SCRIPT = 64 * 1024


def read_lua(r: Reader, node: Node, where: str, name: str, *, expression: bool = False) -> str | None:
    """The Lua source at ``node`` if it compiles; else an error at the line of the problem."""
    from containerops.lua.sandbox import syntax_error  # lupa loads with the first script: CLI start-up

    text = r.text(node, where, name)
    if text is None:
        return None
    what = "a Lua expression" if expression else "Lua source"
    if not text.strip():
        r.error(node, where, f"'{name}' is empty: give {what}")
        return None
    if len(text) > MAX_SCRIPT:
        r.error(node, where, f"'{name}' is longer than {MAX_SCRIPT // 1024} KiB")
        return None
    found = syntax_error(text, name, expression=expression)
    if found is None:
        return text
    lua_line, message = found
    lua_line = min(lua_line, text.count("\n") + 1)
    line, column = r.doc.position(node)
    block = isinstance(node, ScalarNode) and node.style in ("|", ">")
    line += lua_line - 1 + (1 if block else 0)
    r.diagnostics.append(
        Diagnostic(
            "error",
            f"Lua syntax error in '{name}' (line {lua_line} of the script): {message}",
            r.doc.filename,
            line,
            column,
            where,
        )
    )
    return None
