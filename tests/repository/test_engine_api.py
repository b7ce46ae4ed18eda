"""The Engine client a push or pull through a server uses: plain HTTP on the Engine's socket."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from containerops.executors import engine_api


def test_the_engine_client_loads_no_certificate_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TLS reaches the Engine here, and loading the CA bundle is ~25 ms of a pull's start."""
    loaded: list[Any] = []
    load = ssl.SSLContext.load_verify_locations

    def recorded(self: ssl.SSLContext, *args: Any, **options: Any) -> None:
        loaded.append(args or options)
        load(self, *args, **options)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", recorded)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    with engine_api.engine_client() as engine:
        assert engine.get("/_ping").text == "OK"
    assert loaded == []
