"""``coops server --workers N``: the server starts N ``coops worker`` processes beside it
(one machine, one command) and stops them when it stops. Each is a process of its own:
one job's crash, or a kill -9 of one worker, touches no other and not the server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator

log = logging.getLogger("containerops.server.workers")

#: How long a worker has to give its jobs back before it is killed (seconds).
STOP_GRACE = 10.0


def worker_command(name: str, executor: str, slots: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "containerops.cli.main",
        "worker",
        "--executor",
        executor,
        "--slots",
        str(slots),
        "--name",
        name,
    ]


@contextlib.asynccontextmanager
async def local_workers(count: int, executor: str, database_url: str, slots: int) -> AsyncIterator[None]:
    """``count`` worker processes on the server's database while the block runs."""
    env = os.environ | {"COOPS_DATABASE_URL": database_url}
    prefix = f"{socket.gethostname()}-{os.getpid()}"
    processes = [
        await asyncio.create_subprocess_exec(
            *worker_command(f"{prefix}-{index + 1}", executor, slots), env=env
        )
        for index in range(count)
    ]
    log.info("started %d local worker(s): %s", count, ", ".join(str(p.pid) for p in processes))
    try:
        yield
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE)
            except TimeoutError:
                process.kill()
                await process.wait()
