"""Base images for jobs, built locally (no image registry is needed or used).

``coops images build-base`` calls :func:`build_base_images`.
"""

from __future__ import annotations

from containerops.images.base import (
    BASE_IMAGES,
    BUSYBOX_IMAGE,
    DIGEST_LABEL,
    PYTHON_IMAGE,
    PYTHON_ROOTFS_IMAGE,
    BuiltImage,
    ImageBuildError,
    build_base_images,
    debian_mirror,
)

__all__ = [
    "BASE_IMAGES",
    "BUSYBOX_IMAGE",
    "DIGEST_LABEL",
    "PYTHON_IMAGE",
    "PYTHON_ROOTFS_IMAGE",
    "BuiltImage",
    "ImageBuildError",
    "build_base_images",
    "debian_mirror",
]
