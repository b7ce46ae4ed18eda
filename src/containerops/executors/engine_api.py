"""The Docker Engine's HTTP API with httpx, for the few calls a short command makes.

The Docker SDK drags in requests, urllib3 and charset_normalizer: 1.4 s of the 1.6 s that
``coops component pull --server`` spent importing on a loaded machine, where the pull
itself took 3-5 s (bench/component_transfer.py), and a tenth of a second of every push.
Inspecting, tagging, pushing and pulling an image are one Engine call each, so they are
made here with httpx, which the CLI loads anyway to talk to a server. An Engine reached
any other way than a unix socket or plain tcp:// (TLS, ssh://) is left to the SDK
(:mod:`.docker_client`): callers ask :func:`reachable_plainly` first.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from containerops.executors.base import ExecutorError

DEFAULT_HOST = "unix:///var/run/docker.sock"

#: An image's inspection (the Engine's ``GET /images/{name}/json``), None when it has none.
Inspect = Callable[[str], "dict[str, Any] | None"]


def engine_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def reachable_plainly() -> bool:
    """Whether the Engine is at a unix socket or plain tcp:// (this module can speak to it)."""
    host = engine_host()
    return host.startswith("unix://") or (
        host.startswith("tcp://") and not os.environ.get("DOCKER_TLS_VERIFY")
    )


def engine_client() -> httpx.Client:
    """A client for the Engine at DOCKER_HOST (a unix socket or plain tcp://)."""
    host = engine_host()
    # Only plain HTTP reaches the Engine here (reachable_plainly): no TLS, so no certificate
    # store to load, which a transport does by default (~25 ms of a pull's start).
    if host.startswith("unix://"):
        transport = httpx.HTTPTransport(uds=host.removeprefix("unix://"), verify=False)
        base = "http://docker"
    else:
        transport, base = httpx.HTTPTransport(verify=False), "http://" + host.removeprefix("tcp://")
    return httpx.Client(transport=transport, base_url=base, timeout=httpx.Timeout(60, read=None))


def unreachable(error: httpx.HTTPError) -> str:
    """What to say when the Engine could not be reached at all."""
    return (
        f"cannot reach the Docker Engine at {engine_host()}: {error}; start dockerd (or set DOCKER_HOST "
        "to a running Engine) and make sure you may use its socket"
    )


def image_path(name: str) -> str:
    """``/images/<name>``, the name (``repo:tag``, ``repo@sha256:...``, an id) quoted."""
    return "/images/" + quote(name, safe="/:@")


def inspector(engine: httpx.Client) -> Inspect:
    """:data:`Inspect` through ``engine``; raises ExecutorError when the Engine fails."""

    def inspect(name: str) -> dict[str, Any] | None:
        try:
            response = engine.get(image_path(name) + "/json")
        except httpx.HTTPError as error:
            raise ExecutorError(unreachable(error)) from None
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ExecutorError(f"inspecting {name} failed: {message(response)}")
        found: dict[str, Any] = response.json()
        return found

    return inspect


def auth_headers(auth: dict[str, str] | None) -> dict[str, str]:
    """The ``X-Registry-Auth`` header carrying Docker's credentials for a registry; empty
    ones (anonymous) without ``auth``, as the Docker CLI sends (an Engine refuses a push
    without the header)."""
    return {"X-Registry-Auth": base64.urlsafe_b64encode(json.dumps(auth or {}).encode()).decode()}


def progress_error(
    engine: httpx.Client,
    path: str,
    params: dict[str, str],
    headers: dict[str, str],
    begun: Callable[[], None] = lambda: None,
) -> str | None:
    """POST a pull or push and read its progress lines to the end; the Engine's error, or
    None. ``begun`` is called once the Engine has accepted it: what a caller says then (the
    CLI loads Rich to say it) is spent while the Engine works, not before it is asked."""
    with engine.stream("POST", path, params=params, headers=headers) as response:
        if response.status_code >= 400:
            response.read()
            return message(response)
        begun()
        error = None
        for line in response.iter_lines():
            if line.strip():
                chunk = json.loads(line)
                if isinstance(chunk, dict) and "error" in chunk:
                    error = str(chunk.get("error") or chunk.get("errorDetail"))
    return error


def message(response: httpx.Response) -> str:
    """The Engine's own words for a refused call."""
    try:
        return str(response.json().get("message") or response.text)
    except (ValueError, AttributeError):
        return response.text[:300] or f"HTTP {response.status_code}"
