"""A JSON POST about the run, signed so that its receiver can trust it.

The body is ``{"event": "run.finished", "run": {...}}`` (see ``RunSummary.to_json``).
With a ``secret`` the request carries ``X-ContainerOps-Signature-256:
sha256=<hex>``: the HMAC-SHA256 of the exact body bytes with the secret, the
same scheme as GitHub's ``X-Hub-Signature-256``; check it in constant time.
"""

from __future__ import annotations

import json

import httpx

from containerops.contract.signatures import sign
from containerops.notify.summary import RunSummary

SIGNATURE_HEADER = "X-ContainerOps-Signature-256"


def body(summary: RunSummary, event: str) -> bytes:
    return json.dumps({"event": f"run.{event}", "run": summary.to_json()}, sort_keys=True).encode()


async def send(
    client: httpx.AsyncClient, url: str, secret: str | None, summary: RunSummary, event: str
) -> None:
    content = body(summary, event)
    headers = {"Content-Type": "application/json", "X-ContainerOps-Event": f"run.{event}"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, content)
    response = await client.post(url, content=content, headers=headers)
    response.raise_for_status()
