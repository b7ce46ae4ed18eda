"""Slack: a message to an incoming-webhook URL."""

from __future__ import annotations

import httpx

from containerops.notify.summary import RunSummary

ICONS = {"success": ":white_check_mark:", "failure": ":x:", "cancelled": ":no_entry_sign:"}


def message(summary: RunSummary) -> dict[str, object]:
    """The JSON Slack gets: a ``text`` fallback and one section block with the same facts."""
    icon = ICONS.get(summary.status, ":grey_question:")
    head = f"{icon} *{summary.title}* {summary.status} in {summary.duration_text()}"
    lines = [head]
    if summary.failed_jobs:
        lines.append("Failed jobs: " + ", ".join(f"`{job}`" for job in summary.failed_jobs))
    if summary.reason and summary.status != "success":
        lines.append(f"Reason: {summary.reason}")
    if summary.link:
        lines.append(f"<{summary.link}|Open run {summary.run_id}>")
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


async def send(client: httpx.AsyncClient, url: str, summary: RunSummary) -> None:
    response = await client.post(url, json=message(summary))
    response.raise_for_status()
