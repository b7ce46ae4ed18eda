"""Tokens and RBAC against a real server on 127.0.0.1: anonymous sees nothing, a
token sees and runs only its namespaces' flows, at most at its scope."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.server.authapp import guarded_app, serve
from tests.server.conftest import LiveServer
from tests.server.flows import flow_doc

from containerops.store import Store, accounts
from containerops.store import schema as t
from containerops.store.accounts import create_org, create_token, create_user, set_member


@pytest.fixture
def team(store: Store) -> dict[str, str]:
    """alice owns acme; bob is a reader of acme; carol has only her own namespace."""
    for name in ("alice", "bob", "carol"):
        create_user(store, name)
    create_org(store, "acme", owner="alice")
    set_member(store, "acme", "bob", "reader")
    return {
        "alice": create_token(store, "alice", "write"),
        "alice_read": create_token(store, "alice", "read"),
        "alice_admin": create_token(store, "alice", "admin"),
        "bob": create_token(store, "bob", "admin"),
        "carol": create_token(store, "carol", "write"),
    }


def wait_done(client: httpx.Client, run_id: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] in ("success", "failure", "cancelled"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end")


def test_the_store_keeps_only_a_hash_and_compares_in_constant_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_user(store, "alice")
    token = create_token(store, "alice", "read")
    with store.database.connect() as conn:
        row = conn.execute(sa.select(t.api_tokens)).one()
    assert token not in repr(tuple(row))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()

    compared: list[tuple[str, str]] = []
    real = accounts.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(accounts.hmac, "compare_digest", spy)
    assert accounts.authenticate(store, token).user == "alice"
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(accounts.TokenRefused):
        accounts.authenticate(store, forged)
    # also for an unknown key, so that both paths do the same work
    with pytest.raises(accounts.TokenRefused):
        accounts.authenticate(store, "coops_000000000000_" + "x" * 43)
    assert len(compared) == 3


def test_anonymous_and_refused_tokens_see_nothing(
    server: LiveServer, store: Store, team: dict[str, str], admin: httpx.Client
) -> None:
    assert admin.post("/api/v1/flows", json=flow_doc("acme/app/ci")).status_code == 201
    revoked = create_token(store, "alice", "write", name="old")
    accounts.revoke_token(store, "old", user="alice")
    expired = create_token(store, "alice", "write", name="short")
    with store.database.begin() as conn:  # its time has come
        conn.execute(
            t.api_tokens.update()
            .where(t.api_tokens.c.name == "short")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    routes = ["/api/v1/flows", "/api/v1/runs", "/api/v1/flows/acme/app/ci", "/api/v1/whoami"]
    headers: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {team['alice']}"},
        {"Authorization": "Bearer coops_nonsense"},
        {"Authorization": f"Bearer {team['alice'][:-1]}x"},
        {"Authorization": f"Bearer {revoked}"},
        {"Authorization": f"Bearer {expired}"},
    ]
    with httpx.Client(base_url=server.url) as anonymous:
        for route in routes:
            for header in headers:
                answer = anonymous.get(route, headers=header)
                assert answer.status_code == 401, (route, header, answer.text)
                assert "acme" not in answer.text
                assert answer.headers["www-authenticate"] == "Bearer"
        assert "revoked" in anonymous.get(routes[0], headers=headers[5]).json()["error"]
        assert "expired" in anonymous.get(routes[0], headers=headers[6]).json()["error"]
        assert anonymous.post("/api/v1/runs", json={"flow": "acme/app/ci"}).status_code == 401
    with server.client(team["alice"]) as alice:
        assert alice.get("/api/v1/flows").status_code == 200


def test_tokens_see_and_run_only_their_namespaces(
    server: LiveServer, team: dict[str, str], admin: httpx.Client
) -> None:
    for uri in ("acme/app/ci", "alice/tools/lint", "carol/site/build", "library/base/check"):
        assert admin.post("/api/v1/flows", json=flow_doc(uri)).status_code == 201
    carol_run = admin.post("/api/v1/runs", json={"flow": "carol/site/build"}).json()["id"]
    wait_done(admin, carol_run)

    with server.client(team["alice"]) as alice, server.client(team["bob"]) as bob:
        seen = {f["uri"] for f in alice.get("/api/v1/flows").json()["flows"]}
        assert seen == {"acme/app/ci", "alice/tools/lint", "library/base/check"}
        assert {f["uri"] for f in bob.get("/api/v1/flows").json()["flows"]} == {
            "acme/app/ci",
            "library/base/check",
        }
        # a flow elsewhere is as missing as a flow that does not exist
        hidden = alice.get("/api/v1/flows/carol/site/build")
        absent = alice.get("/api/v1/flows/carol/site/nothing")
        assert hidden.status_code == absent.status_code == 404
        assert hidden.json()["error"] == absent.json()["error"]
        hidden_run = alice.get(f"/api/v1/runs/{carol_run}")
        absent_run = alice.get("/api/v1/runs/999999")
        assert hidden_run.status_code == absent_run.status_code == 404
        assert hidden_run.json()["error"].replace(str(carol_run), "N") == absent_run.json()["error"].replace(
            "999999", "N"
        )
        assert alice.get(f"/api/v1/runs/{carol_run}/logs").status_code == 404
        assert alice.post(f"/api/v1/runs/{carol_run}/cancel").status_code == 404
        assert alice.get("/api/v1/runs").json()["runs"] == []
        assert alice.post("/api/v1/runs", json={"flow": "carol/site/build"}).status_code == 404
        assert alice.post("/api/v1/flows", json=flow_doc("carol/site/other")).status_code == 404

        # the owner runs acme's flows; a reader sees them but may not run or change them
        run_id = alice.post("/api/v1/runs", json={"flow": "acme/app/ci"}).json()["id"]
        assert wait_done(alice, run_id)["status"] == "success"
        assert bob.get(f"/api/v1/runs/{run_id}").status_code == 200
        assert [r["id"] for r in bob.get("/api/v1/runs").json()["runs"]] == [run_id]
        refused = bob.post("/api/v1/runs", json={"flow": "acme/app/ci"})
        assert refused.status_code == 403 and "reader" in refused.json()["error"]
        assert bob.post("/api/v1/flows", json=flow_doc("acme/app/new")).status_code == 403
        assert bob.post(f"/api/v1/runs/{run_id}/rerun").status_code == 403

        # library: every token reads it, only site administrators write it
        assert alice.get("/api/v1/flows/library/base/check").status_code == 200
        assert alice.post("/api/v1/flows", json=flow_doc("library/base/mine")).status_code == 403
        assert alice.post("/api/v1/runs", json={"flow": "library/base/check"}).status_code == 403


def test_scopes_limit_a_token_below_its_users_role(
    server: LiveServer, team: dict[str, str], admin: httpx.Client
) -> None:
    assert admin.post("/api/v1/flows", json=flow_doc("acme/app/ci")).status_code == 201
    with server.client(team["alice_read"]) as reader, server.client(team["alice"]) as writer:
        assert reader.get("/api/v1/flows/acme/app/ci").status_code == 200
        refused = reader.post("/api/v1/runs", json={"flow": "acme/app/ci"})
        assert refused.status_code == 403 and "scope 'read'" in refused.json()["error"]
        assert reader.post("/api/v1/flows", json=flow_doc("alice/a/b")).status_code == 403
        assert reader.get("/api/v1/namespaces/acme/secrets").status_code == 403
        assert writer.get("/api/v1/namespaces/acme/secrets").status_code == 403
        assert writer.put("/api/v1/namespaces/acme/secrets/X", json={"value": "abc"}).status_code == 403
        assert writer.post("/api/v1/runs", json={"flow": "acme/app/ci"}).status_code == 202


def test_a_member_removed_loses_access_at_once(
    server: LiveServer, store: Store, team: dict[str, str], admin: httpx.Client
) -> None:
    assert admin.post("/api/v1/flows", json=flow_doc("acme/app/ci")).status_code == 201
    with server.client(team["bob"]) as bob, server.client(team["alice_admin"]) as owner:
        assert bob.get("/api/v1/flows/acme/app/ci").status_code == 200
        assert owner.get("/api/v1/namespaces/acme/members").json() == [
            {"user": "alice", "role": "owner"},
            {"user": "bob", "role": "reader"},
        ]
        assert bob.put("/api/v1/namespaces/acme/members/bob", json={"role": "owner"}).status_code == 403
        assert owner.put("/api/v1/namespaces/acme/members/bob", json={"role": "boss"}).status_code == 422
        assert owner.put("/api/v1/namespaces/acme/members/nobody", json={"role": "reader"}).status_code == 404
        assert owner.delete("/api/v1/namespaces/acme/members/bob").status_code == 204
        assert bob.get("/api/v1/flows/acme/app/ci").status_code == 404
        assert owner.put("/api/v1/namespaces/acme/members/bob", json={"role": "writer"}).status_code == 200
        assert bob.post("/api/v1/runs", json={"flow": "acme/app/ci"}).status_code == 202


def test_tokens_through_the_api(server: LiveServer, team: dict[str, str]) -> None:
    with server.client(team["alice_admin"]) as alice:
        me = alice.get("/api/v1/whoami").json()
        assert me["user"] == "alice" and me["namespaces"] == {"alice": "owner", "acme": "owner"}
        made = alice.post("/api/v1/tokens", json={"scope": "read", "name": "dashboard"})
        assert made.status_code == 201
        token = made.json()["token"]
        assert token not in alice.get("/api/v1/tokens").text
        with server.client(token) as dashboard:
            assert dashboard.get("/api/v1/whoami").json()["scope"] == "read"
            assert dashboard.post("/api/v1/tokens", json={"scope": "admin"}).status_code == 403
        assert alice.post("/api/v1/tokens", json={"scope": "root"}).status_code == 422
        past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        assert alice.post("/api/v1/tokens", json={"expires_at": past}).status_code == 422
        assert alice.delete(f"/api/v1/tokens/{made.json()['key']}").status_code == 204
        with server.client(token) as dashboard:
            assert dashboard.get("/api/v1/whoami").status_code == 401
    with server.client(team["carol"]) as carol:  # write scope: no token management
        assert carol.get("/api/v1/tokens").status_code == 403


def test_the_dependency_alone_on_a_small_app(store: Store, team: dict[str, str]) -> None:
    """The Principal rules without the rest of the server (denials and namespace sets)."""
    with serve(guarded_app(store)) as url, httpx.Client(base_url=url) as client:

        def get(path: str, token: str) -> httpx.Response:
            return client.get(path, headers={"Authorization": f"Bearer {team[token]}"})

        assert get("/ns/acme/write", "alice").status_code == 200
        assert get("/ns/acme/admin", "alice").status_code == 403  # write-scope token
        assert get("/ns/acme/admin", "alice_admin").status_code == 200
        assert get("/ns/acme/read", "bob").status_code == 200
        assert get("/ns/acme/write", "bob").status_code == 403
        hidden = get("/ns/alice/read", "bob")
        assert hidden.status_code == 404 and hidden.json() == {"detail": "no flow in 'alice'"}
        assert get("/visible/read", "bob").json() == {"namespaces": ["acme", "bob", "library"]}
        assert get("/visible/write", "bob").json() == {"namespaces": ["bob"]}
        assert get("/visible/admin", "alice").json() == {"namespaces": []}


@pytest.mark.parametrize("bad", ["Bad", "x" * 65, "-x", "a.b", "a%20b"])
def test_bad_namespace_names_are_422(server: LiveServer, team: dict[str, str], bad: str) -> None:
    with server.client(team["alice_admin"]) as alice:
        for answer in (
            alice.get(f"/api/v1/namespaces/{bad}/secrets"),
            alice.put(f"/api/v1/namespaces/{bad}/secrets/X", json={"value": "abc"}),
            alice.get(f"/api/v1/namespaces/{bad}/members"),
        ):
            assert answer.status_code == 422, answer.text
            assert "path.namespace: String should match pattern" in answer.json()["error"]


def test_users_and_organizations_through_the_api(
    server: LiveServer, team: dict[str, str], admin: httpx.Client
) -> None:
    assert admin.post("/api/v1/users", json={"name": "dave"}).status_code == 201
    assert admin.post("/api/v1/users", json={"name": "dave"}).status_code == 409
    assert admin.post("/api/v1/users", json={"name": "Dave"}).status_code == 422
    with server.client(team["alice_admin"]) as alice:
        assert alice.post("/api/v1/users", json={"name": "eve"}).status_code == 403
        made = alice.post("/api/v1/orgs", json={"name": "widgets"})
        assert made.status_code == 201 and made.json()["owner"] == "alice"
        assert alice.post("/api/v1/orgs", json={"name": "acme"}).status_code == 409
        # a user's namespace, which every other route calls missing to alice: nothing says whose
        taken = alice.post("/api/v1/orgs", json={"name": "dave"})
        assert (taken.status_code, taken.json()) == (
            409,
            {"error": "the name 'dave' is not available for a new organization; pick another"},
        )
        assert alice.post("/api/v1/orgs", json={"name": "library"}).status_code == 422
        # the new namespace is the owner's at once (the token reads roles on every request)
        assert alice.post("/api/v1/flows", json=flow_doc("widgets/app/ci")).status_code == 201
    with server.client(team["alice"]) as writer:  # write scope: cannot create namespaces
        assert writer.post("/api/v1/orgs", json={"name": "gadgets"}).status_code == 403


def test_the_namespaces_a_caller_may_read(
    server: LiveServer, team: dict[str, str], admin: httpx.Client
) -> None:
    """The web UI's namespace switcher: the caller's own namespace first, their organizations
    (with their role) and the library; a site administrator sees every namespace known,
    those only flows use included."""
    assert admin.post("/api/v1/flows", json=flow_doc("scratch/app/ci")).status_code == 201
    with server.client(team["bob"]) as bob:
        listed = bob.get("/api/v1/namespaces").json()
    assert listed == {
        "user": "bob",
        "namespaces": [
            {"name": "bob", "kind": "user", "role": "owner"},
            {"name": "acme", "kind": "organization", "role": "reader"},
            {"name": "library", "kind": "library", "role": "reader"},
        ],
    }
    with server.client(team["carol"]) as carol:
        names = [n["name"] for n in carol.get("/api/v1/namespaces").json()["namespaces"]]
    assert names == ["carol", "library"]  # not acme, not scratch
    everything = {
        n["name"]: (n["kind"], n["role"]) for n in admin.get("/api/v1/namespaces").json()["namespaces"]
    }
    assert everything["scratch"] == ("flows", "admin")
    assert everything["acme"] == ("organization", "admin")
    assert everything["alice"] == ("user", "admin")
    assert everything["library"] == ("library", "admin")
    assert httpx.get(f"{server.url}/api/v1/namespaces").status_code == 401


def test_listings_keep_to_one_namespace_when_asked(
    server: LiveServer, team: dict[str, str], admin: httpx.Client
) -> None:
    """``?namespace=`` on the flows, runs, schedules and deliveries listings (the web UI's
    namespace switcher): that namespace's only, 404 for one the caller cannot read."""
    cron = {"triggers": [{"type": "cron", "schedule": "0 3 * * *"}]}
    for uri in ("acme/app/ci", "alice/tools/lint", "carol/site/build"):
        assert admin.post("/api/v1/flows", json=flow_doc(uri) | cron).status_code == 201
        wait_done(admin, admin.post("/api/v1/runs", json={"flow": uri}).json()["id"])
    signed = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1"}
    assert admin.post("/hooks/github/acme/app/ci", content=b"{}", headers=signed).status_code in (401, 404)
    with server.client(team["alice"]) as alice:
        for ns, expected in (("acme", {"acme/app/ci"}), ("alice", {"alice/tools/lint"})):
            assert {f["uri"] for f in alice.get(f"/api/v1/flows?namespace={ns}").json()["flows"]} == expected
            assert {r["uri"] for r in alice.get(f"/api/v1/runs?namespace={ns}").json()["runs"]} == expected
        deadline = time.monotonic() + 30  # the scheduler syncs at once on a save; give it time
        while {s["flow"] for s in alice.get("/api/v1/schedules").json()["schedules"]} != {
            "acme/app/ci",
            "alice/tools/lint",
        }:
            assert time.monotonic() < deadline, alice.get("/api/v1/schedules").json()
            time.sleep(0.1)
        scheduled = alice.get("/api/v1/schedules?namespace=alice").json()["schedules"]
        assert [s["flow"] for s in scheduled] == ["alice/tools/lint"]
        assert [d["flow"] for d in alice.get("/api/v1/deliveries?namespace=acme").json()["deliveries"]] == [
            "acme/app/ci"
        ]
        assert alice.get("/api/v1/deliveries?namespace=alice").json()["deliveries"] == []
        for listing in ("flows", "runs", "schedules", "deliveries"):
            hidden = alice.get(f"/api/v1/{listing}?namespace=carol")
            assert hidden.status_code == 404, (listing, hidden.text)
            assert alice.get(f"/api/v1/{listing}?namespace=a..b").status_code in (400, 422)
