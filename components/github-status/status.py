"""library/github-status: set a commit status through the GitHub REST API.

POST {api-url}/repos/{owner}/{repo}/statuses/{sha}. The API base URL is an input so
that GitHub Enterprise (https://HOST/api/v3) and tests can point elsewhere; the
token is a secret input, sent only in the Authorization header.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

from containerops import sdk

REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
SHA = re.compile(r"[0-9a-fA-F]{7,40}")
MAX_DESCRIPTION = 140  # GitHub refuses longer descriptions


def main() -> None:
    api = (sdk.input("api-url", "https://api.github.com") or "").rstrip("/")
    token = sdk.input("token", required=True) or ""
    repository = sdk.input("repository", required=True) or ""
    sha = (sdk.input("sha", "") or "").strip()
    if not sha:
        sdk.fail("no commit given: set the input 'sha', or subscribe git-clone's CO_GIT_SHA as CO_SHA")
    if not REPOSITORY.fullmatch(repository) or ".." in repository:
        sdk.fail(f"repository {repository!r} must be OWNER/NAME")
    if not SHA.fullmatch(sha):
        sdk.fail(f"sha {sha!r} is not a commit SHA (7 to 40 hex digits)")
    payload = {
        "state": sdk.input("state", "success"),
        "context": sdk.input("context", "containerops"),
        "description": (sdk.input("description", "") or "")[:MAX_DESCRIPTION],
    }
    target = sdk.input("target-url", "") or ""
    if target:
        payload["target_url"] = target
    url = f"{api}/repos/{repository}/statuses/{sha}"
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
            "User-Agent": "containerops-github-status/1.0",
        },
        method="POST",
    )
    print(f"setting {payload['context']} = {payload['state']} on {repository}@{sha[:12]}", flush=True)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, answer = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read().decode("utf-8", "replace")
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        sdk.fail(f"cannot reach {api}: {getattr(error, 'reason', error)}")
    sdk.set_output("CO_STATUS_CODE", status)
    if status >= 300:
        try:
            message = json.loads(answer).get("message", answer)
        except (ValueError, AttributeError):
            message = answer
        sdk.fail(f"GitHub refused the status: HTTP {status} {str(message)[:200]!r}")
    try:
        created = json.loads(answer)
    except ValueError:
        created = {}
    if isinstance(created, dict):
        for key, output in (("id", "CO_STATUS_ID"), ("url", "CO_STATUS_URL")):
            if created.get(key) is not None:
                sdk.set_output(output, created[key])
    print(f"status set (HTTP {status})", flush=True)
    sdk.result(True)


if __name__ == "__main__":
    main()
