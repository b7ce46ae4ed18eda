"""Where a pushed version came from: who pushed it, and the git commit of its folder (with
whether the folder had changes not committed), recorded with the version and shown by
``coops component show`` and the API."""

from __future__ import annotations

import getpass
import socket
import subprocess
from pathlib import Path


def local_pusher() -> str:
    """``user@host`` of a push made on this machine."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def source_of(folder: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout ``folder`` is in; (None, None) when it is in none
    (or git is not installed). Dirty: the folder has changes or files not committed."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None, None
    changes = git("status", "--porcelain", "--", ".")
    return commit.strip(), bool(changes and changes.strip())
