"""The component registry: Debian's ``docker-registry`` (the CNCF distribution
registry), run on 127.0.0.1 with its configuration and storage under
``COOPS_HOME/registry``.

ContainerOps speaks no registry protocol of its own: images go in and out with
the Docker SDK (the Docker Engine trusts registries on 127.0.0.0/8 without TLS),
and the registry's HTTP API is read only to check that it answers and what a
tag points at. Where push and pull go is :func:`registry_address`:
``COOPS_REGISTRY``, else what ``coops registry start`` stored, else
``127.0.0.1:5000``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from containerops.home import coops_home

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_ADDRESS = f"{DEFAULT_HOST}:{DEFAULT_PORT}"
BINARY = "docker-registry"
#: How long ``start`` waits for the registry to answer before giving up.
START_TIMEOUT = 15.0
#: Seconds a check of the registry's API may take: it is local, so it is fast or down.
CHECK_TIMEOUT = 3.0
#: The manifest types the registry may hold for an image the Docker Engine pushed.
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    )
)


class RegistryError(Exception):
    """The registry cannot be started, stopped or reached; said so a user can act on it."""


@dataclass(frozen=True, slots=True)
class RegistryStatus:
    """What ``coops registry status`` reports."""

    address: str
    running: bool  # answers on its API
    pid: int | None  # the process we started, if it is alive
    managed: bool  # started by `coops registry start` from this COOPS_HOME
    folder: str | None  # its configuration and storage; None when it is not this home's
    log: str | None
    #: Where it sends clients for tokens when it runs for a server; None: anonymous access.
    token_realm: str | None = None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def folder() -> Path:
    """``COOPS_HOME/registry``: config.yml, registry.pid, registry.log, address, storage/."""
    return coops_home() / "registry"


def _paths() -> tuple[Path, Path, Path, Path, Path]:
    base = folder()
    return (
        base / "config.yml",
        base / "registry.pid",
        base / "registry.log",
        base / "address",
        base / "storage",
    )


def registry_address() -> str:
    """Where push and pull go: ``COOPS_REGISTRY``, the stored address, or 127.0.0.1:5000."""
    configured = os.environ.get("COOPS_REGISTRY", "").strip()
    if configured:
        return configured.removeprefix("http://").rstrip("/")
    stored = _paths()[3]
    with contextlib.suppress(OSError):
        text = stored.read_text().strip()
        if text:
            return text
    return DEFAULT_ADDRESS


def api_url(address: str, path: str = "/v2/") -> str:
    return f"http://{address}{path}"


def check(address: str | None = None, *, token_auth: bool = False) -> str:
    """The registry's address if its API answers; else :class:`RegistryError` saying how to start it.

    With ``token_auth`` a registry asking for a bearer token (401 with a ``Bearer``
    challenge: one started for a server) answers too; without, it must allow anonymous
    pushes, as a local one does.
    """
    address = address or registry_address()
    if probe(address) and not token_auth:
        raise RegistryError(
            f"{address} answered HTTP 401 on /v2/: it takes tokens from its server "
            "(push and pull with --server, or docker login with a coops token)"
        )
    return address


def probe(address: str) -> bool:
    """Whether the registry at ``address`` takes a server's tokens (True) or anyone (False);
    :class:`RegistryError` when it does not answer as a registry ContainerOps can use."""
    try:
        response = httpx.get(api_url(address), timeout=CHECK_TIMEOUT)
    except httpx.HTTPError as exc:
        raise RegistryError(down_message(address, exc)) from None
    challenge = response.headers.get("WWW-Authenticate", "")
    if response.status_code == 401 and challenge.lower().startswith("bearer "):
        return True
    if response.status_code != 200:
        raise RegistryError(
            f"{address} answered HTTP {response.status_code} on /v2/: it is not a registry "
            "ContainerOps can use (it must allow anonymous pushes or take a coops server's tokens)"
        )
    return False


def down_message(address: str, cause: object) -> str:
    return (
        f"the component registry at {address} is not answering ({cause}); "
        "start it with `coops registry start` (or point COOPS_REGISTRY at a running one)"
    )


def manifest_digest(
    repository: str, tag: str, address: str | None = None, *, token: str | None = None
) -> tuple[str, str] | None:
    """``(manifest digest, image id)`` of ``repository:tag`` in the registry, None if absent.

    The image id is the digest of the image's config, the same as the Docker
    Engine's image id: what tells two builds apart whatever the compression.
    ``token``: a registry JWT allowing ``pull`` of it, for a registry run for a server.
    """
    address = address or registry_address()
    url = api_url(address, f"/v2/{repository}/manifests/{tag}")
    headers = {"Accept": MANIFEST_TYPES}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = httpx.get(url, headers=headers, timeout=CHECK_TIMEOUT)
    except httpx.HTTPError as exc:
        raise RegistryError(down_message(address, exc)) from None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise RegistryError(f"the registry at {address} answered HTTP {response.status_code} for {url}")
    digest = response.headers.get("Docker-Content-Digest", "")
    config = (response.json().get("config") or {}).get("digest", "")
    return digest, config


# -- the process ---------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (ours, not yet reaped) is not alive.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return False
    return True


def _our_pid() -> int | None:
    """The pid in registry.pid if that process is still the registry we started."""
    config, pid_file, *_ = _paths()
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if str(config).encode() not in cmdline:  # the pid was reused by something else
        return None
    return pid


def _port_free(host: str, port: int) -> bool:
    """Whether nothing listens on the port (connections of a registry just stopped, waiting
    out TIME_WAIT, do not count: the registry binds with SO_REUSEADDR too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def config_text(host: str, port: int, storage: Path, auth: dict[str, object] | None = None) -> str:
    """The registry's configuration: local filesystem storage, deletes allowed; no auth, or
    ``auth`` (tokens of a server: ``registry_auth.auth_settings``). No in-memory cache of
    blob descriptors: ``coops registry gc`` removes blobs under a running registry, which
    must then not answer for them from memory."""
    settings: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "info", "fields": {"service": "coops-registry"}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
        },
        "http": {"addr": f"{host}:{port}", "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }
    if auth is not None:
        settings["auth"] = auth
    # JSON is YAML: no need for a YAML writer here.
    return json.dumps(settings, indent=2) + "\n"


def start(
    port: int | None = None, *, auth: dict[str, object] | None = None, timeout: float = START_TIMEOUT
) -> RegistryStatus:
    """Start the registry on 127.0.0.1 (idempotent: a running one is left as it is).

    ``auth``: the configuration's ``auth`` section, for a registry that takes a server's
    tokens; None: anonymous access, as a local registry has. A port or an auth given
    that differs from the running registry's is refused rather than silently ignored.
    """
    config, pid_file, log, address_file, storage = _paths()
    running = _our_pid()
    if running is not None:
        current = _stored_address()
        if port is not None and current != f"{DEFAULT_HOST}:{port}":
            raise RegistryError(
                f"the registry already runs at {current} (pid {running}); "
                "`coops registry stop` it first to move it to another port"
            )
        if _running_auth() != auth:
            raise RegistryError(
                f"the registry already runs at {current} (pid {running}) "
                + ("without a server's tokens" if auth else "taking a server's tokens")
                + "; `coops registry stop` it first to start it the other way"
            )
        return status()
    binary = shutil.which(BINARY)
    if binary is None:
        raise RegistryError(
            f"`{BINARY}` is not installed: `apt-get install docker-registry` (scripts/setup.sh does it)"
        )
    port = port or _stored_port() or DEFAULT_PORT
    if not _port_free(DEFAULT_HOST, port):
        raise RegistryError(
            f"port {port} on {DEFAULT_HOST} is taken by another program; choose another with --port"
        )
    storage.mkdir(parents=True, exist_ok=True)
    config.write_text(config_text(DEFAULT_HOST, port, storage, auth))
    address = f"{DEFAULT_HOST}:{port}"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [binary, "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command, and Ctrl-C in its terminal
            cwd=folder(),
        )
    pid_file.write_text(f"{process.pid}\n")
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pid_file.unlink(missing_ok=True)
            raise RegistryError(f"the registry exited at once (code {process.returncode}):\n{_tail(log)}")
        try:
            check(address, token_auth=auth is not None)
            break
        except RegistryError:
            if time.monotonic() > deadline:
                _terminate(process.pid)
                pid_file.unlink(missing_ok=True)
                raise RegistryError(
                    f"the registry did not answer on {address} within {timeout:g} s:\n{_tail(log)}"
                ) from None
            time.sleep(0.05)
    address_file.write_text(address + "\n")  # from now on push and pull go here
    return status()


def stop(*, timeout: float = 10.0) -> bool:
    """Stop the registry this COOPS_HOME started; False when none was running."""
    pid = _our_pid()
    pid_file = _paths()[1]
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    _terminate(pid, timeout=timeout)
    pid_file.unlink(missing_ok=True)
    return True


def _running_auth() -> dict[str, object] | None:
    """The ``auth`` section of the configuration the running registry was started with."""
    with contextlib.suppress(OSError, ValueError):
        auth = json.loads(_paths()[0].read_text()).get("auth")
        return auth if isinstance(auth, dict) else None
    return None


def status() -> RegistryStatus:
    pid = _our_pid()
    address = registry_address()
    try:
        check(address, token_auth=True)
        running = True
    except RegistryError:
        running = False
    managed = pid is not None and address == _stored_address()
    return RegistryStatus(
        address=address,
        running=running,
        pid=pid,
        managed=managed,
        # another home's registry (or one started by hand) keeps its files elsewhere
        folder=str(folder()) if managed else None,
        log=str(_paths()[2]) if managed else None,
        token_realm=_realm(_running_auth()) if managed else None,
    )


def _realm(auth: dict[str, object] | None) -> str | None:
    token = (auth or {}).get("token")
    realm = token.get("realm") if isinstance(token, dict) else None
    return str(realm) if realm else None


def _stored_address() -> str | None:
    with contextlib.suppress(OSError):
        return _paths()[3].read_text().strip() or None
    return None


def _stored_port() -> int | None:
    address = _stored_address()
    if address and ":" in address:
        with contextlib.suppress(ValueError):
            return int(address.rsplit(":", 1)[1])
    return None


def _terminate(pid: int, *, timeout: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _reap(pid)


def _reap(pid: int) -> None:
    """Collect the exit status when the registry is our own child (tests start it in-process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
