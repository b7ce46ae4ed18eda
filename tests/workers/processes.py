"""``coops worker`` processes for the fault tests: started, killed with -9, started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from containerops.store import Store
from containerops.store import workers as queue


class WorkerProcess:
    """One named worker (local executor unless said); ``kill`` is a kill -9, ``start`` (again) a restart."""

    def __init__(
        self, name: str, url: str, logs: Path, *, slots: int = 2, lease: float = 2.0, executor: str = "local"
    ) -> None:
        self.name, self.url, self.logs, self.slots, self.lease = name, url, logs, slots, lease
        self.executor = executor
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        env = os.environ | {"COOPS_DATABASE_URL": self.url, "COOPS_LEASE_SECONDS": str(self.lease)}
        command = [sys.executable, "-m", "containerops.cli.main", "worker", "--executor", self.executor]
        command += ["--name", self.name, "--slots", str(self.slots)]
        with open(self.logs / f"{self.name}-{self.starts}.log", "wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_registered(self, store: Store, timeout: float = 30.0) -> None:
        """Until this process has said it lives (its start is after its previous one's)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log_text()
            for row in queue.list_workers(store):
                if row.name == self.name and row.live and row.heartbeat_at is not None:
                    return
            time.sleep(0.1)
        raise AssertionError(f"worker {self.name} did not start: {self.log_text()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        return "\n".join(
            path.read_text(errors="replace") for path in sorted(self.logs.glob(f"{self.name}-*.log"))
        )


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie no one reaped has)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
