"""Images between this machine's Docker Engine and the registry with the Docker SDK: a push
and a pull for an Engine behind TLS or ssh, which ``engine_transfer`` (plain HTTP, without
the SDK's start-up) leaves to this module, and whether an image is here.

Only the Docker SDK and the registry's address: no store, no catalog, no signing key.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import docker
import docker.errors
import requests.exceptions

from containerops.executors.base import ExecutorError
from containerops.executors.docker_client import connect
from containerops.repository import registry
from containerops.repository.errors import TransferError

Progress = Callable[[str], None]


@contextlib.contextmanager
def _docker() -> Iterator[Any]:
    try:
        client = connect()
    except ExecutorError as exc:
        raise TransferError(str(exc)) from None
    try:
        yield client
    finally:
        client.close()


def sdk_push(
    address: str, repository: str, version: str, local_tag: str, auth: dict[str, str] | None = None
) -> None:
    """``engine_transfer.push_image`` (call that) for an Engine behind TLS or ssh, which only
    the SDK reaches."""
    remote = f"{address}/{repository}"
    with _docker() as client:
        try:
            client.api.tag(local_tag, remote, version)
            error = None
            for chunk in client.api.push(remote, tag=version, stream=True, decode=True, auth_config=auth):
                if "error" in chunk:
                    error = str(chunk.get("error") or chunk.get("errorDetail"))
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise TransferError(f"pushing {remote}:{version} failed: {exc}") from None
        finally:
            with contextlib.suppress(docker.errors.DockerException, requests.exceptions.RequestException):
                client.api.remove_image(f"{remote}:{version}", noprune=True)
    if error is not None:
        raise TransferError(f"pushing {remote}:{version} failed: {error}")


def has_image(image: str) -> bool:
    with _docker() as client:
        try:
            client.api.inspect_image(image)
        except docker.errors.ImageNotFound:
            return False
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise TransferError(f"cannot inspect {image}: {exc}") from None
    return True


def sdk_pull(
    image: str,
    progress: Progress | None = None,
    auth: dict[str, str] | None = None,
    *,
    tag_as: tuple[str, str, str] | None = None,
) -> None:
    """``engine_transfer.pull_image`` (call that) for an Engine behind TLS or ssh, which only the
    SDK reaches: one Engine connection for the pull and the tag."""
    say: Progress = progress or (lambda _line: None)
    repository, _, digest = image.partition("@")
    say(f"pulling {image}")
    with _docker() as client:
        error = None
        try:
            for chunk in client.api.pull(repository, tag=digest, stream=True, decode=True, auth_config=auth):
                if "error" in chunk:
                    error = str(chunk.get("error"))
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            error = str(getattr(exc, "explanation", None) or exc)
        if error is None and tag_as is not None:
            namespace, name, version = tag_as
            try:
                client.api.tag(image, f"coops/{namespace}/{name}", version)
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                raise TransferError(f"tagging {image} failed: {exc}") from None
    if error is not None:
        registry.check(repository.split("/", 1)[0], token_auth=auth is not None)  # says why, if it can
        raise TransferError(f"pulling {image} failed: {error}")
