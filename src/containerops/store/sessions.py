"""Web UI sessions: an API token exchanged once for a cookie.

The browser never keeps the token: it sends it to ``POST /api/v1/session``, which
opens a session here and answers with an HttpOnly cookie holding the session's secret
(32 random bytes). As for tokens, only the SHA-256 of that secret is stored, so the
database gives no usable cookie away. A session acts exactly as the token it was opened
with (same user, same scope), for at most its lifetime: revoking or expiring the token
ends its sessions too, and signing out ends one.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.accounts import TOKEN_QUERY, Identity, TokenRefused, authenticate, identity_of
from containerops.store.store import Store
from containerops.store.values import aware, utcnow

#: How long a session lasts unless its owner signs out or its token ends first.
LIFETIME = timedelta(hours=12)
#: Sessions that ended (signed out or expired) longer ago than this are deleted when another
#: one opens, so the table holds about a day of them, not every sign-in ever made.
KEPT_AFTER_END = timedelta(days=1)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open_session(store: Store, token: str, *, lifetime: timedelta = LIFETIME) -> tuple[str, Identity]:
    """A new session for a valid token: its secret (for the cookie, not kept) and who it is.

    :class:`TokenRefused` for a token that does not authenticate; nothing is stored then.
    """
    identity = authenticate(store, token)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    with store.database.begin() as conn:
        old = now - KEPT_AFTER_END
        conn.execute(
            t.ui_sessions.delete().where(
                sa.or_(t.ui_sessions.c.expires_at < old, t.ui_sessions.c.ended_at < old)
            )
        )
        token_id = conn.execute(
            sa.select(t.api_tokens.c.id).where(t.api_tokens.c.key == identity.token_key)
        ).scalar_one()
        conn.execute(
            t.ui_sessions.insert().values(
                token_id=token_id,
                secret_hash=_hash(secret),
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return secret, identity


def session_identity(store: Store, secret: str, *, now: datetime | None = None) -> Identity:
    """Who a session's secret speaks for; :class:`TokenRefused` if it is unknown or ended,
    or its token was revoked or has expired. One query, as for a token."""
    now = now or utcnow()
    query = TOKEN_QUERY.add_columns(
        t.ui_sessions.c.expires_at.label("session_expires"), t.ui_sessions.c.ended_at
    )
    query = query.join(t.ui_sessions, t.ui_sessions.c.token_id == t.api_tokens.c.id).where(
        t.ui_sessions.c.secret_hash == _hash(secret)
    )
    with store.autocommit.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        raise TokenRefused("unknown session")
    row = rows[0]
    if row.ended_at is not None:
        raise TokenRefused("this session was signed out")
    if aware(row.session_expires) <= now:  # type: ignore[operator]
        raise TokenRefused("this session has expired")
    return identity_of(rows, now=now)


def end_session(store: Store, secret: str) -> bool:
    """Sign a session out; whether it was open."""
    with store.database.begin() as conn:
        ended = conn.execute(
            t.ui_sessions.update()
            .where(t.ui_sessions.c.secret_hash == _hash(secret), t.ui_sessions.c.ended_at.is_(None))
            .values(ended_at=utcnow())
        )
        return bool(ended.rowcount)
