"""Web UI sessions against a real server: a token exchanged for an HttpOnly, SameSite=Strict
cookie that acts as the token; writes made with the cookie need the UI's header and this
server's origin (CSRF); bearer tokens work as before."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from tests.server.conftest import LiveServer
from tests.server.flows import flow_doc

from containerops.store import Store, accounts, sessions
from containerops.store import schema as t
from containerops.store.accounts import TokenRefused, create_token, create_user

UI = {"X-Coops-UI": "1"}


@contextmanager
def signed_in(server: LiveServer, token: str) -> Iterator[httpx.Client]:
    """A client holding the session cookie of ``token`` (and no Authorization header)."""
    with server.client() as client:
        answer = client.post("/api/v1/session", json={"token": token}, headers=UI)
        assert answer.status_code == 200, answer.text
        yield client


@pytest.fixture
def writer(store: Store) -> str:
    create_user(store, "alice")
    return create_token(store, "alice", "write", name="laptop")


def test_sign_in_sets_an_httponly_strict_cookie_kept_only_hashed(
    server: LiveServer, store: Store, writer: str
) -> None:
    with server.client() as client:
        answer = client.post("/api/v1/session", json={"token": writer}, headers=UI)
        assert answer.status_code == 200
        assert answer.json()["user"] == "alice" and answer.json()["scope"] == "write"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("coops_session=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        secret = client.cookies["coops_session"]
        assert client.get("/api/v1/whoami").json()["user"] == "alice"
        assert client.get("/api/v1/session").json()["user"] == "alice"
    with store.database.connect() as conn:
        stored = conn.execute(sa.select(t.ui_sessions.c.secret_hash)).scalars().all()
    assert stored == [hashlib.sha256(secret.encode()).hexdigest()]
    assert writer not in cookie and secret != writer


def test_a_refused_token_gets_401_and_no_session(server: LiveServer, store: Store, writer: str) -> None:
    with server.client() as client:
        for token in ("coops_000000000000_" + "x" * 43, "nonsense"):
            answer = client.post("/api/v1/session", json={"token": token}, headers=UI)
            assert answer.status_code == 401 and "token refused" in answer.json()["error"]
            assert "set-cookie" not in answer.headers
        assert client.get("/api/v1/session").json() == {"user": None}
        assert client.get("/api/v1/whoami").status_code == 401
    with store.database.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.ui_sessions)).scalar() == 0


def test_signing_in_needs_the_ui_header(server: LiveServer, writer: str) -> None:
    """Another site's page cannot sign a browser in with its own token (login CSRF)."""
    with server.client() as client:
        answer = client.post("/api/v1/session", json={"token": writer})
        assert answer.status_code == 403 and "X-Coops-UI" in answer.json()["error"]
        foreign = client.post(
            "/api/v1/session", json={"token": writer}, headers={**UI, "Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403 and "evil.example" in foreign.json()["error"]
        assert "set-cookie" not in answer.headers and "set-cookie" not in foreign.headers


def test_writes_with_the_cookie_need_the_header_and_this_origin(server: LiveServer, writer: str) -> None:
    flow = flow_doc("alice/web/ci")
    with signed_in(server, writer) as client:
        bare = client.post("/api/v1/flows", json=flow)
        assert bare.status_code == 403 and "X-Coops-UI" in bare.json()["error"]
        foreign = client.post("/api/v1/flows", json=flow, headers={**UI, "Origin": "http://evil.example"})
        assert foreign.status_code == 403
        assert client.get("/api/v1/flows").json()["flows"] == []  # neither changed anything
        own = client.post("/api/v1/flows", json=flow, headers={**UI, "Origin": server.url})
        assert own.status_code == 201, own.text
        assert client.post("/api/v1/runs", json={"flow": "alice/web/ci"}, headers=UI).status_code == 202


def test_bearer_tokens_need_no_header(server: LiveServer, writer: str) -> None:
    with server.client(writer) as client:
        answer = client.post(
            "/api/v1/flows", json=flow_doc("alice/web/ci"), headers={"Origin": "http://x.example"}
        )
        assert answer.status_code == 201


def test_a_session_acts_at_its_tokens_scope(server: LiveServer, store: Store, writer: str) -> None:
    reader = create_token(store, "alice", "read")
    with signed_in(server, reader) as client:
        answer = client.post("/api/v1/flows", json=flow_doc("alice/web/ci"), headers=UI)
        assert answer.status_code == 403 and "'write' is needed" in answer.json()["error"]


def test_signing_out_ends_the_session(server: LiveServer, writer: str) -> None:
    with signed_in(server, writer) as client:
        secret = client.cookies["coops_session"]
        out = client.delete("/api/v1/session", headers=UI)
        assert out.status_code == 204 and "Max-Age=0" in out.headers["set-cookie"]
    # The cookie itself, sent again (say, a copy of it), no longer works.
    with server.client() as client:
        client.cookies.set("coops_session", secret)
        refused = client.get("/api/v1/whoami")
        assert refused.status_code == 401 and "signed out" in refused.json()["error"]
        assert client.get("/api/v1/session").json() == {"user": None}


def test_revoking_the_token_ends_its_sessions(server: LiveServer, store: Store, writer: str) -> None:
    with signed_in(server, writer) as client:
        assert client.get("/api/v1/whoami").status_code == 200
        accounts.revoke_token(store, "laptop")
        refused = client.get("/api/v1/whoami")
        assert refused.status_code == 401 and "revoked" in refused.json()["error"]


def test_a_session_expires(store: Store, writer: str) -> None:
    secret, identity = sessions.open_session(store, writer, lifetime=timedelta(seconds=60))
    assert sessions.session_identity(store, secret).user == identity.user == "alice"
    later = sessions.utcnow() + timedelta(seconds=61)
    with pytest.raises(TokenRefused, match="expired"):
        sessions.session_identity(store, secret, now=later)
    with pytest.raises(TokenRefused, match="unknown session"):
        sessions.session_identity(store, secret + "x")
    assert sessions.end_session(store, secret) is True
    assert sessions.end_session(store, secret) is False


def test_sessions_ended_over_a_day_ago_are_deleted_when_one_opens(store: Store, writer: str) -> None:
    expired, _ = sessions.open_session(store, writer, lifetime=timedelta(seconds=1))
    signed_out, _ = sessions.open_session(store, writer)
    sessions.end_session(store, signed_out)
    recent, _ = sessions.open_session(store, writer)
    sessions.end_session(store, recent)
    day_ago = sessions.utcnow() - sessions.KEPT_AFTER_END - timedelta(seconds=5)
    with store.database.begin() as conn:  # as if the first two ended more than a day ago
        for secret, column in ((expired, "expires_at"), (signed_out, "ended_at")):
            conn.execute(
                t.ui_sessions.update()
                .where(t.ui_sessions.c.secret_hash == hashlib.sha256(secret.encode()).hexdigest())
                .values({column: day_ago})
            )
    live, _ = sessions.open_session(store, writer)
    with store.database.connect() as conn:
        kept = set(conn.execute(sa.select(t.ui_sessions.c.secret_hash)).scalars())
    assert kept == {hashlib.sha256(s.encode()).hexdigest() for s in (recent, live)}
    assert sessions.session_identity(store, live).user == "alice"
