"""Encoding a job's inputs into ``CO_DATA`` and ``CO_<KEY>`` variables.

The original components split ``CO_DATA`` on spaces, so simple values stay bare
(``a=1 b=2``); a value holding a space, a quote, ``=`` or anything a shell would
read specially is single-quoted the POSIX way, so that ``shlex.split`` returns
the exact pairs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from containerops.sdk import env_name as input_env_name
from containerops.sdk import parse_co_data

#: Characters no shell reads specially (matched whole: ``$`` would let a final newline through).
_BARE = re.compile(r"[A-Za-z0-9_@%+:,./-]+")

__all__ = ["decode_co_data", "encode_co_data", "input_env_name", "quote_value"]


def quote_value(value: str) -> str:
    """The value as written in ``CO_DATA``: bare when safe, else single-quoted."""
    if _BARE.fullmatch(value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def encode_co_data(inputs: Mapping[str, str]) -> str:
    """``{"a": "1", "msg": "two words"}`` -> ``a=1 msg='two words'``."""
    return " ".join(f"{key}={quote_value(value)}" for key, value in inputs.items())


def decode_co_data(text: str) -> dict[str, str]:
    """The inverse of :func:`encode_co_data` (and tolerant of the original's plain form)."""
    return parse_co_data(text)
