"""The error of moving an image between the Docker Engine and the registry.

Its own module so that both ways of reaching the Engine (``engine_transfer`` with httpx,
``engine_images`` with the Docker SDK) raise the same error without importing each other.
"""

from __future__ import annotations


class TransferError(Exception):
    """A push or pull that could not be done; the message says why."""
