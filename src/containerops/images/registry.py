"""The component registry's image for the swarm stack (deploy/swarm/stack.yaml), built
locally: Debian's ``docker-registry`` binary, the one this machine has installed (the
project's setup installs the package), on the python base image (Debian bookworm, the same
libc). No image hub and no network are needed to build it.

The registry serves on port 5000 from ``/var/lib/registry`` as uid 1000 (a volume or a
bind mount there must be writable by it), deletes allowed (``coops registry gc``). The
stack runs one on every node, all on the same shared storage, so that each node's Engine
pulls from ``127.0.0.1``: a registry Docker trusts without TLS or insecure-registries.
Rebuilt only when its recipe, the binary or the base image changed (a digest, as a label).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from containerops.images.base import BuiltImage, Progress, build_on_python_base
from containerops.images.recipes import COOPS_UID, ImageBuildError

REGISTRY_IMAGE = "containerops/registry:2"
#: Where Debian's docker-registry package puts its binary.
REGISTRY_BINARY = Path("/usr/bin/docker-registry")

_CONFIG = """\
version: 0.1
log:
  fields: {service: coops-registry}
storage:
  filesystem: {rootdirectory: /var/lib/registry}
  delete: {enabled: true}
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
"""

_DOCKERFILE = f"""\
FROM {{base}}
USER root
COPY docker-registry /usr/bin/docker-registry
COPY config.yml /etc/coops-registry.yml
RUN mkdir -p /var/lib/registry && chown {COOPS_UID}:{COOPS_UID} /var/lib/registry
USER {COOPS_UID}:{COOPS_UID}
EXPOSE 5000
CMD ["docker-registry", "serve", "/etc/coops-registry.yml"]
"""


def build_registry_image(
    *, force: bool = False, progress: Progress | None = None, binary: Path = REGISTRY_BINARY
) -> BuiltImage:
    """Build :data:`REGISTRY_IMAGE` on the python base image (built first when missing).
    Raises ImageBuildError saying why not (no docker-registry on this machine)."""
    if not binary.is_file():
        raise ImageBuildError(
            f"{binary} is missing: install Debian's docker-registry package (apt-get install docker-registry)"
        )
    binary_digest = hashlib.sha256(binary.read_bytes()).hexdigest()

    def fill(context: Path, base_id: str) -> None:
        shutil.copy2(binary, context / "docker-registry")
        (context / "config.yml").write_text(_CONFIG)
        (context / "Dockerfile").write_text(_DOCKERFILE.format(base=base_id))

    return build_on_python_base(
        REGISTRY_IMAGE,
        lambda _base_id: (_DOCKERFILE, _CONFIG, binary_digest),
        fill,
        force=force,
        progress=progress,
    )
