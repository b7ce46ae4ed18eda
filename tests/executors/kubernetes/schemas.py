"""Every manifest checked against the official Kubernetes OpenAPI schemas, as
``kubernetes-validate`` ships them (offline; strict: an unknown field is an error)."""

from __future__ import annotations

from typing import Any

import kubernetes_validate

#: The Kubernetes version the manifests are checked against (the newest the package knows).
KUBERNETES_VERSION = kubernetes_validate.latest_version()


def check(manifest: dict[str, Any]) -> None:
    """Raise ``kubernetes_validate.ValidationError`` unless ``manifest`` is a valid object
    of its kind for :data:`KUBERNETES_VERSION`."""
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
