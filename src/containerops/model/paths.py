"""Job paths: ``stage.action.job``, and ``stage.action.job[key=value,...]`` for an instance
of a matrix job. Kept apart (and light) because every view of a run groups jobs by them,
the CLI reading a server's answer included."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

#: Values that appear as they are in an instance's path; others by a short digest.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_:+@-][A-Za-z0-9_.:+@-]{0,39}")


def instance_suffix(combo: Mapping[str, str]) -> str:
    """``[shard=3,engine=tikv]``: what an instance's path adds to its job's. A value that
    could change a path's shape (``.``-led, ``/``, ``]``, spaces) shows as a digest."""
    parts = []
    for key, value in combo.items():
        shown = (
            value if _PLAIN_VALUE.fullmatch(value) else "~" + hashlib.sha1(value.encode()).hexdigest()[:10]
        )
        parts.append(f"{key}={shown}")
    return "[" + ",".join(parts) + "]"


def group_of(path: str) -> str | None:
    """The matrix job an instance's path belongs to; None for any other job."""
    cut = path.find("[")
    return path[:cut] if cut > 0 else None
