"""The component side of the ContainerOps contract, for Python components.

Standard library only, so that it runs in any image (the ``containerops/base:python``
image carries it). A component reads its inputs, reports outputs and its verdict::

    from containerops import sdk

    url = sdk.input("git-url", required=True)
    sdk.set_output("CO_GIT_SHA", sha)
    sdk.result(True)

Inputs come from ``CO_<KEY>`` variables (exact values) and fall back to the
space-separated ``key=value`` pairs of ``CO_DATA`` (what the original components read).
Outputs are ``[COUT] KEY = value`` lines on standard output.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from typing import TextIO

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def env_name(key: str) -> str:
    """The environment variable that carries input ``key``: ``git-url`` -> ``CO_GIT_URL``."""
    return "CO_" + key.upper().replace("-", "_").replace(".", "_")


def parse_co_data(text: str) -> dict[str, str]:
    """Split ``CO_DATA`` into its ``key=value`` pairs (POSIX-shell quoting allowed)."""
    if not text:
        return {}
    try:
        words = shlex.split(text)
    except ValueError:  # unbalanced quotes: fall back to the original's plain split
        words = text.split()
    pairs: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if sep:
            pairs[key] = value
    return pairs


def inputs() -> dict[str, str]:
    """Every input given to this job, by its declared key."""
    return parse_co_data(os.environ.get("CO_DATA", ""))


def input(key: str, default: str | None = None, *, required: bool = False) -> str | None:
    """One input: the exact value from ``CO_<KEY>``, else from ``CO_DATA``, else ``default``."""
    value = os.environ.get(env_name(key))
    if value is None:
        value = inputs().get(key)
    if value is None:
        if required:
            fail(f"missing required input {key!r}")
        return default
    return value


def set_output(key: str, value: object, *, stream: TextIO | None = None) -> None:
    """Report output ``key``. Values are one line: a newline in a value is refused."""
    if not _KEY.match(key):
        raise ValueError(f"invalid output name {key!r}: use letters, digits, '_', '-' and '.'")
    text = _stringify(value)
    if "\n" in text or "\r" in text:
        raise ValueError(f"output {key!r} holds a line break; outputs are single lines")
    out = stream or sys.stdout
    out.write(f"[COUT] {key} = {text}\n")
    out.flush()


def result(ok: bool, *, stream: TextIO | None = None) -> None:
    """Report the component's verdict; ``False`` fails the job even when it exits 0."""
    set_output("CO_RESULT", "true" if ok else "false", stream=stream)


def fail(message: str, exit_code: int = 1) -> None:
    """Print ``message`` on stderr, report a false result and exit."""
    print(message, file=sys.stderr, flush=True)
    result(False)
    raise SystemExit(exit_code)


def _stringify(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
