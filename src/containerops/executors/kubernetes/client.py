"""Connecting to a Kubernetes API server, and the few calls of the executor, on plain dicts.

The configuration is the kubeconfig's (``KUBECONFIG``, else ``~/.kube/config``) or, inside
a cluster, the pod's service account. Calls go through the official client's ``ApiClient``
(:class:`Api`) with JSON in and out: the manifests of :mod:`.convert` go out as they are
validated, and what comes back is read by the same pure functions.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from containerops.executors.base import ExecutorError

Manifest = dict[str, Any]

#: Seconds one watch request lasts on the server (``timeoutSeconds``) before it is made anew.
WATCH_SECONDS = 5
#: Where a pod finds its service account's namespace.
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class Gone(Exception):
    """The resourceVersion a watch asked for is older than the server keeps (410 Gone)."""


def connect() -> tuple[k8s.ApiClient, str]:
    """A client of the cluster, and the namespace its configuration names (``default``
    without one): from the kubeconfig when there is one, else in-cluster."""
    configuration = k8s.Configuration()
    loaders = cast(Any, k8s_config)  # the config module has no type hints
    kubeconfig = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    try:
        if os.environ.get("KUBECONFIG") or Path(kubeconfig).is_file():
            loaders.load_kube_config(client_configuration=configuration, persist_config=False)
            _, context = loaders.list_kube_config_contexts()
            namespace = (context or {}).get("context", {}).get("namespace") or "default"
        else:
            loaders.load_incluster_config(client_configuration=configuration)
            namespace = SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        raise ExecutorError(
            f"no Kubernetes cluster configured ({exc}): set KUBECONFIG, or run coops in a pod "
            "with a service account"
        ) from exc
    return k8s.ApiClient(configuration), namespace


@contextlib.contextmanager
def explained(doing: str) -> Iterator[None]:
    """Turn what the API server (or the way to it) raised while ``doing`` into the
    :class:`ExecutorError` the engine records as the job's reason."""
    try:
        yield
    except ApiError as exc:
        raise ExecutorError(f"{doing}: {exc}") from exc
    except urllib3.exceptions.HTTPError as exc:
        raise ExecutorError(f"{doing}: cannot reach the Kubernetes API server ({exc})") from exc


class ApiError(Exception):
    """The API server answered with an error: its HTTP status and its Status message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


#: Where each kind the executor uses is served (its API group and version).
PREFIXES = {
    "jobs": "/apis/batch/v1",
    "pods": "/api/v1",
    "secrets": "/api/v1",
    "persistentvolumeclaims": "/api/v1",
}


def path(resource: str, namespace: str, name: str | None = None, sub: str | None = None) -> str:
    """``/apis/batch/v1/namespaces/NS/jobs[/NAME[/SUB]]``."""
    parts = [PREFIXES[resource], "namespaces", quote(namespace, safe=""), resource]
    if name is not None:
        parts.append(quote(name, safe=""))
    if sub is not None:
        parts.append(sub)
    return "/".join(parts)


class Api:
    """The REST calls of the executor, on plain dicts, through the official client's
    ``ApiClient`` (its configuration, authentication, TLS and connection pool). Not its
    generated API classes: the manifests go out as :mod:`.convert` makes (and the tests
    validate) them, and importing those classes takes seconds."""

    def __init__(self, client: k8s.ApiClient) -> None:
        self.client = client

    def open(
        self,
        method: str,
        url_path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Manifest | None = None,
        content_type: str = "application/json",
        timeout: tuple[float, float] | None = None,
    ) -> Any:
        """The response (a urllib3 one, its body unread) of a call that succeeded; raises
        :class:`ApiError` with what the server said otherwise."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        method, url, headers, payload, _ = self.client.param_serialize(
            method=method,
            resource_path=url_path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.client.call_api(method, url, headers, payload, _request_timeout=timeout).response
        if not 200 <= response.status <= 299:
            data = response.data
            response.release_conn()
            raise ApiError(response.status, _status_message(data, response.reason))
        return response

    def call(self, method: str, url_path: str, **options: Any) -> Manifest:
        """The JSON object the server answered a call with (``options``: :meth:`open`'s)."""
        response = self.open(method, url_path, **options)
        try:
            return dict(json.loads(response.data))
        finally:
            response.release_conn()


def _status_message(data: bytes, reason: str | None) -> str:
    try:
        message = json.loads(data or b"{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or reason or "error")


def list_objects(api: Api, resource: str, namespace: str, selector: str) -> tuple[list[Manifest], str]:
    """The objects matching ``selector``, and the resourceVersion to watch from."""
    listed = api.call("GET", path(resource, namespace), query=[("labelSelector", selector)])
    return list(listed.get("items") or []), str((listed.get("metadata") or {}).get("resourceVersion") or "")


def watch_once(
    api: Api, resource: str, namespace: str, selector: str, version: str, seconds: int = WATCH_SECONDS
) -> Iterator[tuple[str, Manifest]]:
    """The events after ``version`` for up to ``seconds``: (type, object) pairs, BOOKMARKs
    included (they only move the resourceVersion on). Raises :class:`Gone` on 410."""
    query = [
        ("labelSelector", selector),
        ("watch", "true"),
        ("resourceVersion", version),
        ("timeoutSeconds", str(seconds)),
        ("allowWatchBookmarks", "true"),
    ]
    try:
        response = api.open("GET", path(resource, namespace), query=query, timeout=(10, seconds + 10))
    except ApiError as exc:
        if exc.status == 410:
            raise Gone(exc.message) from exc
        raise
    try:
        pending = b""
        for chunk in response.stream(64 * 1024, decode_content=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind_of, obj = str(event.get("type")), dict(event.get("object") or {})
                if kind_of == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone(str(obj.get("message") or "resourceVersion too old"))
                    raise ExecutorError(f"the Kubernetes watch failed: {obj.get('message')}")
                yield kind_of, obj
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError):
        return  # the server ended the watch early: the caller watches again from where it was
    finally:
        response.release_conn()


def follow(
    api: Api, resource: str, namespace: str, selector: str, stop: Callable[[], bool]
) -> Iterator[tuple[str, Manifest]]:
    """List, then watch, for ever (until ``stop()``): every object matching ``selector``
    first as ADDED, then each change, and a ``TICK`` (with no object) after each listing
    and each time a watch ends, so that the caller may look at something else then. On 410 Gone (the
    version is too old) it lists anew, as the Kubernetes documentation says a client
    must, and goes on from there; a watch the server ends is made again from the last
    version seen."""
    while not stop():
        items, version = list_objects(api, resource, namespace, selector)
        for item in items:
            yield "ADDED", item
        yield "TICK", {}
        try:
            while not stop():
                for kind_of, obj in watch_once(api, resource, namespace, selector, version):
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                    if kind_of != "BOOKMARK":
                        yield kind_of, obj
                    if stop():
                        return
                yield "TICK", {}
        except Gone:
            continue
