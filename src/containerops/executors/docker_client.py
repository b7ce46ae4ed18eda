"""Connecting to the Docker Engine, with an error a user can act on when it is down.

Beside the docker executor's package, not in it: building and pushing a component's image
(``coops component push``) connects too, and importing the executor (asyncio and its
parts) was a tenth of that command's start-up."""

from __future__ import annotations

import os

import docker
import docker.errors
import requests.exceptions

from containerops.executors.base import ExecutorError

#: Connections kept per client. Every running job holds two long requests (its log
#: stream and its wait), so the SDK's default of 10 would make urllib3 open and drop
#: connections (and warn) as soon as a few jobs run in parallel.
MAX_POOL_SIZE = 64

#: Seconds an ordinary API call (create, inspect, kill...) may take.
API_TIMEOUT = 60


def engine_address() -> str:
    """Where the SDK will look for the Docker Engine (for error messages)."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect() -> docker.DockerClient:
    """A client for the Docker Engine that has answered a ping.

    Raises ExecutorError naming the address and the cause when the Engine cannot be
    reached, instead of the SDK's chain of urllib3 exceptions.
    """
    try:
        client = docker.from_env(max_pool_size=MAX_POOL_SIZE, timeout=API_TIMEOUT)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise ExecutorError(
            f"cannot reach the Docker Engine at {engine_address()}: {_why(exc)}; "
            "start dockerd (or set DOCKER_HOST to a running Engine) and make sure "
            "you may use its socket"
        ) from exc
    return client


def _why(exc: BaseException) -> str:
    """The innermost useful reason (e.g. 'No such file or directory'), not the wrapper's."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    text = str(seen) or type(seen).__name__
    return text if len(text) < 300 else text[:300] + "..."


#: What the SDK raises when the Engine refuses or cannot be reached.
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


def explain(exc: BaseException) -> str:
    """The Engine's own explanation of a refusal, else the exception's text."""
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).strip()


#: Seconds one wait request may block before it looks again at a cancellation flag.
WAIT_POLL_SECONDS = 5.0
