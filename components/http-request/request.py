"""library/http-request: one HTTP request; outputs the status code and chosen JSON fields.

JSON paths are dotted keys with list indexes (``items.0.id``, or ``items[0].id``,
with an optional leading ``$.``). Each becomes the output ``CO_JSON_<NAME>``, where
NAME is given (``id=items.0.id``) or made from the path (``ITEMS_0_ID``).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request
from typing import Any

from containerops import sdk

MAX_VALUE = 60 * 1024
_INDEX = re.compile(r"\[(\d+)\]")
_NAME = re.compile(r"[^A-Za-z0-9]+")


def steps(path: str) -> list[str]:
    path = _INDEX.sub(r".\1", path.strip()).removeprefix("$").removeprefix(".")
    return [part for part in path.split(".") if part]


def pick(document: Any, path: str) -> Any:
    node = document
    for part in steps(path):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(f"JSON path {path!r}: no {part!r} in the response")
    return node


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def output_name(item: str) -> tuple[str, str]:
    name, sep, path = item.partition("=")
    if not sep:
        path, name = item, item
    name = _NAME.sub("_", name.removeprefix("$")).strip("_").upper()
    return f"CO_JSON_{name}", path


def main() -> None:
    url = sdk.input("url", required=True) or ""
    method = (sdk.input("method", "GET") or "GET").upper()
    body = sdk.input("body", "") or ""
    timeout = float(sdk.input("timeout", "30") or 30)
    headers: dict[str, str] = {"User-Agent": "containerops-http-request/1.0"}
    for line in (sdk.input("headers", "") or "").splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            sdk.fail(f"header {line!r} is not 'Name: value'")
        headers[name.strip()] = value.strip()
    if body and not any(k.lower() == "content-type" for k in headers):
        try:
            json.loads(body)
            headers["Content-Type"] = "application/json"
        except ValueError:
            headers["Content-Type"] = "text/plain; charset=utf-8"
    paths = [line.strip() for line in (sdk.input("json-paths", "") or "").splitlines() if line.strip()]
    data = body.encode() if body else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    print(f"{method} {url}", flush=True)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, content = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, content = error.code, error.read()
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        sdk.fail(f"{method} {url} failed: {reason}")
    text = content.decode("utf-8", errors="replace")
    print(f"HTTP {status}, {len(content)} bytes", flush=True)
    sdk.set_output("CO_STATUS_CODE", status)
    if (sdk.input("output-body", "false") or "") == "true":
        sdk.set_output("CO_BODY", text[:MAX_VALUE].replace("\r", " ").replace("\n", " "))
    ok = True
    if paths:
        try:
            document = json.loads(text)
        except ValueError:
            sdk.fail(f"the response is not JSON, so json-paths cannot be read: {text[:200]!r}")
        for item in paths:
            name, path = output_name(item)
            try:
                sdk.set_output(name, as_text(pick(document, path))[:MAX_VALUE].replace("\n", " "))
            except KeyError as missing:
                print(missing.args[0], file=sys.stderr, flush=True)
                ok = False
    fail_on_status = (sdk.input("fail-on-status", "true") or "") == "true"
    if fail_on_status and status >= 400:
        print(f"failing: HTTP {status} (set fail-on-status: false to accept it)", flush=True)
        ok = False
    sdk.result(ok)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
