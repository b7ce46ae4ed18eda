"""A started Docker job: its spec, and the container that runs it."""

from __future__ import annotations

from containerops.executors.base import ExecutorError, JobHandle, JobSpec


class DockerJobHandle(JobHandle):
    """A started job: its spec and its container."""

    def __init__(self, spec: JobSpec, container_id: str, name: str) -> None:
        super().__init__(spec)
        self.container_id = container_id
        self.name = name

    def __repr__(self) -> str:
        return f"DockerJobHandle({self.name!r}, {self.container_id[:12]})"


def docker_handle(handle: JobHandle) -> DockerJobHandle:
    if not isinstance(handle, DockerJobHandle):
        raise ExecutorError(f"not a docker job handle: {handle!r}")
    return handle
