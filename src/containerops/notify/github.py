"""GitHub commit statuses: ``pending`` when the run starts, then ``success`` or ``failure``.

``POST {api}/repos/{owner}/{repo}/statuses/{sha}`` with the token of the
receiver's secret. The API base URL is the receiver's ``url`` (default
``https://api.github.com``; GitHub Enterprise: ``https://HOST/api/v3``). The
commit and repository are those of the event that started the run (a push or
pull request), or the receiver's ``repository`` with the run's ``CO_GIT_SHA``.
"""

from __future__ import annotations

import httpx

from containerops.notify.summary import RunSummary

#: Run status -> commit status state.
STATES = {"running": "pending", "pending": "pending", "success": "success", "failure": "failure"}
DEFAULT_CONTEXT = "containerops"


def state_of(status: str) -> str:
    return STATES.get(status, "error")  # cancelled and anything else: error


def status_url(api: str, repository: str, sha: str) -> str:
    return f"{api.rstrip('/')}/repos/{repository}/statuses/{sha}"


async def send(
    client: httpx.AsyncClient,
    *,
    api: str,
    token: str,
    repository: str,
    sha: str,
    context: str | None,
    summary: RunSummary,
) -> None:
    state = state_of(summary.status)
    description = "running" if state == "pending" else f"{summary.status} in {summary.duration_text()}"
    if summary.failed_jobs:
        description += "; failed: " + ", ".join(summary.failed_jobs)
    response = await client.post(
        status_url(api, repository, sha),
        json={
            "state": state,
            "target_url": summary.link or None,
            "description": description[:140],
            "context": context or f"{DEFAULT_CONTEXT}/{summary.flow}",
        },
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    response.raise_for_status()
