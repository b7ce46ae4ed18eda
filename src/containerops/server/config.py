"""How a server is set up: which store, which executor, how many runs at once."""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Runs that execute at the same time; more wait in the queue (state ``pending``).
DEFAULT_MAX_RUNS = 64


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip().isdigit() else default


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Settings of one server process; ``from_env`` reads the ``COOPS_SERVER_*`` variables."""

    store_url: str | None = None
    executor: str = "docker"
    network_mode: str | None = None
    max_concurrent_runs: int = DEFAULT_MAX_RUNS
    #: The URL clients reach this server at, for links in notifications and callbacks.
    public_url: str | None = None
    #: Whether public components are read without a token too (the API's listing, search and
    #: show, and pulls from the registry run for this server); ``COOPS_SERVER_ANONYMOUS_READ``.
    anonymous_read: bool = False

    @classmethod
    def from_env(cls, **overrides: object) -> ServerConfig:
        values: dict[str, object] = {
            "store_url": os.environ.get("COOPS_DATABASE_URL") or None,
            "executor": os.environ.get("COOPS_SERVER_EXECUTOR", "docker"),
            "network_mode": os.environ.get("COOPS_SERVER_NETWORK") or None,
            "max_concurrent_runs": _env_int("COOPS_SERVER_MAX_RUNS", DEFAULT_MAX_RUNS),
            "public_url": os.environ.get("COOPS_SERVER_URL") or None,
            "anonymous_read": os.environ.get("COOPS_SERVER_ANONYMOUS_READ", "").lower()
            in ("1", "true", "yes"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
