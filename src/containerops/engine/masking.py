"""Masking of secret values in everything a job prints.

A secret (a component input declared ``secret: true``, a namespace secret) must
never reach the store or a terminal in clear, even when a job prints it. The
engine passes every log line through one :class:`Masker` before recording it or
reading outputs from it, so stored logs, streamed logs and outputs all see
``***`` in its place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"

# Shorter values would mask common words and digits and hide the rest of the log;
# CI systems (GitHub Actions, GitLab) skip them for the same reason.
MIN_SECRET_LENGTH = 3


class Masker:
    """Replaces every known secret value in a text by ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Mask these values from now on (also each line of a multi-line value)."""
        for secret in secrets:
            for part in (secret, *secret.splitlines()):
                if len(part.strip()) >= MIN_SECRET_LENGTH:
                    self._secrets.add(part)
        if self._secrets:
            # Longest first, so that a secret containing another is masked whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mask(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)
