"""Checking who sent a webhook: GitHub's HMAC signature, or a shared token.

Every comparison is constant-time (``hmac.compare_digest``), so that how long a
refusal takes says nothing about how much of a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac

GITHUB_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of ``body`` with ``secret``, as GitHub sends it
    (and as our webhook receiver signs what it sends)."""
    return GITHUB_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` (``X-Hub-Signature-256``) is the signature of ``body`` with ``secret``."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def token_ok(expected: str, given: str | None) -> bool:
    """Whether ``given`` (``X-Gitlab-Token``, ``X-ContainerOps-Token``) is the shared token."""
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
