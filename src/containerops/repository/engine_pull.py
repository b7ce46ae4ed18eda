"""Pulling an image by digest (and tagging it): the one ``pull_image``, through the Docker
Engine's HTTP API with httpx.

The Docker SDK drags in requests, urllib3 and charset_normalizer: 1.4 s of the 1.6 s that
``coops component pull --server`` spent importing on a loaded machine, where the pull
itself took 3-5 s (bench/component_transfer.py). A pull is two Engine calls
(``POST /images/create``, ``POST /images/{name}/tag``), so this module makes them with
httpx, which the CLI loads anyway to talk to the server. An Engine reached any other way
than a unix socket or plain tcp:// (TLS, ssh://) is left to the SDK (``engine_images``),
imported only then: it is most of a pull's start-up.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from urllib.parse import quote

import httpx

from containerops.repository import registry
from containerops.repository.errors import TransferError

Progress = Callable[[str], None]
DEFAULT_HOST = "unix:///var/run/docker.sock"


def reachable_plainly() -> bool:
    """Whether the Engine is at a unix socket or plain tcp:// (this module can speak to it)."""
    host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    return host.startswith("unix://") or (
        host.startswith("tcp://") and not os.environ.get("DOCKER_TLS_VERIFY")
    )


def _client() -> httpx.Client:
    host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    # Only plain HTTP reaches the Engine here (reachable_plainly): no TLS, so no certificate
    # store to load, which a transport does by default (~25 ms of a pull's start).
    if host.startswith("unix://"):
        transport = httpx.HTTPTransport(uds=host.removeprefix("unix://"), verify=False)
        base = "http://docker"
    else:
        transport, base = httpx.HTTPTransport(verify=False), "http://" + host.removeprefix("tcp://")
    return httpx.Client(transport=transport, base_url=base, timeout=httpx.Timeout(60, read=None))


def pull_image(
    image: str,
    progress: Progress | None = None,
    auth: dict[str, str] | None = None,
    *,
    tag_as: tuple[str, str, str] | None = None,
) -> None:
    """``docker pull`` a ``<registry>/<repo>@sha256:...`` reference; errors said plainly.
    ``auth``: Docker's credentials for a registry that takes a server's tokens (username
    and password: a coops token; or ``registrytoken``: a registry token itself).
    ``tag_as`` (namespace, name, version): then tag it ``coops/<ns>/<name>:<version>``.
    The registry is probed only to explain a failed pull (down, or wanting tokens).
    Who pulls from a registry that takes a server's tokens gives ``auth``
    (``transfer.pull_auth`` for this home's own key)."""
    if not reachable_plainly():  # an Engine behind TLS or ssh: the Docker SDK (its start-up
        from containerops.repository import engine_images  # only then: see the docstring)

        engine_images.sdk_pull(image, progress, auth, tag_as=tag_as)
        return
    headers = (
        {"X-Registry-Auth": base64.urlsafe_b64encode(json.dumps(auth).encode()).decode()} if auth else {}
    )
    try:
        with _client() as engine:
            error = _pull(engine, image, headers, progress or (lambda _line: None))
            if error is None and tag_as is not None:
                namespace, name, version = tag_as
                tagged = engine.post(
                    f"/images/{quote(image, safe='/:@')}/tag",
                    params={"repo": f"coops/{namespace}/{name}", "tag": version},
                )
                if tagged.status_code >= 400:
                    raise TransferError(f"tagging {image} failed: {_message(tagged)}")
    except httpx.HTTPError as exc:
        host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        raise TransferError(
            f"cannot reach the Docker Engine at {host}: {exc}; start dockerd (or set DOCKER_HOST "
            "to a running Engine) and make sure you may use its socket"
        ) from None
    if error is not None:
        registry.check(image.split("/", 1)[0], token_auth=auth is not None)  # says why, if it can
        raise TransferError(f"pulling {image} failed: {error}")


def _pull(engine: httpx.Client, image: str, headers: dict[str, str], say: Progress) -> str | None:
    """The Engine's error of the pull, or None; its progress lines are read to the end.
    "pulling" is said once the Engine has begun: what saying it costs (the CLI loads Rich
    for it) is then spent while the Engine works, not before it is asked."""
    repository, _, digest = image.partition("@")
    params = {"fromImage": repository, "tag": digest}
    with engine.stream("POST", "/images/create", params=params, headers=headers) as response:
        if response.status_code >= 400:
            response.read()
            return _message(response)
        say(f"pulling {image}")
        error = None
        for line in response.iter_lines():
            if line.strip():
                chunk = json.loads(line)
                if isinstance(chunk, dict) and "error" in chunk:
                    error = str(chunk.get("error"))
    return error


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message") or response.text)
    except (ValueError, AttributeError):
        return response.text[:300] or f"HTTP {response.status_code}"
