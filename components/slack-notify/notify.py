"""library/slack-notify: post a message to a Slack incoming webhook.

The webhook URL is the credential (anyone holding it can post), so it is a secret
input: never printed here, and masked by the engine in any line that would show it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from containerops import sdk


def main() -> None:
    webhook = sdk.input("webhook-url", required=True) or ""
    text = sdk.input("text", required=True) or ""
    if urlsplit(webhook).scheme not in ("http", "https"):
        sdk.fail(
            "webhook-url must be an http(s) URL (Slack's look like https://hooks.slack.com/services/...)"
        )
    payload: dict[str, object] = {"text": text}
    for key, field in (("channel", "channel"), ("username", "username"), ("icon-emoji", "icon_emoji")):
        value = sdk.input(key, "") or ""
        if value:
            payload[field] = value
    color = sdk.input("color", "") or ""
    if color:  # a coloured bar beside the message: good, warning, danger or #RRGGBB
        payload["attachments"] = [{"color": color, "text": text, "fallback": text}]
        payload["text"] = ""
    request = urllib.request.Request(
        webhook,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "containerops-slack-notify/1.0"},
        method="POST",
    )
    print(f"posting a {len(text)}-character message to the Slack webhook", flush=True)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, answer = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read().decode("utf-8", "replace")
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        sdk.fail(f"cannot reach the Slack webhook: {getattr(error, 'reason', error)}")
    sdk.set_output("CO_STATUS_CODE", status)
    if status >= 300:
        sdk.fail(f"Slack refused the message: HTTP {status} {answer[:200]!r}")
    print(f"posted (HTTP {status})", flush=True)
    sdk.result(True)


if __name__ == "__main__":
    main()
