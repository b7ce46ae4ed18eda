"""Base images for jobs, built locally (no image registry is needed or used).

Here, what each base image is (:mod:`.recipes`, no Docker SDK: checking an image needs
no more); building them is :func:`containerops.images.base.build_base_images`, which
``coops images build-base`` calls.
"""

from __future__ import annotations

from containerops.images.recipes import (
    BASE_IMAGES,
    BUSYBOX_IMAGE,
    DIGEST_LABEL,
    PYTHON_IMAGE,
    PYTHON_ROOTFS_IMAGE,
    ImageBuildError,
)

__all__ = [
    "BASE_IMAGES",
    "BUSYBOX_IMAGE",
    "DIGEST_LABEL",
    "PYTHON_IMAGE",
    "PYTHON_ROOTFS_IMAGE",
    "ImageBuildError",
]
