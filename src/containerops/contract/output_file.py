"""Outputs a job writes to a file: the file named by ``CO_OUTPUT``, as GitHub Actions'
``GITHUB_OUTPUT``.

Each line is ``KEY=value``; a value of several lines is written between a delimiter of
the job's choosing::

    NOTES<<EOF
    first line
    second line
    EOF

Read when the job has ended, alongside the ``[COUT]`` lines of its log, under the same
limits (``containerops.contract.cout``).
"""

from __future__ import annotations

import re

from containerops.contract.cout import MAX_TOTAL_BYTES, OutputError

#: The variable that names the file, in every job's environment.
OUTPUT_ENV = "CO_OUTPUT"
#: The most of the file that is read: past it, the job fails with why.
MAX_FILE_BYTES = MAX_TOTAL_BYTES + 64 * 1024
_KEY = r"[A-Za-z_][A-Za-z0-9_.-]*"
_PLAIN = re.compile(rf"^({_KEY})=(.*)$")
_HEREDOC = re.compile(rf"^({_KEY})<<(\S+)$")


def parse_output_file(data: bytes) -> list[tuple[str, str]]:
    """The ``(key, value)`` pairs of an output file, in order; ``OutputError`` says which line
    is wrong (an unknown form, a delimiter never closed, a file past the limit)."""
    if len(data) > MAX_FILE_BYTES:
        raise OutputError(f"{OUTPUT_ENV} is over {MAX_FILE_BYTES} bytes, the limit of the file")
    lines = data.decode("utf-8", errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    pairs: list[tuple[str, str]] = []
    number = 0
    while number < len(lines):
        line = lines[number].rstrip("\r")
        number += 1
        if not line.strip():
            continue
        if (heredoc := _HEREDOC.match(line)) is not None:
            key, delimiter = heredoc.groups()
            body: list[str] = []
            while number < len(lines) and lines[number].rstrip("\r") != delimiter:
                body.append(lines[number].rstrip("\r"))
                number += 1
            if number == len(lines):
                raise OutputError(
                    f"{OUTPUT_ENV} line {number - len(body)}: '{delimiter}' that ends {key} never comes"
                )
            number += 1  # the delimiter
            pairs.append((key, "\n".join(body)))
        elif (plain := _PLAIN.match(line)) is not None:
            pairs.append((plain.group(1), plain.group(2)))
        else:
            raise OutputError(f"{OUTPUT_ENV} line {number}: not KEY=value nor KEY<<DELIMITER: {line[:80]!r}")
    return pairs
