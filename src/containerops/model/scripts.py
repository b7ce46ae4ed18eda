"""Lua in flows: a job's ``pre:`` and ``post:`` scripts and ``when:`` expressions.

They are compiled (not run) when the flow is validated, so that a syntax error
is reported at its line in the flow file rather than when the job starts.
"""

from __future__ import annotations

import re

from yaml.nodes import Node, ScalarNode

from containerops.model.diagnostics import Diagnostic
from containerops.model.flow import Flow
from containerops.model.reading import Reader, did_you_mean

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


#: ``jobs["stage.action.job"]`` (or with single quotes) in a script: a job it reads.
JOB_REFERENCE = re.compile(r"""jobs\s*\[\s*(["'])([^"'\n]+)\1\s*\]""")


def check_job_references(flow: Flow, filename: str) -> list[Diagnostic]:
    """An error for each ``jobs["path"]`` in a ``when``, ``pre`` or ``post`` script that names
    no job of the flow: the script would find nothing there when the job runs."""
    paths = [job.path for job in flow.jobs()]
    known = set(paths)
    found: list[Diagnostic] = []
    for job in flow.jobs():
        line, column = (job.position.line, job.position.column) if job.position else (None, None)
        for key, text in (("when", job.condition), ("pre", job.pre), ("post", job.post)):
            for match in JOB_REFERENCE.finditer(text or ""):
                if match[2] in known:
                    continue
                message = f"job '{job.path}': its {key} script reads jobs[\"{match[2]}\"], which is no job"
                hint = did_you_mean(match[2], paths)
                found.append(Diagnostic("error", message + hint, filename, line, column, f"{job.path}.{key}"))
    return found
