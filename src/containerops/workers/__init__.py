"""Jobs run by ``coops worker`` processes: the engine's side (``QueueExecutor``: an attempt
put up in the database and followed there) and the worker's (``Worker``: claim, run on a
real executor, stream back, under a lease with a fence)."""

from containerops.workers.queue import QueueExecutor
from containerops.workers.worker import Worker

__all__ = ["QueueExecutor", "Worker"]
