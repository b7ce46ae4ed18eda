"""Executors run jobs: ``docker`` (default), ``swarm`` services, ``local`` processes,
``dummy``, and ``kubernetes`` (a Job per attempt in a cluster)."""

from __future__ import annotations

from containerops.executors.base import Executor, ExecutorError

EXECUTORS = ("docker", "swarm", "local", "dummy", "kubernetes")


def get_executor(name: str, *, network_mode: str | None = None, registry: str | None = None) -> Executor:
    """Build the executor called ``name``; imports lazily so that ``local`` and
    ``dummy`` never need the Docker SDK or a daemon, nor the others the Kubernetes client.
    ``registry``: where a swarm's nodes pull images from (else COOPS_REGISTRY)."""
    if name == "docker":
        from containerops.executors.docker import DockerExecutor

        return DockerExecutor(network_mode=network_mode)
    if name == "swarm":
        from containerops.executors.swarm import SwarmExecutor

        return SwarmExecutor(registry=registry)
    if name == "local":
        from containerops.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "dummy":
        from containerops.executors.dummy import DummyExecutor

        return DummyExecutor()
    if name == "kubernetes":
        from containerops.executors.kubernetes import KubernetesExecutor

        return KubernetesExecutor()
    raise ExecutorError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")
