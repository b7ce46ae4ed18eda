"""Log lines as text, the same from the CLI and the server: each line's prefix (its job,
attempt and stream) and ANSI escape sequences, which are kept as printed (a terminal
shows the colours) and taken out for readers that want plain text (``coops logs
--no-color``, the API's ``plain=true``)."""

from __future__ import annotations

import re
from collections.abc import Iterable

#: CSI sequences (colours, cursor moves: ESC [ ... final byte), OSC sequences (ESC ] ...
#: BEL or ESC \\, e.g. hyperlinks and window titles) and two-byte escapes (ESC and one byte).
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences."""
    return _ESCAPES.sub("", text) if "\x1b" in text else text


def line_prefix(job_path: str, attempt: int, stream: str, *, with_job: bool) -> str:
    """``[job#attempt] `` (the attempt when retried; no job with ``with_job`` False), and
    ``! `` on stderr."""
    prefix = f"[{job_path}{'#' + str(attempt) if attempt > 1 else ''}] " if with_job else ""
    return prefix + "! " if stream == "stderr" else prefix


def prefixed_runs(runs: Iterable[tuple[str, int, str, str]], *, with_job: bool) -> str:
    """Runs of lines (job path, attempt, stream, the lines joined by ``\\n``) as printed, a
    newline after each line: the prefix goes before each line of a run by one ``replace``."""
    parts: list[str] = []
    for job_path, attempt, stream, text in runs:
        prefix = line_prefix(job_path, attempt, stream, with_job=with_job)
        parts.append(prefix + text.replace("\n", "\n" + prefix) if prefix else text)
    parts.append("")
    return "\n".join(parts)
