"""Executors run jobs: ``docker`` (default), ``local`` processes, ``dummy``, and
``kubernetes`` (a Job per attempt in a cluster)."""

from __future__ import annotations

from containerops.executors.base import Executor, ExecutorError

EXECUTORS = ("docker", "local", "dummy", "kubernetes")


def get_executor(name: str, *, network_mode: str | None = None) -> Executor:
    """Build the executor called ``name``; imports lazily so that ``local`` and
    ``dummy`` never need the Docker SDK or a daemon, nor the others the Kubernetes client."""
    if name == "docker":
        from containerops.executors.docker import DockerExecutor

        return DockerExecutor(network_mode=network_mode)
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
