"""The registry run for a server: Debian's docker-registry taking only the JWTs the coops
server signs (the distribution token specification), with the real registry on a port of
its own, a real server and the Docker Engine through the Docker SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import jwt
import pytest
from tests.cli.test_cli import _HEAVY_PROBE, coops
from tests.server.conftest import LiveServer, free_port

from containerops.images import BUSYBOX_IMAGE
from containerops.repository import registry, registry_auth, transfer
from containerops.repository.catalog import Catalog
from containerops.repository.engine_transfer import pull_image
from containerops.store import Store
from containerops.store.accounts import create_org, create_token, create_user, revoke_token, set_member
from containerops.store.components import PushRecord
from containerops.store.refusals import list_refusals


@dataclass
class Secured:
    server: LiveServer
    address: str
    alice: str
    bob: str
    admin: str


@pytest.fixture
def secured(
    store: Store,
    start_server: Callable[..., LiveServer],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[Secured]:
    """A server, and a registry on a free port started for it in the test's COOPS_HOME. Its
    registry tokens live a minute (a push on a busy machine outlasts a few seconds), or
    what the test's ``registry_token_ttl`` mark says."""
    monkeypatch.delenv("COOPS_REGISTRY", raising=False)
    mark = request.node.get_closest_marker("registry_token_ttl")
    monkeypatch.setenv("COOPS_REGISTRY_TOKEN_TTL", str(mark.args[0] if mark else 60))
    for name in ("alice", "bob"):
        create_user(store, name)
    create_user(store, "root", admin=True)
    server = start_server()
    signer = registry_auth.load_signer(create=True)
    assert signer is not None
    status = registry.start(free_port(), auth=registry_auth.auth_settings(server.url, signer))
    try:
        yield Secured(
            server,
            status.address,
            create_token(store, "alice", "write", name="alice"),
            create_token(store, "bob", "write", name="bob"),
            create_token(store, "root", "admin", name="root"),
        )
    finally:
        registry.stop()


@pytest.fixture
def engine(docker_ready: None) -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


def push(client: docker.DockerClient, address: str, repository: str, auth: dict[str, str] | None) -> str:
    """``docker push`` busybox as ``address/repository:1.0.0``; the error said, or ""."""
    remote = f"{address}/{repository}"
    client.api.tag(BUSYBOX_IMAGE, remote, "1.0.0")
    try:
        for chunk in client.api.push(remote, tag="1.0.0", stream=True, decode=True, auth_config=auth):
            if "error" in chunk:
                return str(chunk["error"])
        return ""
    finally:
        client.api.remove_image(f"{remote}:1.0.0", noprune=True)


def pull(client: docker.DockerClient, address: str, repository: str, auth: dict[str, str] | None) -> str:
    try:
        client.api.pull(f"{address}/{repository}", tag="1.0.0", auth_config=auth)
    except docker.errors.APIError as error:
        return str(error.explanation or error)
    client.api.remove_image(f"{address}/{repository}:1.0.0", noprune=True)
    return ""


def token_for(secured: Secured, coops_token: str, *scopes: str) -> httpx.Response:
    return httpx.get(
        f"{secured.server.url}/registry/token",
        params={"service": registry_auth.SERVICE, "scope": list(scopes)},
        auth=("whoever", coops_token),
    )


def refusals(store: Store) -> list[tuple[str | None, str]]:
    return [(r.user, r.scope) for r in list_refusals(store)]


@pytest.mark.docker
def test_without_a_token_the_registry_answers_401_and_docker_push_is_refused(
    secured: Secured, engine: docker.DockerClient, store: Store
) -> None:
    answer = httpx.get(f"http://{secured.address}/v2/")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith(
        f'Bearer realm="{secured.server.url}/registry/token"'
    )
    upload = httpx.post(f"http://{secured.address}/v2/alice/x/blobs/uploads/")
    assert upload.status_code == 401
    said = push(engine, secured.address, "alice/x", None)
    assert "unauthorized" in said.lower() or "authentication required" in said.lower(), said
    assert (None, "login") in refusals(store)
    # the token endpoint itself: no credentials, or a made-up token, is a 401
    assert httpx.get(f"{secured.server.url}/registry/token").status_code == 401
    made_up = token_for(secured, "coops_0123456789ab_" + "x" * 40, "repository:alice/x:pull")
    assert made_up.status_code == 401 and "unknown token" in made_up.json()["error"]


@pytest.mark.docker
def test_alice_cannot_push_into_bob_nor_pull_his_private_images(
    secured: Secured, engine: docker.DockerClient, store: Store
) -> None:
    alice = {"username": "alice", "password": secured.alice}
    bob = {"username": "bob", "password": secured.bob}
    assert push(engine, secured.address, "alice/x", alice) == ""
    assert push(engine, secured.address, "bob/private", bob) == ""
    denied = push(engine, secured.address, "bob/x", alice)
    assert denied, "alice pushed into bob's namespace"
    assert pull(engine, secured.address, "bob/private", alice) != ""
    assert pull(engine, secured.address, "bob/private", bob) == ""
    assert pull(engine, secured.address, "alice/x", alice) == ""
    seen = refusals(store)
    assert ("alice", "repository:bob/x:push,pull") in seen  # as Docker asks: push first
    assert ("alice", "repository:bob/private:pull") in seen
    # bob's own were all granted (Docker also asked to mount busybox's layers from alice/x)
    assert [scope for user, scope in seen if user == "bob"] == ["repository:alice/x:pull"]
    # an organization's writer pushes there; a reader only pulls
    create_org(store, "acme", owner="bob")
    set_member(store, "acme", "alice", "reader")
    assert push(engine, secured.address, "acme/tool", bob) == ""
    assert push(engine, secured.address, "acme/tool", alice) != ""
    assert pull(engine, secured.address, "acme/tool", alice) == ""
    set_member(store, "acme", "alice", "writer")
    assert push(engine, secured.address, "acme/tool", alice) == ""
    # the administrators read what was refused; others may not
    with secured.server.client(secured.admin) as admin:
        listed = admin.get("/api/v1/registry/refusals").json()["refusals"]
    assert {"user": "alice", "scope": "repository:acme/tool:push"}.items() <= listed[0].items()
    with secured.server.client(secured.alice) as client:
        assert client.get("/api/v1/registry/refusals").status_code == 403


def granted(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
    assert claims["aud"] == registry_auth.SERVICE and claims["iss"] == registry_auth.ISSUER
    access: list[dict[str, Any]] = claims["access"]
    return access


@pytest.mark.docker
def test_docker_login_with_a_coops_token_works_and_its_tokens_are_scoped(
    secured: Secured, engine: docker.DockerClient
) -> None:
    answer = engine.login(username="alice", password=secured.alice, registry=secured.address, reauth=True)
    assert answer["Status"] == "Login Succeeded"
    with pytest.raises(docker.errors.APIError) as refused:
        engine.login(
            username="alice", password="coops_0123456789ab_" + "y" * 40, registry=secured.address, reauth=True
        )
    assert "401" in str(refused.value) or "unauthorized" in str(refused.value).lower()
    access = granted(
        token_for(secured, secured.alice, "repository:alice/x:pull,push", "repository:bob/x:pull,push")
    )
    assert access == [{"type": "repository", "name": "alice/x", "actions": ["pull", "push"]}]
    read_only = create_token(secured.server.store, "alice", "read", name="reading")
    assert granted(token_for(secured, read_only, "repository:alice/x:pull,push")) == [
        {"type": "repository", "name": "alice/x", "actions": ["pull"]}
    ]
    bad = token_for(secured, secured.alice, "repository:../etc:pull")
    assert bad.status_code == 400 and "NAMESPACE/NAME" in bad.json()["error"]


@pytest.mark.docker
@pytest.mark.registry_token_ttl(3)
def test_a_revoked_coops_token_stops_working_at_the_registry_when_its_jwt_expires(
    secured: Secured, engine: docker.DockerClient, store: Store
) -> None:
    alice = {"username": "alice", "password": secured.alice}
    assert push(engine, secured.address, "alice/x", alice) == ""
    response = token_for(secured, secured.alice, "repository:alice/x:pull")
    assert response.json()["expires_in"] == 3
    jwt_token = response.json()["token"]
    tags = f"http://{secured.address}/v2/alice/x/tags/list"

    def answer() -> int:
        return httpx.get(tags, headers={"Authorization": f"Bearer {jwt_token}"}).status_code

    assert answer() == 200
    revoke_token(store, "alice")
    assert answer() == 200  # the JWT it got lives on, for its few seconds
    assert token_for(secured, secured.alice, "repository:alice/x:pull").status_code == 401
    assert pull(engine, secured.address, "alice/x", alice) != ""
    assert (None, "login") in refusals(store)
    deadline = time.monotonic() + 15
    while answer() == 200:
        assert time.monotonic() < deadline, "the registry still takes the JWT of a revoked token"
        time.sleep(0.2)
    assert answer() == 401


@pytest.mark.docker
def test_the_home_holding_the_key_pulls_its_runs_components_and_others_are_told_how(
    secured: Secured, engine: docker.DockerClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The server pulls the components of its runs with a token it signs itself; a home
    without the key (a local push or pull) is told to go through the server."""
    assert push(engine, secured.address, "bob/private", {"username": "bob", "password": secured.bob}) == ""
    held = registry.manifest_digest(
        "bob/private",
        "1.0.0",
        secured.address,
        token=registry_auth.load_signer().issue(  # type: ignore[union-attr]
            "t", [registry_auth.Access("bob", "private", ("pull",))]
        )[0],
    )
    assert held is not None
    image = f"{secured.address}/bob/private@{held[0]}"
    pull_image(image, auth=transfer.pull_auth(image))
    engine.api.remove_image(image, noprune=True)
    monkeypatch.setenv("COOPS_REGISTRY_AUTH", str(tmp_path / "no-key"))
    with pytest.raises(transfer.TransferError, match="pull through it"):
        pull_image(image, auth=transfer.pull_auth(image))
    monkeypatch.setenv("COOPS_REGISTRY", secured.address)
    with pytest.raises(registry.RegistryError, match="takes tokens from its server"):
        registry.check()


def test_a_registry_for_a_server_is_not_restarted_the_other_way(secured: Secured) -> None:
    with pytest.raises(registry.RegistryError, match="taking a server's tokens"):
        registry.start()
    assert registry.status().token_realm == f"{secured.server.url}/registry/token"


def test_without_a_registry_started_for_it_the_server_issues_no_tokens(
    server: LiveServer, tmp_path: Path
) -> None:
    answer = httpx.get(f"{server.url}/registry/token", auth=("a", "b"))
    assert answer.status_code == 404 and "no registry was started" in answer.json()["error"]


def unique() -> str:
    return f"c{uuid.uuid4().hex[:8]}"


def remove_images(client: docker.DockerClient, namespace: str) -> None:
    for image in client.images.list():
        tags = image.tags + [d.split("@")[0] + ":" for d in image.attrs.get("RepoDigests") or []]
        if any(f"/{namespace}/" in tag or tag.startswith(f"coops/{namespace}/") for tag in tags):
            client.images.remove(image.id, force=True)


@pytest.mark.docker
def test_coops_component_push_pull_search_show_list_through_the_server(
    secured: Secured, engine: docker.DockerClient, store: Store, tmp_path: Path
) -> None:
    """As users live it, with ``coops`` processes on another home: alice pushes a private
    component; bob does not see it anywhere until alice makes it public, and may not push
    into her namespace."""
    name = unique()
    create_org(store, name, owner="alice")
    client_home = tmp_path / "client"
    url = secured.server.url

    def run(*args: str, token: str, check: int | None = 0) -> str:
        """What the command printed, stdout then stderr."""
        done = coops(*args, home=client_home, check=check, extra_env={"COOPS_TOKEN": token}, cwd=tmp_path)
        return done.stdout + done.stderr

    def answer(*args: str, token: str) -> Any:
        """The JSON the command printed (``--json``)."""
        done = coops(
            *args, "--json", home=client_home, check=0, extra_env={"COOPS_TOKEN": token}, cwd=tmp_path
        )
        return json.loads(done.stdout)

    try:
        run("component", "init", "hello", "--lang", "shell", "--namespace", name, token=secured.alice)
        pushed = answer("component", "push", "hello", "--server", url, token=secured.alice)
        assert pushed["created"] is True and pushed["pushed_by"] == "alice" and pushed["size"] > 100_000
        assert pushed["image"] == f"{secured.address}/{name}/hello@{pushed['digest']}"
        again = answer("component", "push", "hello", "--server", url, token=secured.alice)
        assert again["created"] is False and again["digest"] == pushed["digest"]
        found = answer("component", "search", "greets", "--server", url, token=secured.alice)
        assert [(c["namespace"], c["name"], c["public"]) for c in found] == [(name, "hello", False)]
        shown = run("component", "show", f"{name}/hello", "--server", url, token=secured.alice)
        assert "pushed" in shown and "by alice" in shown and pushed["digest"] in shown
        listed = answer("component", "list", "-n", name, "--server", url, token=secured.alice)
        assert [c["name"] for c in listed] == ["hello"]
        remove_images(engine, name)
        pulled = answer("component", "pull", f"{name}/hello", "--server", url, token=secured.alice)
        assert pulled["digest"] == pushed["digest"]
        assert engine.images.get(f"coops/{name}/hello:0.1.0").id == pushed["image_id"]

        # bob: a private component of another's namespace is a missing one, everywhere
        missing = run("component", "show", f"{name}/hello", "--server", url, token=secured.bob, check=2)
        assert f"no component {name}/hello in the repository" in missing
        assert answer("component", "search", "greets", "--server", url, token=secured.bob) == []
        assert answer("component", "list", "--server", url, token=secured.bob) == []
        refused = run("component", "push", "hello", "--server", url, token=secured.bob, check=2)
        assert f"user 'bob' may not push to namespace {name!r}" in refused
        remove_images(engine, name)
        run("component", "pull", f"{name}/hello", "--server", url, token=secured.bob, check=2)

        # public: bob reads it, in the API, search and the registry; still may not push
        with secured.server.client(create_token(store, "alice", "admin")) as alice:
            made = alice.put(f"/api/v1/components/{name}/hello/visibility", json={"public": True})
            assert made.status_code == 200 and made.json()["public"] is True
        with secured.server.client(secured.bob) as bob:
            assert (
                bob.put(f"/api/v1/components/{name}/hello/visibility", json={"public": False}).status_code
                == 403
            )
        found = answer("component", "search", "greets", "--server", url, token=secured.bob)
        assert [(c["name"], c["public"]) for c in found] == [("hello", True)]
        pulled = answer("component", "pull", f"{name}/hello", "--server", url, token=secured.bob)
        assert pulled["digest"] == pushed["digest"]
        assert granted(token_for(secured, secured.bob, f"repository:{name}/hello:pull,push")) == [
            {"type": "repository", "name": f"{name}/hello", "actions": ["pull"]}
        ]
    finally:
        remove_images(engine, name)


@pytest.mark.docker
def test_the_server_records_only_what_the_registry_holds(secured: Secured, store: Store) -> None:
    """A version recorded through the API must be in the registry with that image; another
    image under a recorded version is refused (409)."""
    create_org(store, "acme", owner="alice")
    spec = {"namespace": "acme", "name": "tool", "version": "1.0.0", "title": "A tool"}
    body = {"image_id": "sha256:" + "a" * 64, "spec": spec}
    with secured.server.client(secured.alice) as alice:
        answer = alice.post("/api/v1/components/acme/tool/versions/1.0.0", json=body)
        assert answer.status_code == 422, answer.text
        assert "does not hold acme/tool:1.0.0" in answer.json()["error"]
        other = alice.post("/api/v1/components/acme/tool/versions/2.0.0", json=body)
        assert other.status_code == 422 and "not acme/tool:2.0.0" in other.json()["error"]
    with secured.server.client(secured.bob) as bob:
        assert bob.post("/api/v1/components/acme/tool/versions/1.0.0", json=body).status_code == 404


@pytest.mark.docker
def test_a_server_configured_for_it_lets_anyone_read_public_components(
    secured: Secured, engine: docker.DockerClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = {"username": "alice", "password": secured.alice}
    for name in ("pub", "priv"):
        assert push(engine, secured.address, f"alice/{name}", alice) == ""
        jwt_token = registry_auth.load_signer().issue(  # type: ignore[union-attr]
            "t", [registry_auth.Access("alice", name, ("pull",))]
        )[0]
        held = registry.manifest_digest(f"alice/{name}", "1.0.0", secured.address, token=jwt_token)
        assert held is not None
        Catalog(store).record(PushRecord("alice", name, "1.0.0", held[0], held[1], {}, ""))
    Catalog(store).set_public("alice", "pub", True)
    url = secured.server.url
    # not configured: a token is needed everywhere
    assert httpx.get(f"{url}/api/v1/components").status_code == 401
    assert pull(engine, secured.address, "alice/pub", None) != ""
    monkeypatch.setenv("COOPS_SERVER_ANONYMOUS_READ", "1")
    listed = httpx.get(f"{url}/api/v1/components").json()["components"]
    assert [(c["namespace"], c["name"]) for c in listed] == [("alice", "pub")]
    assert httpx.get(f"{url}/api/v1/components/alice/pub").status_code == 200
    assert httpx.get(f"{url}/api/v1/components/alice/priv").status_code == 404
    anonymous = httpx.get(
        f"{url}/registry/token",
        params={"scope": ["repository:alice/pub:pull,push", "repository:alice/priv:pull"]},
    )
    assert granted(anonymous) == [{"type": "repository", "name": "alice/pub", "actions": ["pull"]}]
    assert (None, "repository:alice/priv:pull") in refusals(store)
    assert pull(engine, secured.address, "alice/pub", None) == ""
    assert pull(engine, secured.address, "alice/priv", None) != ""
    assert push(engine, secured.address, "alice/pub", None) != ""
    # a token that is given is still checked
    assert httpx.get(f"{url}/api/v1/components", headers={"Authorization": "Bearer nope"}).status_code == 401


#: _HEAVY_PROBE, and which of Rich's console and pygments were loaded when the process first
#: connected to the Engine, and whether httpx's command line was ever imported.
_PULL_PROBE = (
    """
import os, sys
engine = (os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock").removeprefix("unix://")
at_engine = []
def seen(event, args):
    if event == "socket.connect" and args[1] == engine and not at_engine:
        at_engine.append(sorted(m for m in ("rich.console", "pygments") if m in sys.modules))
sys.addaudithook(seen)
"""
    + _HEAVY_PROBE
    + """
print("at the engine:", at_engine, "httpx's command line:", sys.modules.get("httpx._main", "loaded"))
"""
)


@pytest.mark.docker
def test_coops_component_pull_asks_the_server_once_and_goes_anonymous_where_allowed(
    secured: Secured,
    engine: docker.DockerClient,
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pull through the server asks the API for the version only (no /api/v1/registry, no
    whoami), so without a token it pulls a public component from a server that allows
    anonymous reads, and a private one is missing; a registry that is down is said (exit 1).
    The push before it, of a component already built, loads neither the Docker SDK nor the
    store (it asks the Engine with httpx whether the build is up to date)."""
    monkeypatch.delenv("COOPS_TOKEN", raising=False)
    name = unique()
    create_org(store, name, owner="alice")
    client_home = tmp_path / "client"
    url = secured.server.url

    def run(*args: str, token: str | None = None, check: int = 0) -> subprocess.CompletedProcess[str]:
        env = {"COOPS_TOKEN": token} if token else {}
        return coops(*args, home=client_home, check=check, extra_env=env, cwd=tmp_path)

    pull_args = ("component", "pull", f"{name}/hello", "--server", url)
    try:
        run("component", "init", "hello", "--lang", "shell", "--namespace", name)
        run("component", "build", "hello")
        pushing = subprocess.run(
            [sys.executable, "-c", _HEAVY_PROBE, "component", "push", "hello", "--server", url, "--json"],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
            env={**os.environ, "COOPS_HOME": str(client_home), "COOPS_TOKEN": secured.alice},
        )
        assert pushing.stdout.endswith("heavy: []\n"), pushing.stdout + pushing.stderr
        assert f"coops/{name}/hello:0.1.0 is up to date with" in pushing.stderr
        pushed = json.loads(pushing.stdout.removesuffix("heavy: []\n"))
        assert pushed["created"] is True
        Catalog(store).set_public(name, "hello", True)
        remove_images(engine, name)
        run(*pull_args, check=2)  # not configured: a token is needed
        monkeypatch.setenv("COOPS_SERVER_ANONYMOUS_READ", "1")
        pulled = json.loads(run(*pull_args, "--json").stdout)
        assert pulled["digest"] == pushed["digest"]
        assert engine.images.get(f"coops/{name}/hello:0.1.0").id == pushed["image_id"]
        # ... with neither the Docker SDK nor the store loaded (most of its start-up was
        # theirs), nor httpx's command line, and Rich only once the Engine was asked
        remove_images(engine, name)
        probe = subprocess.run(
            [sys.executable, "-c", _PULL_PROBE, *pull_args],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
            env={**os.environ, "COOPS_HOME": str(client_home)},
        )
        assert "heavy: []" in probe.stdout, probe.stdout + probe.stderr
        assert "at the engine: [[]] httpx's command line: None" in probe.stdout, probe.stdout
        assert f"pulling {secured.address}/{name}/hello@" in probe.stderr
        assert engine.images.get(f"coops/{name}/hello:0.1.0").id == pushed["image_id"]
        Catalog(store).set_public(name, "hello", False)
        assert f"no component {name}/hello in the repository" in run(*pull_args, check=2).stderr
        remove_images(engine, name)
        registry.stop()
        said = run(*pull_args, token=secured.alice, check=1).stderr
        assert "is not answering" in said and "coops registry start" in said and "Traceback" not in said
    finally:
        remove_images(engine, name)
