"""Flow documents for server tests (dummy executor unless said)."""

from __future__ import annotations

import json
from typing import Any

from containerops.contract.codata import encode_co_data


def flow_doc(
    uri: str = "demo/server/ci",
    *,
    jobs: int = 1,
    env: dict[str, str] | None = None,
    sleep: float = 0,
    exit_code: int = 0,
    lines: int = 0,
    outputs: dict[str, str] | None = None,
    **job: Any,
) -> dict[str, Any]:
    """A flow of ``jobs`` dummy jobs one after another in one action."""
    job_env = {"CO_DUMMY_EXIT_CODE": str(exit_code)}
    if sleep:
        job_env["CO_DUMMY_SLEEP"] = str(sleep)
    if lines:
        job_env["CO_DUMMY_LINES"] = str(lines)
    if outputs:
        job_env["CO_DUMMY_OUTPUTS"] = encode_co_data(outputs)
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


def wait_for_run(
    client: Any, run_id: int, *, timeout: float = 30, until: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Poll ``GET /api/v1/runs/ID`` until the run has ended (or reached a status in ``until``)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        document: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}").json()
        status = document.get("status")
        if status in until or (not until and status not in ("pending", "running", "paused")):
            return document
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} is still {status} after {timeout} s")
        time.sleep(0.02)


def start(client: Any, doc: dict[str, Any], **body: Any) -> dict[str, Any]:
    """Save the flow ``doc`` and start it; the 202 answer."""
    saved = client.post("/api/v1/flows", content=as_json(doc))
    assert saved.status_code in (200, 201), saved.text
    started = client.post("/api/v1/runs", json={"flow": doc["uri"], **body})
    assert started.status_code == 202, started.text
    result: dict[str, Any] = started.json()
    return result
