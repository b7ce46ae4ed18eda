"""Flow documents for server tests (dummy executor unless said)."""

from __future__ import annotations

import json
from typing import Any


def flow_doc(
    uri: str = "demo/server/ci",
    *,
    jobs: int = 1,
    env: dict[str, str] | None = None,
    sleep: float = 0,
    exit_code: int = 0,
    lines: int = 0,
    **job: Any,
) -> dict[str, Any]:
    """A flow of ``jobs`` dummy jobs one after another in one action."""
    job_env = {"CO_DUMMY_EXIT_CODE": str(exit_code)}
    if sleep:
        job_env["CO_DUMMY_SLEEP"] = str(sleep)
    if lines:
        job_env["CO_DUMMY_LINES"] = str(lines)
    body = {"endpoint": "containerops/base:busybox", "environments": job_env, **job}
    return {
        "uri": uri,
        "environments": env or {},
        "stages": [
            {"type": "start", "name": "start"},
            {
                "type": "normal",
                "name": "build",
                "actions": [{"name": "unit", "jobs": [{"name": f"job{i}", **body} for i in range(jobs)]}],
            },
            {"type": "end", "name": "end"},
        ],
    }


def as_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc)
