"""The server's log retention (``coops server --log-retention 30d``): every hour, the
lines of runs that ended longer ago than that are removed (``store.loggc``), in a thread
so that the event loop, and the runs it drives, never wait for it."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from containerops.store import Store
from containerops.store.loggc import remove_old_logs
from containerops.timestamps import utcnow

log = logging.getLogger(__name__)

#: Seconds between two removals (the first comes this long after the server starts, too).
EVERY = 3600.0


async def keep_logs(store: Store, retention: float, every: float = EVERY) -> None:
    """Remove old logs every ``every`` seconds until cancelled; a failure is logged and
    tried again next time."""
    while True:
        await asyncio.sleep(every)
        cutoff = utcnow() - timedelta(seconds=retention)
        try:
            done = await asyncio.to_thread(remove_old_logs, store, cutoff)
        except Exception:  # the store unreachable for a while: the next round tries again
            log.exception("removing logs older than %s failed", cutoff.isoformat())
            continue
        if done.blocks:
            log.info(
                "log retention: removed %d lines of %d runs (%d -> %d bytes)",
                done.lines,
                done.runs,
                done.bytes_before,
                done.bytes_after,
            )
