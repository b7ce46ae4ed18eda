"""A started Docker job: its spec, and the container that runs it."""

from __future__ import annotations

from containerops.executors.base import ExecutorError, JobHandle, JobSpec
from containerops.executors.docker.attach import Attachment


class DockerJobHandle(JobHandle):
    """A started job: its spec and its container."""

    def __init__(
        self, spec: JobSpec, container_id: str, name: str, attachment: Attachment | None = None
    ) -> None:
        super().__init__(spec)
        self.container_id = container_id
        self.name = name
        #: The attach opened before the container started, until its logs are read; None
        #: once taken (or never made): the logs are then followed from the log file.
        self.attachment = attachment
        #: Lines of its log already read by another process (a re-attach skips them).
        self.skip = 0

    def take_attachment(self) -> Attachment | None:
        attachment, self.attachment = self.attachment, None
        return attachment

    def __repr__(self) -> str:
        return f"DockerJobHandle({self.name!r}, {self.container_id[:12]})"


def docker_handle(handle: JobHandle) -> DockerJobHandle:
    if not isinstance(handle, DockerJobHandle):
        raise ExecutorError(f"not a docker job handle: {handle!r}")
    return handle
