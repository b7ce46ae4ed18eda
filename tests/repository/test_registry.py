"""The registry process: started under COOPS_HOME on the port asked for, idempotent,
stopped cleanly; a registry that is down is said plainly."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from containerops.repository import registry
from tests.cli.test_cli import coops
from tests.repository.conftest import free_port


def test_start_status_stop(coops_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COOPS_REGISTRY", raising=False)
    port = free_port()
    started = registry.start(port)
    try:
        assert started.running and started.managed and started.pid is not None
        assert started.address == f"127.0.0.1:{port}" == registry.registry_address()
        assert httpx.get(f"http://127.0.0.1:{port}/v2/").status_code == 200
        folder = coops_home / "registry"
        assert (folder / "config.yml").read_text().count(str(folder / "storage")) == 1
        assert (folder / "registry.pid").read_text().strip() == str(started.pid)
        assert "GET /v2/" in (folder / "registry.log").read_text()
        # again: nothing new is started
        assert registry.start().pid == started.pid
        assert registry.start(port).pid == started.pid
        with pytest.raises(registry.RegistryError, match="already runs at"):
            registry.start(free_port())
        assert registry.manifest_digest("acme/nothing", "1.0.0") is None
    finally:
        assert registry.stop() is True
    status = registry.status()
    assert not status.running and status.pid is None
    assert registry.stop() is False
    # the address stays: push and pull say the registry is down, and where
    with pytest.raises(registry.RegistryError) as error:
        registry.check()
    assert f"the component registry at 127.0.0.1:{port} is not answering" in str(error.value)
    assert "coops registry start" in str(error.value)


def test_the_registry_commands(coops_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``coops registry start|status|stop`` as a user types them, each its own process."""
    monkeypatch.delenv("COOPS_REGISTRY", raising=False)
    port = free_port()
    started = json.loads(
        coops("registry", "start", "--port", str(port), "--json", home=coops_home, check=0).stdout
    )
    try:
        assert (started["address"], started["running"], started["managed"]) == (
            f"127.0.0.1:{port}",
            True,
            True,
        )
        assert httpx.get(f"http://127.0.0.1:{port}/v2/").status_code == 200
        status = json.loads(coops("registry", "status", "--json", home=coops_home, check=0).stdout)
        assert (status["address"], status["running"], status["pid"]) == (
            f"127.0.0.1:{port}",
            True,
            started["pid"],
        )
        again = json.loads(coops("registry", "start", "--json", home=coops_home, check=0).stdout)
        assert again["pid"] == started["pid"]  # it runs already: the remembered port, nothing new
    finally:
        stopped = coops("registry", "stop", home=coops_home, check=0)
    assert "registry stopped" in stopped.stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=5)
    down = json.loads(coops("registry", "status", "--json", home=coops_home, check=1).stdout)
    assert (down["address"], down["running"], down["pid"]) == (f"127.0.0.1:{port}", False, None)
    assert "no registry of ours was running" in coops("registry", "stop", home=coops_home, check=0).stderr


def test_a_taken_port_is_refused(coops_home: Path, registry_address: str) -> None:
    port = int(registry_address.rsplit(":", 1)[1])
    with pytest.raises(registry.RegistryError, match=f"port {port} on 127.0.0.1 is taken"):
        registry.start(port)
    assert not (coops_home / "registry" / "registry.pid").exists()


def test_the_address_comes_from_the_environment_first(
    coops_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COOPS_REGISTRY", raising=False)
    assert registry.registry_address() == "127.0.0.1:5000"
    (coops_home / "registry").mkdir(parents=True)
    (coops_home / "registry" / "address").write_text("127.0.0.1:5123\n")
    assert registry.registry_address() == "127.0.0.1:5123"
    monkeypatch.setenv("COOPS_REGISTRY", "http://127.0.0.1:5999/")
    assert registry.registry_address() == "127.0.0.1:5999"


def test_something_that_is_not_a_registry_is_refused(coops_home: Path) -> None:
    import http.server
    import threading

    class NotARegistry(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotARegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(registry.RegistryError, match="it is not a registry"):
            registry.check(f"127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()


def test_a_fresh_home_does_not_call_another_homes_registry_its_own(
    tmp_path: Path, registry_address: str
) -> None:
    """The suite's registry answers at the address, but this fresh home did not start it:
    status says so and names no folder or log of this home as the registry's."""
    fresh = tmp_path / "fresh-home"
    env = {"COOPS_REGISTRY": registry_address}
    shown = coops("registry", "status", home=fresh, extra_env=env, check=0)
    assert f"registry {registry_address}: running, not one this COOPS_HOME started" in shown.stderr
    assert "folder:" not in shown.stderr and str(fresh) not in shown.stderr
    as_json = json.loads(coops("registry", "status", "--json", home=fresh, extra_env=env, check=0).stdout)
    assert as_json == {
        "address": registry_address,
        "running": True,
        "pid": None,
        "managed": False,
        "folder": None,
        "log": None,
        "token_realm": None,
    }
