"""Masking of secret values in everything a job prints.

A secret (a component input declared ``secret: true``, a namespace secret) must
never reach the store or a terminal in clear, even when a job prints it. The
engine passes every log line through one :class:`Masker` before recording it or
reading outputs from it, so stored logs, streamed logs and outputs all see
``***`` in its place.

A secret is masked in the forms a job or a tool commonly prints it in: as it is,
each of its lines, POSIX-quoted (as in ``CO_DATA``), JSON-escaped, URL-encoded
(path and form style) and base64 (standard and URL-safe, at any alignment inside
a longer base64 text). Exact matching cannot catch a value that was transformed
otherwise: reversed, split across lines or log writes, hashed, or encoded in a
way not listed here. Such a job is leaking on purpose; the mask is a safety net
against accidents, as in GitHub Actions and GitLab CI.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote, quote_plus

from containerops.contract.codata import quote_value

MASK = "***"

# Shorter values would mask common words and digits and hide the rest of the log;
# CI systems (GitHub Actions, GitLab) skip them for the same reason.
MIN_SECRET_LENGTH = 3
# A base64 fragment shorter than this says too little to be masked without hiding noise.
MIN_BASE64_FRAGMENT = 8


def secret_forms(secret: str) -> Iterator[str]:
    """The forms of one secret value that are masked: itself, and how it reads when encoded."""
    yield secret
    yield from secret.splitlines()
    yield quote_value(secret)
    yield json.dumps(secret)[1:-1]
    yield json.dumps(secret, ensure_ascii=False)[1:-1]
    yield quote(secret, safe="")
    yield quote_plus(secret)
    yield from _base64_forms(secret.encode())


def _base64_forms(data: bytes) -> Iterator[str]:
    """The characters of ``data``'s base64 that do not depend on its neighbours.

    Inside a longer base64 text the value may start at any of three alignments; for
    each, the characters that mix with the bytes before or after are left out, so
    the fragment matches wherever the value sits.
    """
    for offset in range(3):
        bits_before, bits_total = offset * 8, (offset + len(data)) * 8
        start, end = -(-bits_before // 6), bits_total // 6
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + data).decode()
            if end - start >= MIN_BASE64_FRAGMENT:
                yield text[start:end]
            if offset == 0:
                yield text  # the value encoded alone, padding included


class Masker:
    """Replaces every known secret value, in every form it is printed in, by ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Mask these values from now on, in each of their :func:`secret_forms`."""
        added = False
        for secret in secrets:
            if len(secret.strip()) < MIN_SECRET_LENGTH:
                continue
            for form in secret_forms(secret):
                if len(form.strip()) >= MIN_SECRET_LENGTH and form not in self._secrets:
                    self._secrets.add(form)
                    added = True
        if added:
            # Longest first, so that a secret containing another is masked whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mask(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)
