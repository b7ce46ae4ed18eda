"""A Lua worker process: runs scripts for its parent, one at a time, over JSON lines.

Started by ``containerops.lua.pool`` as ``python -m containerops.lua.worker PARENT_PID``.
Before reading any request it makes sure it cannot outlive its parent
(``PR_SET_PDEATHSIG``: the kernel kills it when the parent goes) and caps itself
(``setrlimit``: address space, no core files, no new processes). Each request
raises its CPU limit to what it has used plus the script's time limit, so a
worker its parent failed to stop is killed by the kernel (``SIGXCPU``).

Protocol: one JSON object a line on stdin, ``{"code", "name", "values",
"read_back", "seconds", "limits"}``; one JSON object a line on stdout, either
``{"outcome": {...}}`` or ``{"error": "reason"}``. Lua tables come back as lists
of ``[key, value]`` pairs (``wire``), so integer keys stay integers.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import resource
import signal
import sys
from typing import IO, Any

from containerops.lua import sandbox

#: Address space a worker may map: the interpreter, lupa, and a script's Lua memory many times over.
MAX_ADDRESS_SPACE = 1024 * 2**20
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when its parent exits; exit now if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent went before the signal was asked for
        os._exit(1)


def limit_resources() -> None:
    """Caps that hold whatever a script does: memory, no core dumps, no children."""
    resource.setrlimit(resource.RLIMIT_AS, (MAX_ADDRESS_SPACE, MAX_ADDRESS_SPACE))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(ValueError, OSError):  # not lowerable in some containers
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def limit_cpu(seconds: float) -> None:
    """Allow this request ``seconds`` of CPU (and a second more) past what the worker has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def wire(value: Any) -> Any:
    """A script's plain value as JSON: tables (dicts) become lists of ``[key, value]`` pairs."""
    if isinstance(value, dict):
        return [[key, wire(item)] for key, item in value.items()]
    return value


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Run one request's script; its outcome, or the reason it failed."""
    limit_cpu(float(request["seconds"]))
    limits = request.get("limits", {})
    try:
        outcome = sandbox.run(
            request["code"],
            request["name"],
            request["values"],
            read_back=tuple(request.get("read_back", ())),
            **limits,
        )
    except sandbox.ScriptError as error:
        return {"error": str(error)}
    return {
        "outcome": {
            "value": wire(outcome.value),
            "tables": wire(outcome.tables),
            "action": outcome.action,
            "reason": outcome.reason,
            "printed": outcome.printed,
        }
    }


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Answer requests until the parent closes the pipe.

    After each, the memory a script's Lua state freed goes back to the system
    (``malloc_trim``: microseconds, unless a script filled its memory), so an idle
    worker is small whatever the scripts before it did.
    """
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc's
    for line in requests:
        try:
            reply = handle(json.loads(line))
        except Exception as error:  # a broken request or a bug: the parent gets a reason, not silence
            reply = {"error": f"the Lua worker could not run the script: {type(error).__name__}: {error}"}
        replies.write(json.dumps(reply).encode() + b"\n")
        replies.flush()
        if trim is not None:
            trim(0)


def main(argv: list[str]) -> int:
    die_with_parent(int(argv[1]))
    limit_resources()
    # Replies go on a private copy of stdout; anything else writing to fd 1 lands on stderr.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve(sys.stdin.buffer, replies)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
