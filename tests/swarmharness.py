"""A real multi-node Docker Swarm on this one machine, for the swarm executor's tests.

The machine's own Docker Engine is the manager (``docker swarm init``, advertised on a
bridge of ours, drained so that jobs land on the workers only); two more ``dockerd``
run as workers, each in its own network namespace (``ip netns``, a veth pair to the
bridge) with its own ``--data-root``, ``--exec-root``, ``--pidfile`` and socket, and
its own cgroup parent. ``ip netns exec`` mounts a fresh ``/sys``, hiding the cgroup
hierarchies, so each worker's shell mounts them again (as the host has them) before
it becomes ``dockerd``: else it fails with "Devices cgroup isn't mounted".

Images reach the workers through a registry of the harness's own on 127.0.0.1 (as
every registry of the suite): ``socat`` makes it answer on the bridge address, and in
each namespace on that namespace's own 127.0.0.1:PORT, so one image name
(``127.0.0.1:PORT/...``) pulls the same on every node, and Docker trusts it without TLS
(127.0.0.0/8). Traffic stays on the namespaces' addresses and loopbacks.

Everything is torn down afterwards: the workers leave and stop, the manager leaves the
swarm (the harness refuses to start when the Engine is already in one, so it never
takes a swarm it did not make), the namespaces, veths, bridge, forwarders and the
firewall rule go. What a killed session left (same names) is cleared before a start.
One harness runs on the machine at a time (a lock file): another test session's waits.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import docker

#: Our names and addresses: short (interface names have 15 characters), unlikely elsewhere.
BRIDGE = "coopssw0"
SUBNET = "10.213.77"
MANAGER_ADDRESS = f"{SUBNET}.1"
STATE = Path("/run/coopssw")
#: The bridge ``swarm init`` gives the manager's Engine (left behind by ``swarm leave``).
GWBRIDGE = "docker_gwbridge"
#: The firewall lets bridged traffic through FORWARD only when told (br_netfilter is on and
#: Docker's FORWARD policy is DROP): nodes talk to each other (gossip, overlay) on our bridge.
FORWARD_RULE = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]
#: Held while a harness runs (see :func:`_take_lock`), and how long another waits for it.
LOCK = Path("/run/coopssw.lock")
LOCK_WAIT_SECONDS = 900.0
#: How long a worker's dockerd may take to answer, and a node to be seen ready.
START_SECONDS = 60.0


class HarnessUnavailable(Exception):
    """The machine cannot host the harness (not root, no ip/dockerd, an old Engine...)."""


def sh(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=timeout)


@dataclass
class Worker:
    """One extra Docker Engine in its network namespace."""

    name: str  # n1, n2: also its node label coops.node
    address: str
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    node_id: str = ""
    forwarder: subprocess.Popen[bytes] | None = None

    @property
    def netns(self) -> str:
        return f"coopssw-{self.name}"

    @property
    def veth(self) -> str:
        return f"coopssw-{self.name}h"

    @property
    def socket(self) -> str:
        return f"unix://{self.folder}/docker.sock"

    @property
    def pidfile(self) -> Path:
        return self.folder / "docker.pid"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.socket, timeout=30)


@dataclass
class Swarm:
    """A running harness: the manager's client and the workers (see the module doc)."""

    registry: str  # 127.0.0.1:PORT, the same name on every node
    workers: list[Worker]
    manager_id: str = ""
    forwarder: subprocess.Popen[bytes] | None = None
    _made_swarm: bool = False
    _made_gwbridge: bool = False
    _lock: IO[bytes] | None = None
    _rule_added: bool = False
    _client: docker.DockerClient = field(default_factory=lambda: docker.from_env(timeout=60))

    @property
    def client(self) -> docker.DockerClient:
        return self._client

    def worker(self, name: str) -> Worker:
        return next(w for w in self.workers if w.name == name)

    def node_name(self, node_id: str) -> str:
        """``manager``, ``n1``, ``n2``: who a task's NodeID is."""
        if node_id == self.manager_id:
            return "manager"
        return next((w.name for w in self.workers if w.node_id == node_id), node_id)

    # --- start ------------------------------------------------------------------------

    def start(self) -> None:
        _check_machine()
        self._lock = _take_lock()
        info = self.client.info()
        if (info.get("Swarm") or {}).get("LocalNodeState") != "inactive":
            raise HarnessUnavailable(
                "the machine's Docker Engine is already in a swarm: the harness only uses a swarm it makes"
            )
        clear_leftovers(self.workers)
        self._made_gwbridge = not self.client.api.networks(names=[GWBRIDGE])
        STATE.mkdir(parents=True, exist_ok=True)
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        sh("ip", "addr", "add", f"{MANAGER_ADDRESS}/24", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")
        sh("iptables", "-I", *FORWARD_RULE)
        self._rule_added = True
        _host, port = self.registry.split(":")
        self.forwarder = _forward(f"{MANAGER_ADDRESS}:{port}", self.registry)
        for worker in self.workers:
            self._network(worker, port)
        for worker in self.workers:
            self._start_dockerd(worker)
        self.client.swarm.init(
            advertise_addr=MANAGER_ADDRESS,
            listen_addr=f"{MANAGER_ADDRESS}:2377",
            dispatcher_heartbeat_period=1_000_000_000,
        )
        self._made_swarm = True
        self.manager_id = self.client.info()["Swarm"]["NodeID"]
        token = self.client.swarm.attrs["JoinTokens"]["Worker"]
        for worker in self.workers:
            client = worker.client()
            client.swarm.join(
                remote_addrs=[f"{MANAGER_ADDRESS}:2377"],
                join_token=token,
                advertise_addr=worker.address,
                listen_addr=f"{worker.address}:2377",
            )
            worker.node_id = client.info()["Swarm"]["NodeID"]
            client.close()
        self.set_availability(self.manager_id, "drain", {"coops.node": "manager"})
        for worker in self.workers:
            self.set_availability(worker.node_id, "active", {"coops.node": worker.name})
        _until(lambda: all(self.node_state(w.node_id) == "ready" for w in self.workers), "workers ready")

    def _network(self, worker: Worker, port: str) -> None:
        worker.folder.mkdir(parents=True, exist_ok=True)
        sh("ip", "netns", "add", worker.netns)
        sh("ip", "link", "add", worker.veth, "type", "veth", "peer", "name", "eth0", "netns", worker.netns)
        sh("ip", "link", "set", worker.veth, "master", BRIDGE, "up")
        inside = ("ip", "netns", "exec", worker.netns)
        sh(*inside, "ip", "addr", "add", f"{worker.address}/24", "dev", "eth0")
        sh(*inside, "ip", "link", "set", "eth0", "up")
        sh(*inside, "ip", "link", "set", "lo", "up")
        sh(*inside, "ip", "route", "add", "default", "via", MANAGER_ADDRESS)
        worker.forwarder = _forward(f"127.0.0.1:{port}", f"{MANAGER_ADDRESS}:{port}", netns=worker.netns)

    def _start_dockerd(self, worker: Worker) -> None:
        config = worker.folder / "daemon.json"
        config.write_text(json.dumps({"log-driver": "json-file"}))
        dockerd = [
            "dockerd",
            f"--config-file={config}",
            f"--data-root={worker.folder}/data",
            f"--exec-root={worker.folder}/exec",
            f"--pidfile={worker.pidfile}",
            f"--host={worker.socket}",
            f"--cgroup-parent=coopssw-{worker.name}",
        ]
        script = f"{cgroup_mounts()} && exec {' '.join(dockerd)}"
        log = (worker.folder / "dockerd.log").open("ab")
        worker.process = subprocess.Popen(
            ["ip", "netns", "exec", worker.netns, "sh", "-c", script],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def answers() -> bool:
            assert worker.process is not None
            if worker.process.poll() is not None:
                tail = (worker.folder / "dockerd.log").read_text()[-2000:]
                raise HarnessUnavailable(f"dockerd of {worker.name} exited:\n{tail}")
            try:
                client = worker.client()
                client.ping()
                client.close()
                return True
            except Exception:
                return False

        _until(answers, f"dockerd of {worker.name}")

    # --- what tests do --------------------------------------------------------------------

    def node_state(self, node_id: str) -> str:
        return str(self.client.api.inspect_node(node_id)["Status"]["State"])

    def set_availability(self, node_id: str, availability: str, labels: dict[str, str] | None = None) -> None:
        node = self.client.api.inspect_node(node_id)
        spec = dict(node["Spec"])
        spec["Availability"] = availability
        if labels is not None:
            spec["Labels"] = {**(spec.get("Labels") or {}), **labels}
        self.client.api.update_node(node_id, node["Version"]["Index"], spec)

    def stop_worker(self, worker: Worker) -> None:
        """Kill the worker's dockerd, containerd, shims and containers, as a machine that dies
        (a container left running would hold the restarted dockerd up for its stop timeout)."""
        _kill_group(worker.process)
        worker.process = None
        _kill_node_processes(worker)

    def restart_worker(self, worker: Worker) -> None:
        """Start a stopped worker's dockerd again; it rejoins the swarm by itself."""
        if worker.process is None:
            worker.pidfile.unlink(missing_ok=True)  # a killed dockerd leaves it
            self._start_dockerd(worker)
            _until(lambda: self.node_state(worker.node_id) == "ready", f"{worker.name} ready again")

    def containers_everywhere(self, label: str) -> dict[str, list[str]]:
        """Node name -> names of the containers labelled ``label`` on it (all three Engines)."""
        found = {"manager": _names(self.client, label)}
        for worker in self.workers:
            if worker.process is None:
                continue
            client = worker.client()
            try:
                found[worker.name] = _names(client, label)
            finally:
                client.close()
        return found

    # --- stop -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Leave nothing: see the module doc. Each part is tried even when another fails."""
        for worker in self.workers:
            if worker.process is not None:
                with contextlib.suppress(Exception):
                    client = worker.client()
                    client.swarm.leave(force=True)
                    client.close()
            _kill_group(worker.process)
            worker.process = None
        if self._made_swarm:
            with contextlib.suppress(Exception):
                self.client.swarm.leave(force=True)
            self._made_swarm = False
        if self._made_gwbridge:  # made by `swarm init`; removed once nothing uses it
            with contextlib.suppress(Exception):
                self.client.api.remove_network(GWBRIDGE)
            self._made_gwbridge = False
        for worker in self.workers:
            _kill_group(worker.forwarder)
        _kill_group(self.forwarder)
        if self._rule_added:
            sh("iptables", "-D", *FORWARD_RULE, check=False)
            self._rule_added = False
        clear_leftovers(self.workers)
        self.client.close()
        if self._lock is not None:  # the next test session's harness may start
            self._lock.close()
            self._lock = None


def make_swarm(registry: str, workers: int = 2) -> Swarm:
    names = [f"n{i + 1}" for i in range(workers)]
    return Swarm(
        registry=registry,
        workers=[Worker(name, f"{SUBNET}.{11 + i}", STATE / name) for i, name in enumerate(names)],
    )


def clear_leftovers(workers: list[Worker]) -> None:
    """Remove what a harness of the same names left: its processes, namespaces, links."""
    for worker in workers:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(worker.pidfile.read_text().strip()), signal.SIGKILL)
        _kill_in_netns(worker.netns)
        sh("ip", "netns", "delete", worker.netns, check=False)
        sh("ip", "link", "delete", worker.veth, check=False)
        if worker.folder.exists():
            _unmount_under(worker.folder)
            shutil.rmtree(worker.folder, ignore_errors=True)
    sh("ip", "link", "delete", BRIDGE, check=False)


def cgroup_mounts() -> str:
    """Shell commands that mount the host's cgroup hierarchies again under a fresh /sys
    (``ip netns exec`` hides them), exactly as ``/proc/self/mounts`` lists them."""
    commands: list[str] = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _source, target, kind, options = line.split()[:4]
        if not target.startswith("/sys/fs/cgroup"):
            continue
        if kind == "tmpfs" and target == "/sys/fs/cgroup":
            commands.append("mount -t tmpfs -o mode=755 cgroup_root /sys/fs/cgroup")
        elif kind == "cgroup":
            wanted = [
                o
                for o in options.split(",")
                if o not in ("rw", "ro", "relatime", "nosuid", "nodev", "noexec")
            ]
            commands.append(f"mkdir -p {target} && mount -t cgroup -o {','.join(wanted)} cgroup {target}")
        elif kind == "cgroup2":
            commands.append(f"mkdir -p {target} && mount -t cgroup2 none {target}")
    return " && ".join(commands) or "true"


def _take_lock() -> IO[bytes]:
    """Hold :data:`LOCK` (one harness on the machine at a time: test sessions of several
    checkouts may run at once), waiting up to :data:`LOCK_WAIT_SECONDS` for another's."""
    handle = LOCK.open("ab")
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                raise HarnessUnavailable(
                    f"another test session has held the swarm harness ({LOCK}) for {LOCK_WAIT_SECONDS:.0f} s"
                ) from None
            time.sleep(1)


def _check_machine() -> None:
    if os.geteuid() != 0:
        raise HarnessUnavailable("the swarm harness needs root (network namespaces, dockerd)")
    for tool in ("ip", "dockerd", "socat", "iptables"):
        if shutil.which(tool) is None:
            raise HarnessUnavailable(f"the swarm harness needs {tool} (scripts/setup.sh installs it)")
    version = docker.from_env().version().get("Version", "0")
    major, minor = (int(part) for part in version.split(".")[:2])
    if (major, minor) < (20, 10):
        raise HarnessUnavailable(f"Docker {version} has no replicated-job services (20.10 and later)")


def _forward(listen: str, to: str, *, netns: str | None = None) -> subprocess.Popen[bytes]:
    host, port = listen.split(":")
    command = ["socat", f"TCP-LISTEN:{port},bind={host},fork,reuseaddr", f"TCP:{to}"]
    if netns is not None:
        command = ["ip", "netns", "exec", netns, *command]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.1)
    if process.poll() is not None:
        raise HarnessUnavailable(f"cannot forward {listen} to {to}")
    return process


def _kill_group(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


def _kill_node_processes(worker: Worker) -> None:
    """Kill the containers of ``worker`` (its cgroups) and their containerd shims (in its netns)."""
    pids: set[int] = set()
    groups = [
        *Path("/sys/fs/cgroup").glob(f"*/coopssw-{worker.name}"),
        Path(f"/sys/fs/cgroup/coopssw-{worker.name}"),
    ]
    for group in groups:
        for procs in group.rglob("cgroup.procs") if group.is_dir() else ():
            with contextlib.suppress(OSError):
                pids.update(int(pid) for pid in procs.read_text().split())
    for pid in sh("ip", "netns", "pids", worker.netns, check=False).stdout.split():
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().startswith("containerd-shim"):
                pids.add(int(pid))
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _kill_in_netns(netns: str) -> None:
    """Kill what still runs in ``netns`` (containerd shims of a killed dockerd, forwarders)."""
    listed = sh("ip", "netns", "pids", netns, check=False).stdout.split()
    for pid in listed:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def _unmount_under(folder: Path) -> None:
    prefix = str(folder.resolve())
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        sh("umount", "-l", target, check=False)


def _names(client: docker.DockerClient, label: str) -> list[str]:
    found = client.api.containers(all=True, filters={"label": label})
    return sorted((c.get("Names") or ["?"])[0].lstrip("/") for c in found)


def _until(condition: object, what: str, seconds: float = START_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    assert callable(condition)
    while not condition():
        if time.monotonic() > deadline:
            raise HarnessUnavailable(f"timed out waiting for {what}")
        time.sleep(0.2)
