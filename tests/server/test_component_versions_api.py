"""Deprecating and yanking a component version through the API: a writer of its
namespace may; others are refused, and a namespace they cannot read looks missing."""

from __future__ import annotations

import httpx
from tests.repository.test_usage import push
from tests.server.conftest import LiveServer

from containerops.repository.catalog import Catalog
from containerops.store import Store
from containerops.store.accounts import create_org, create_token, create_user, set_member


def test_a_writer_deprecates_and_yanks_a_version(server: LiveServer, store: Store) -> None:
    for user in ("alice", "bob", "eve"):
        create_user(store, user)
    create_org(store, "acme", owner="alice")
    set_member(store, "acme", "bob", "reader")
    catalog = Catalog(store)
    for version in ("1.0.0", "1.1.0"):
        push(catalog, version)
    base = "/api/v1/components/acme/notify/versions"
    with server.client(create_token(store, "alice", "write")) as alice:
        deprecated = alice.post(f"{base}/1.0.0/deprecate", json={"message": "use 1.1"})
        assert deprecated.status_code == 200, deprecated.text
        assert deprecated.json()["deprecated"] == "use 1.1"
        yanked = alice.post(f"{base}/1.0.0/yank", json={"reason": "broken", "replacement": "1.1.0"})
        assert yanked.json()["yanked"] == {"reason": "broken", "replacement": "1.1.0"}
        shown = alice.get("/api/v1/components/acme/notify", params={"version": "1.0.0"}).json()
        assert (shown["version"], shown["yanked"]["reason"]) == ("1.0.0", "broken")
        newest = alice.get("/api/v1/components/acme/notify").json()
        assert newest["version"] == "1.1.0"
        assert (
            alice.post(f"{base}/1.1.0/yank", json={"reason": "x", "replacement": "1.0.0"}).status_code == 422
        )
        assert alice.post(f"{base}/9.0.0/yank", json={"reason": "x"}).status_code == 404
        assert alice.post(f"{base}/1.0/yank", json={"reason": "x"}).status_code == 422  # not a whole version
        assert alice.post(f"{base}/1.1.0/yank", json={"reason": "", "extra": 1}).status_code == 422
        unyanked = alice.post(f"{base}/1.0.0/yank", json={"reason": None})
        assert unyanked.json()["yanked"] is None and unyanked.json()["deprecated"] == "use 1.1"
    with server.client(create_token(store, "bob", "write")) as bob:  # a reader of acme
        assert bob.post(f"{base}/1.0.0/deprecate", json={"message": "no"}).status_code == 403
    with server.client(create_token(store, "eve", "write")) as eve:  # not of acme: it looks missing
        refused = eve.post(f"{base}/1.0.0/deprecate", json={"message": "no"})
        assert refused.status_code == 404 and "no version 1.0.0 of acme/notify" in refused.json()["error"]
    assert Catalog(store).existing("acme", "notify", "1.0.0").deprecated == "use 1.1"  # type: ignore[union-attr]


def test_the_routes_need_a_token(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as anonymous:
        answer = anonymous.post("/api/v1/components/acme/notify/versions/1.0.0/yank", json={"reason": "x"})
    assert answer.status_code == 401
