"""Connecting to a Kubernetes API server, and the few calls of the executor, on plain dicts.

The configuration is the kubeconfig's (``KUBECONFIG``, else ``~/.kube/config``) or, inside
a cluster, the pod's service account. Every call is made with ``_preload_content=False``
and its JSON read as a dict: the manifests of :mod:`.convert` go out as they are validated,
and what comes back is read by the same pure functions, without the client's model classes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
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


def explain(exc: ApiException) -> str:
    """What the API server said, in one line (its Status message when it sent one)."""
    try:
        message = json.loads(exc.body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return f"{exc.status} {message or exc.reason or 'error'}"


def read(response: Any) -> Manifest:
    """The JSON object of a response made with ``_preload_content=False``."""
    try:
        return dict(json.loads(response.data))
    finally:
        response.release_conn()


#: A kind's list call (``CoreV1Api.list_namespaced_pod``...): what a watch is made with.
Kind = Callable[..., Any]


def list_objects(kind: Kind, namespace: str, selector: str) -> tuple[list[Manifest], str]:
    """The objects matching ``selector``, and the resourceVersion to watch from."""
    listed = read(kind(namespace, label_selector=selector, _preload_content=False))
    return list(listed.get("items") or []), str((listed.get("metadata") or {}).get("resourceVersion") or "")


def watch_once(
    kind: Kind, namespace: str, selector: str, version: str, seconds: int = WATCH_SECONDS
) -> Iterator[tuple[str, Manifest]]:
    """The events after ``version`` for up to ``seconds``: (type, object) pairs, BOOKMARKs
    included (they only move the resourceVersion on). Raises :class:`Gone` on 410."""
    try:
        response = kind(
            namespace,
            label_selector=selector,
            watch=True,
            resource_version=version,
            timeout_seconds=seconds,
            allow_watch_bookmarks=True,
            _preload_content=False,
            _request_timeout=(10, seconds + 10),
        )
    except ApiException as exc:
        if exc.status == 410:
            raise Gone(explain(exc)) from exc
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
    kind: Kind, namespace: str, selector: str, stop: Callable[[], bool]
) -> Iterator[tuple[str, Manifest]]:
    """List, then watch, for ever (until ``stop()``): every object matching ``selector``
    first as ADDED, then each change, and a ``TICK`` (with no object) after each listing
    and each time a watch ends, so that the caller may look at something else then. On 410 Gone (the
    version is too old) it lists anew, as the Kubernetes documentation says a client
    must, and goes on from there; a watch the server ends is made again from the last
    version seen."""
    while not stop():
        items, version = list_objects(kind, namespace, selector)
        for item in items:
            yield "ADDED", item
        yield "TICK", {}
        try:
            while not stop():
                for kind_of, obj in watch_once(kind, namespace, selector, version):
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                    if kind_of != "BOOKMARK":
                        yield kind_of, obj
                    if stop():
                        return
                yield "TICK", {}
        except Gone:
            continue
