"""Where scripts run: a small pool of long-lived worker processes that can be killed.

A script that runs past its time limit (stuck in C work no Lua hook reaches: a
pattern, ``string.rep``, an ``xpcall`` handler) must stop using the CPU. A
thread cannot be stopped; a process can. So every script goes to a worker
(``containerops.lua.worker``) over a pipe, and the caller waits at most the time
limit for its answer: past it, the worker is killed (``SIGKILL``) and reaped, the
script fails with a reason saying so, and the next script gets a fresh worker.

Workers start on first use and are kept (a script then costs a pipe round trip,
not an interpreter's start-up; ``bench/lua_scripts.py``), at most ``size`` of
them; more scripts at once wait for one. They are spawned by one long-lived
thread, because the kernel's parent-death signal follows the thread that forked.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from containerops.lua import sandbox
from containerops.lua.sandbox import Outcome, ScriptError

_READ_SIZE = 1 << 16


class _TimedOut(Exception):
    pass


class _Gone(Exception):
    pass


class _Worker:
    """One worker process and its pipes."""

    def __init__(self) -> None:
        command = [sys.executable, "-P", "-m", "containerops.lua.worker", str(os.getpid())]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests = self.process.stdin.fileno()
        self.replies = self.process.stdout.fileno()
        self.pid = self.process.pid

    def ask(self, request: bytes, seconds: float) -> dict[str, Any]:
        """Send one request and wait at most ``seconds`` for its reply."""
        deadline = time.monotonic() + seconds
        view = memoryview(request)
        try:
            while view:
                view = view[os.write(self.requests, view) :]
        except OSError as error:  # BrokenPipeError: the worker is gone
            raise _Gone(self.ending()) from error
        poller = select.poll()
        poller.register(self.replies, select.POLLIN)
        reply = bytearray()
        while not reply.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poller.poll(max(1, int(remaining * 1000))):
                if time.monotonic() >= deadline:
                    raise _TimedOut
                continue
            chunk = os.read(self.replies, _READ_SIZE)
            if not chunk:
                raise _Gone(self.ending())
            reply += chunk
        answer: dict[str, Any] = json.loads(reply)
        return answer

    def alive(self) -> bool:
        return self.process.poll() is None

    def ending(self) -> str:
        """How the worker ended, in words (after its pipe closed)."""
        try:
            code = self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return "its pipe closed"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    def stop(self) -> None:
        """SIGKILL it without waiting (whoever runs its script reaps it)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    def kill(self) -> None:
        """SIGKILL and reap it: nothing of the script goes on running."""
        self.stop()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


class _Ticket:
    """A caller's hold on the worker running its script, so that cancelling the caller kills it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.worker: _Worker | None = None
        self.cancelled = False

    def attach(self, worker: _Worker) -> bool:
        with self.lock:
            self.worker = worker
            return not self.cancelled

    def detach(self) -> None:
        with self.lock:
            self.worker = None

    def cancel(self) -> None:
        with self.lock:
            self.cancelled = True
            if self.worker is not None:  # its caller's thread sees the pipe close and reaps it
                self.worker.stop()


class Pool:
    """At most ``size`` worker processes, started on first use and replaced when killed."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: dict[int, _Worker] = {}
        self._slots = threading.Semaphore(size)
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="lua-spawner")
        self._callers = ThreadPoolExecutor(size, thread_name_prefix="lua-caller")

    def busy(self) -> list[int]:
        """Process ids of the workers running a script now."""
        with self._lock:
            return list(self._busy)

    def workers(self) -> list[int]:
        """Process ids of every worker, idle or busy."""
        with self._lock:
            return [w.pid for w in self._idle] + list(self._busy)

    async def run(self, code: str, name: str, values: Mapping[str, Any], **options: Any) -> Outcome:
        """``run_sync`` (same arguments) without blocking the event loop; cancelling the caller
        kills the worker."""
        ticket = _Ticket()
        call = functools.partial(self.run_sync, code, name, values, ticket=ticket, **options)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._callers, call)
        except asyncio.CancelledError:
            ticket.cancel()
            raise

    def run_sync(
        self,
        code: str,
        name: str,
        values: Mapping[str, Any],
        *,
        seconds: float,
        read_back: tuple[str, ...] = (),
        limits: Mapping[str, float] | None = None,
        ticket: _Ticket | None = None,
    ) -> Outcome:
        """Run ``code`` in a worker as ``sandbox.run`` would; at most ``seconds`` of it.

        ``limits`` (``sandbox.run``'s keywords) default to the sandbox's limits as
        they are at the call. Raises ``ScriptError`` with the script's own reason,
        or saying that it ran past its time limit (its worker is then killed and reaped).
        """
        if limits is None:
            limits = {
                "max_instructions": sandbox.MAX_INSTRUCTIONS,
                "max_memory": sandbox.MAX_MEMORY,
                "max_pattern_cost": sandbox.MAX_PATTERN_COST,
            }
        request = {
            "code": code,
            "name": name,
            "values": values,
            "read_back": list(read_back),
            "seconds": seconds,
            "limits": dict(limits),
        }
        data = json.dumps(request, default=str).encode() + b"\n"
        ticket = ticket or _Ticket()
        with self._slots:
            reply = self._ask(data, name, seconds, ticket, retry=True)
        if "error" in reply:
            raise ScriptError(str(reply["error"]))
        found = reply["outcome"]
        return Outcome(
            unwire(found["value"]),
            {key: unwire(value) for key, value in found["tables"]},
            found["action"],
            found["reason"],
            list(found["printed"]),
        )

    def _ask(self, data: bytes, name: str, seconds: float, ticket: _Ticket, *, retry: bool) -> dict[str, Any]:
        worker = self._take(name)
        if not ticket.attach(worker):
            self._give_back(worker)
            raise ScriptError(f"{name} script was cancelled")
        try:
            reply = worker.ask(data, seconds)
        except _TimedOut:
            self._drop(worker)
            raise ScriptError(f"{name} script ran past its time limit of {seconds:g} s") from None
        except _Gone as gone:
            self._drop(worker)
            if ticket.cancelled:
                raise ScriptError(f"{name} script was cancelled") from None
            if retry:  # an idle worker that died (killed from outside): the script had not started
                ticket.detach()
                return self._ask(data, name, seconds, ticket, retry=False)
            raise ScriptError(f"{name} script's Lua worker stopped ({gone})") from None
        except BaseException:
            self._drop(worker)
            raise
        finally:
            ticket.detach()
        self._give_back(worker)
        return reply

    def _take(self, name: str) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    self._busy[worker.pid] = worker
                    return worker
                worker.kill()
        try:
            worker = self._spawner.submit(_Worker).result()
        except OSError as error:
            raise ScriptError(f"{name} script: could not start a Lua worker: {error}") from None
        with self._lock:
            self._busy[worker.pid] = worker
        return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.pop(worker.pid, None)
            self._idle.append(worker)

    def _drop(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._busy.pop(worker.pid, None)

    def close(self) -> None:
        """Kill every worker (busy ones too) and stop the pool's threads."""
        with self._lock:
            workers = self._idle + list(self._busy.values())
            self._idle.clear()
        for worker in workers:
            worker.kill()
        self._callers.shutdown(wait=False, cancel_futures=True)
        self._spawner.shutdown(wait=False)


def unwire(value: Any) -> Any:
    """A worker's value back as Python data: lists of ``[key, value]`` pairs are tables (dicts)."""
    if isinstance(value, list):
        return {key: unwire(item) for key, item in value}
    return value


_default: Pool | None = None
_default_lock = threading.Lock()


def default_pool() -> Pool:
    """This process's pool (``max(2, min(4, CPUs))`` workers), made on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Pool(max(2, min(4, os.cpu_count() or 2)))
        return _default


def _forget_after_fork() -> None:
    """A forked child starts its own pool: the parent's workers and threads are not its own."""
    global _default, _default_lock
    _default, _default_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
