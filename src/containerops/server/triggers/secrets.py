"""The one place triggers and receivers read a namespace's secret by name."""

from __future__ import annotations

from containerops.server.secrets import get_secret
from containerops.store import Store


def namespace_secret(store: Store, namespace: str, name: str) -> str | None:
    """The value of secret ``name`` of ``namespace``, or None when it is not set."""
    return get_secret(store, namespace, name)
