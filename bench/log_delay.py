#!/usr/bin/env python3
"""Tail delay: how long after a job prints a line a reader sees it, at a steady 10,000
lines/s, in ``coops logs -f`` and in the server's Server-Sent Events.

The job (a Python program: ``python3`` for the local executor, ``containerops/base:python``
for docker; the same clock, the same kernel) prints ``--seconds`` (10; ``--quick`` 3) of
lines at ``--rate`` lines/s (10,000), in 100 slices a second, each line carrying the time
it was printed (``t <unix time> <n>``). A reader notes when each line reaches it; a line's
delay is that time minus its printed time.

- ``<executor>.cli_p99_ms``: ``coops run`` as a process, a ``coops logs RUN -f`` process
  reading its output through a pipe. Target < 250 ms.
- ``<executor>.sse_p99_ms``: ``coops server`` as a process running the flow, the reader
  streaming ``/api/v1/runs/{id}/logs/stream``. Target < 250 ms.

``p50`` and ``max`` are reported beside each. Checked: every line arrived once, in order.

    .venv/bin/python bench/log_delay.py --quick --executors local
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _benchlib import BenchError, Results, add_standard_args, run_in_home

from containerops.store import Store
from containerops.store.accounts import create_token, create_user

COOPS = Path(sys.executable).with_name("coops")
IMAGE = "containerops/base:python"
TARGET_P99_MS = 250.0
EXECUTORS = ("local", "docker")

JOB = r"""
import sys, time
seconds, rate = float(sys.argv[1]), float(sys.argv[2])
per_slice = max(1, int(rate / 100))
time.sleep(2)  # the reader attaches meanwhile: its own start-up is not a line's delay
begun = time.monotonic()
n = 0
while n < seconds * rate:
    now = time.time()
    sys.stdout.write("".join(f"t {now:.6f} {n + i}\n" for i in range(per_slice)))
    sys.stdout.flush()
    n += per_slice
    wait = begun + n / rate - time.monotonic()
    if wait > 0:
        time.sleep(wait)
"""


def flow_doc(uri: str, executor: str, seconds: float, rate: float) -> dict[str, object]:
    job: dict[str, object] = {"name": "job", "command": ["python3", "-c", JOB, str(seconds), str(rate)]}
    if executor == "docker":
        job["endpoint"] = IMAGE
    return {
        "uri": uri,
        "stages": [
            {"type": "start", "name": "start"},
            {"type": "normal", "name": "logs", "actions": [{"name": "steady", "jobs": [job]}]},
            {"type": "end", "name": "end"},
        ],
    }


class Delays:
    """Each line's delay (seconds), checked for order and completeness."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.next = 0

    def seen(self, text: str, now: float) -> None:
        parts = text.split()
        if len(parts) < 3 or parts[-3] != "t":
            return
        printed, number = float(parts[-2]), int(parts[-1])
        if number != self.next:
            raise BenchError(f"line {number} arrived where line {self.next} was due")
        self.next += 1
        self.values.append(now - printed)

    def figures(self, expected: int) -> dict[str, float]:
        if self.next != expected:
            raise BenchError(f"{self.next} lines arrived of {expected}")
        ordered = sorted(self.values)
        return {
            "p50": ordered[len(ordered) // 2] * 1000,
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "max": ordered[-1] * 1000,
        }


def cli_delays(home: Path, executor: str, seconds: float, rate: float) -> dict[str, float]:
    env = {**os.environ, "COOPS_HOME": str(home)}
    env.pop("COOPS_DATABASE_URL", None)
    uri = f"bench/delay/{executor}"
    path = home / f"{executor}.json"
    path.write_text(json.dumps(flow_doc(uri, executor, seconds, rate)))
    command = [str(COOPS), "run", str(path), "--executor", executor]
    if executor == "docker":
        command += ["--network", "host"]
    runner = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        store = Store.open()
        deadline = time.monotonic() + 60
        while not store.list_runs(limit=1, uri=uri):
            if time.monotonic() > deadline or runner.poll() is not None:
                raise BenchError(f"coops run did not create its run of {uri}")
            time.sleep(0.005)
        store.close()
        follower = subprocess.Popen(
            [str(COOPS), "logs", f"{uri}#1", "-f"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        delays = Delays()
        assert follower.stdout is not None
        pending = b""
        fd = follower.stdout.fileno()
        while block := os.read(fd, 1 << 16):
            now = time.time()
            pending += block
            *whole, pending = pending.split(b"\n")
            for line in whole:
                delays.seen(line.decode(), now)
        follower.wait(60)
        if runner.wait(120) != 0:
            raise BenchError(f"coops run exited {runner.returncode}")
    finally:
        if runner.poll() is None:
            runner.kill()
    return delays.figures(int(seconds * rate))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sse_delays(home: Path, executor: str, seconds: float, rate: float) -> dict[str, float]:
    env = {**os.environ, "COOPS_HOME": str(home)}
    env.pop("COOPS_DATABASE_URL", None)
    store = Store.open()
    create_user(store, f"bench-{executor}", admin=True)
    token = create_token(store, f"bench-{executor}", "admin")
    store.close()
    port = free_port()
    args = [str(COOPS), "server", "--executor", executor, "--port", str(port), "--log-level", "warning"]
    if executor == "docker":
        args += ["--network", "host"]
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise BenchError("coops server did not start")
            time.sleep(0.05)
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            doc = flow_doc(f"bench/sse/{executor}", executor, seconds, rate)
            if client.post("/api/v1/flows", content=json.dumps(doc)).status_code not in (200, 201):
                raise BenchError("the server refused the flow")
            started = client.post("/api/v1/runs", json={"flow": doc["uri"]})
            if started.status_code != 202:
                raise BenchError(f"the server refused the run: {started.text}")
            run_id = started.json()["id"]
            delays = Delays()
            with client.stream("GET", f"/api/v1/runs/{run_id}/logs/stream") as response:
                for line in response.iter_lines():
                    if line.startswith("data:") and '"line"' in line:
                        data = json.loads(line[5:])
                        if "line" in data:
                            delays.seen(data["line"], time.time())
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    return delays.figures(int(seconds * rate))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=None, help="how long the job prints (10; --quick 3)")
    parser.add_argument("--rate", type=float, default=10_000.0, help="lines per second (default 10,000)")
    parser.add_argument(
        "--executors", default=",".join(EXECUTORS), help="comma-separated (default: %(default)s)"
    )
    args = add_standard_args(parser).parse_args()
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    executors = [name.strip() for name in args.executors.split(",") if name.strip()]
    if seconds <= 0 or args.rate < 100 or any(name not in EXECUTORS for name in executors):
        print(f"error: --seconds > 0, --rate at least 100, executors among {EXECUTORS}", file=sys.stderr)
        return 2
    results = Results("log_delay")
    results.add("lines_per_second", args.rate, 0)
    results.add("lines", int(seconds * args.rate))

    def body(home: Path) -> None:
        for executor in executors:
            if executor == "docker":
                found = subprocess.run(
                    ["docker", "image", "inspect", IMAGE], capture_output=True, check=False
                )
                if found.returncode != 0:
                    results.fail(f"docker: image {IMAGE} missing (coops images build-base)")
                    continue
            for way, measure in (("cli", cli_delays), ("sse", sse_delays)):
                figures = measure(home, executor, seconds, args.rate)
                for name, value in figures.items():
                    results.add(f"{executor}.{way}_{name}_ms", value, 1)
                results.target(f"{executor}.{way}_p99_ms", "<", TARGET_P99_MS)

    return run_in_home(results, "coops-bench-delay-", body, args.json)


if __name__ == "__main__":
    sys.exit(main())
