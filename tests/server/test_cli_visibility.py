"""``coops component visibility`` and ``coops registry refusals``, as ``coops`` processes,
through a real server (``--server``) and on the home's own store."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.cli.test_cli import COOPS, coops
from tests.server.conftest import LiveServer, free_port
from tests.waiting import wait_for

from containerops.repository.catalog import Catalog
from containerops.store import Store
from containerops.store.accounts import create_org, create_token, create_user
from containerops.store.components import PushRecord, is_public
from containerops.store.refusals import Refusal, record_refusals
from containerops.timestamps import utcnow


def record(store: Store, namespace: str, name: str) -> None:
    digest = "sha256:" + "d" * 64
    Catalog(store).record(
        PushRecord(namespace, name, "1.0.0", digest, "sha256:" + "e" * 64, {}, ""), kind="organization"
    )


def through(server: LiveServer, home: Path, *args: str, token: str, check: int) -> str:
    """What ``coops ARGS --server URL`` printed with ``token``, stdout then stderr."""
    done = coops(*args, "--server", server.url, home=home, check=check, extra_env={"COOPS_TOKEN": token})
    return done.stdout + done.stderr


@pytest.fixture
def acme(store: Store) -> dict[str, str]:
    """acme (owned by alice) with acme/deploy and acme/lint; bob is no member."""
    for user in ("alice", "bob"):
        create_user(store, user)
    create_user(store, "root", admin=True)
    create_org(store, "acme", owner="alice")
    record(store, "acme", "deploy")
    record(store, "acme", "lint")
    return {
        "alice": create_token(store, "alice", "admin", name="alice"),
        "alice-write": create_token(store, "alice", "write", name="alice-write"),
        "bob": create_token(store, "bob", "write", name="bob"),
        "root": create_token(store, "root", "admin", name="root"),
    }


def test_visibility_through_the_server_sets_and_shows_namespaces_and_components(
    server: LiveServer, acme: dict[str, str], coops_home: Path, store: Store
) -> None:
    def run(*args: str, token: str, check: int = 0) -> str:
        return through(server, coops_home, "component", "visibility", *args, token=token, check=check)

    def shown(*args: str, token: str) -> Any:
        return json.loads(run(*args, "--json", token=token))

    def bob_sees() -> list[str]:
        done = coops(
            "component", "list", "--server", server.url, "--json",
            home=coops_home, check=0, extra_env={"COOPS_TOKEN": acme["bob"]},
        )  # fmt: skip
        return sorted(c["name"] for c in json.loads(done.stdout))

    assert shown("acme", token=acme["alice"]) == {"namespace": "acme", "public": False}
    assert "namespace acme: private" in run("acme", token=acme["alice"])
    assert bob_sees() == []
    assert "✔ namespace acme: public" in run("acme", "public", token=acme["alice"])
    assert is_public(store, "acme") and bob_sees() == ["deploy", "lint"]
    assert shown("acme/deploy", token=acme["bob"]) == {"namespace": "acme", "name": "deploy", "public": True}
    # one component private again: bob no longer sees it, anywhere
    assert shown("acme/deploy", "private", token=acme["alice"])["public"] is False
    assert bob_sees() == ["lint"]
    assert "no component acme/deploy in the repository" in run("acme/deploy", token=acme["bob"], check=2)
    said = run("acme/deploy", "inherit", token=acme["alice"])
    assert "component acme/deploy: public (as its namespace)" in said
    assert bob_sees() == ["deploy", "lint"]
    # refusals say what and where, and change nothing
    refused = run("acme", "private", token=acme["bob"], check=2)  # not a member: no such namespace
    assert f"{server.url}: no namespace 'acme'" in refused
    refused = run("acme", "private", token=acme["alice-write"], check=2)
    assert f"{server.url}: " in refused and "'admin'" in refused
    assert is_public(store, "acme")
    assert "'inherit' is for a component" in run("acme", "inherit", token=acme["alice"], check=2)
    assert "say public, private or inherit" in run("acme", "open", token=acme["alice"], check=2)
    assert "NAMESPACE or NAMESPACE/NAME" in run("Acme/..", token=acme["alice"], check=2)
    assert "no component acme/nope" in run("acme/nope", "private", token=acme["alice"], check=2)
    assert (
        "cannot reach the server"
        in coops(
            "component", "visibility", "acme", "--server", "http://127.0.0.1:9", home=coops_home, check=2
        ).stderr
    )


def test_visibility_on_the_local_store(acme: dict[str, str], coops_home: Path, store: Store) -> None:
    done = coops("component", "visibility", "acme/lint", "public", "--json", home=coops_home, check=0)
    assert json.loads(done.stdout) == {"namespace": "acme", "name": "lint", "public": True}
    assert is_public(store, "acme", "lint") and not is_public(store, "acme", "deploy")
    said = coops("component", "visibility", "nobody", home=coops_home, check=2).stderr
    assert "no namespace 'nobody'" in said


def test_registry_refusals_are_listed_for_administrators(
    server: LiveServer, acme: dict[str, str], coops_home: Path, store: Store
) -> None:
    record_refusals(
        store,
        [
            Refusal(utcnow(), None, None, "login", "no coops token"),
            Refusal(utcnow(), "bob", "k123", "repository:acme/deploy:push", "user 'bob' may not push"),
        ],
    )

    def run(*args: str, token: str, check: int = 0) -> str:
        return through(server, coops_home, "registry", "refusals", *args, token=token, check=check)

    listed = json.loads(run("--json", token=acme["root"]))
    assert [(r["user"], r["scope"]) for r in listed] == [
        ("bob", "repository:acme/deploy:push"),
        (None, "login"),
    ]
    assert [r["scope"] for r in json.loads(run("--json", "-n", "1", token=acme["root"]))] == [
        "repository:acme/deploy:push"
    ]
    table = run(token=acme["root"])
    assert "repository:acme/deploy:push" in table and "k123" in table and "no coops token" in table
    assert "only site administrators" in run(token=acme["alice"], check=2)
    local = coops("registry", "refusals", "--json", home=coops_home, check=0).stdout
    assert [r["scope"] for r in json.loads(local)] == ["repository:acme/deploy:push", "login"]


def test_coops_server_reads_public_components_anonymously_only_with_anonymous_read(
    acme: dict[str, str], coops_home: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off by default; on, only reads of public components go without a token."""
    monkeypatch.delenv("COOPS_SERVER_ANONYMOUS_READ", raising=False)
    Catalog(store).set_public("acme", "lint", True)
    for flags, components in (([], 401), (["--anonymous-read"], 200)):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [*COOPS, "server", "--port", str(port), "--executor", "dummy", "--log-level", "warning", *flags],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:

            def up(url: str = url) -> bool:
                try:
                    return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(up, "coops server to answer", 90)
            listed = httpx.get(f"{url}/api/v1/components")
            assert listed.status_code == components, (flags, listed.text)
            if components == 200:
                assert [(c["namespace"], c["name"]) for c in listed.json()["components"]] == [
                    ("acme", "lint")
                ]
                assert httpx.get(f"{url}/api/v1/components/acme/lint").json()["readme"] == ""
                assert httpx.get(f"{url}/api/v1/components/acme/deploy").status_code == 404
                assert httpx.get(f"{url}/api/v1/registry").status_code == 200
            assert httpx.get(f"{url}/api/v1/runs").status_code == 401
            assert httpx.get(f"{url}/api/v1/namespaces/acme/visibility").status_code == 401
        finally:
            process.terminate()
            process.wait(30)


def test_deprecate_and_yank_through_the_server(
    server: LiveServer, acme: dict[str, str], coops_home: Path, store: Store
) -> None:
    """As a writer of the namespace, through the API; others are refused and nothing changes."""
    Catalog(store).record(
        PushRecord("acme", "deploy", "1.0.1", "sha256:" + "f" * 64, "sha256:" + "a" * 64, {}, ""),
        kind="organization",
    )

    def run(*args: str, token: str, check: int = 0) -> str:
        return through(server, coops_home, "component", *args, token=token, check=check)

    said = run("deprecate", "acme/deploy:1.0.0", "-m", "use 1.0.1", token=acme["alice-write"])
    assert "✔ acme/deploy:1.0.0: deprecated: use 1.0.1" in said
    assert Catalog(store).existing("acme", "deploy", "1.0.0").deprecated == "use 1.0.1"  # type: ignore[union-attr]
    yanked = json.loads(
        run(
            "yank",
            "acme/deploy:1.0.0",
            "-m",
            "leaks",
            "--replacement",
            "1.0.1",
            "--json",
            token=acme["alice"],
        )
    )
    assert yanked["yanked"] == {"reason": "leaks", "replacement": "1.0.1"}
    refused = run("yank", "acme/deploy:1.0.1", "-m", "mine now", token=acme["bob"], check=2)
    assert "no version 1.0.1 of acme/deploy" in refused
    assert Catalog(store).existing("acme", "deploy", "1.0.1").yanked is None  # type: ignore[union-attr]
    bad = run("yank", "acme/deploy:1.0.0", "-m", "x", "--replacement", "9.9.9", token=acme["alice"], check=2)
    assert "the replacement acme/deploy:9.9.9 must be another version" in bad
    assert "acme/deploy:1.0.0: deprecated: use 1.0.1" in run(
        "yank", "acme/deploy:1.0.0", "--undo", token=acme["alice"]
    )
