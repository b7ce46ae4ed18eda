"""Reading a job's outputs from its log lines.

``[COUT] KEY = value`` (spaces around ``=`` optional; the value may itself hold
``=``) and the original components' ``[COUT] KEY value`` both set output KEY.
Limits keep one chatty job from filling the store: 64 KiB a value and 1 MiB for
all of a job's outputs.
"""

from __future__ import annotations

import re

MAX_VALUE_BYTES = 64 * 1024
MAX_TOTAL_BYTES = 1024 * 1024
RESULT_KEY = "CO_RESULT"

#: Every output line holds this; a line without it is a plain log line.
COUT_MARKER = "[COUT]"
_COUT = re.compile(r"^\s*\[COUT\]\s*([A-Za-z_][A-Za-z0-9_.-]*)(?:\s*=\s?|\s+)(.*?)\s*$")


class OutputError(Exception):
    """A job broke the output limits; the message is the job's failure reason."""


def parse_cout(line: str) -> tuple[str, str] | None:
    """``(key, value)`` when ``line`` reports an output, else None."""
    if COUT_MARKER not in line:  # fast path: most lines are plain logs
        return None
    match = _COUT.match(line)
    if match is None:
        return None
    return match.group(1), match.group(2)


class Outputs:
    """The outputs one job attempt reported, with the contract's limits enforced."""

    __slots__ = ("_total", "result", "values")

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        #: The component's verdict: None when it never said, else True/False.
        self.result: bool | None = None
        self._total = 0

    def feed(self, line: str) -> None:
        """Take one log line; raise OutputError past a limit."""
        parsed = parse_cout(line)
        if parsed is None:
            return
        self.set(*parsed)

    def set(self, key: str, value: str) -> None:
        """Take one output (from a log line or the output file); raise OutputError past a limit."""
        if key == RESULT_KEY:
            self.result = value.strip().lower() not in ("false", "0", "no")
            return
        size = len(value.encode())
        if size > MAX_VALUE_BYTES:
            raise OutputError(
                f"output {key} is {size} bytes, over the limit of {MAX_VALUE_BYTES} bytes (64 KiB) a value"
            )
        previous = self.values.get(key)
        self._total += size - (len(previous.encode()) if previous is not None else 0)
        if self._total > MAX_TOTAL_BYTES:
            raise OutputError(
                f"outputs add up to {self._total} bytes, "
                f"over the limit of {MAX_TOTAL_BYTES} bytes (1 MiB) a job"
            )
        self.values[key] = value
