"""Pushing and pulling an image (and tagging it): the one ``push_image`` and ``pull_image``,
through the Docker Engine's HTTP API with httpx (:mod:`containerops.executors.engine_api`:
the Docker SDK is most of a short command's start-up). An Engine behind TLS or ssh is left
to the SDK (``engine_images``), imported only then.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import httpx

from containerops.executors import engine_api
from containerops.repository import registry
from containerops.repository.errors import TransferError

Progress = Callable[[str], None]


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
    if not engine_api.reachable_plainly():  # an Engine behind TLS or ssh: the Docker SDK (its
        from containerops.repository import engine_images  # start-up only then: see the docstring)

        engine_images.sdk_pull(image, progress, auth, tag_as=tag_as)
        return
    say: Progress = progress or (lambda _line: None)
    repository, _, digest = image.partition("@")
    try:
        with engine_api.engine_client() as engine:
            error = engine_api.progress_error(
                engine,
                "/images/create",
                {"fromImage": repository, "tag": digest},
                engine_api.auth_headers(auth),
                lambda: say(f"pulling {image}"),
            )
            if error is None and tag_as is not None:
                namespace, name, version = tag_as
                tagged = engine.post(
                    engine_api.image_path(image) + "/tag",
                    params={"repo": f"coops/{namespace}/{name}", "tag": version},
                )
                if tagged.status_code >= 400:
                    raise TransferError(f"tagging {image} failed: {engine_api.message(tagged)}")
    except httpx.HTTPError as exc:
        raise TransferError(engine_api.unreachable(exc)) from None
    if error is not None:
        registry.check(repository.split("/", 1)[0], token_auth=auth is not None)  # says why, if it can
        raise TransferError(f"pulling {image} failed: {error}")


def push_image(
    address: str, repository: str, version: str, local_tag: str, auth: dict[str, str] | None = None
) -> None:
    """``docker push`` the image ``local_tag`` as ``<address>/<repository>:<version>``; ``auth``
    (username, password: a coops token) for a registry that takes a server's tokens. The
    registry's tag is dropped from the Engine afterwards (the image keeps its own)."""
    if not engine_api.reachable_plainly():
        from containerops.repository import engine_images  # the SDK: see the docstring

        engine_images.sdk_push(address, repository, version, local_tag, auth)
        return
    remote = f"{address}/{repository}"
    try:
        with engine_api.engine_client() as engine:
            tagged = engine.post(
                engine_api.image_path(local_tag) + "/tag", params={"repo": remote, "tag": version}
            )
            if tagged.status_code >= 400:
                raise TransferError(
                    f"tagging {local_tag} as {remote}:{version} failed: {engine_api.message(tagged)}"
                )
            try:
                headers = engine_api.auth_headers(auth)
                error = engine_api.progress_error(
                    engine, engine_api.image_path(remote) + "/push", {"tag": version}, headers
                )
            finally:
                with contextlib.suppress(httpx.HTTPError):
                    engine.delete(engine_api.image_path(f"{remote}:{version}"), params={"noprune": "1"})
    except httpx.HTTPError as exc:
        raise TransferError(engine_api.unreachable(exc)) from None
    if error is not None:
        raise TransferError(f"pushing {remote}:{version} failed: {error}")
