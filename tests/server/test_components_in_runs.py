"""Flows whose jobs use ``component:`` run through the server as through ``coops run``:
resolved to the recorded digest before the run exists, inputs checked against the spec
(422 and no run otherwise), secret inputs masked."""

from __future__ import annotations

import json

import httpx
from tests.server.conftest import LiveServer
from tests.server.flows import wait_for_run

from containerops.component.spec import parse_spec
from containerops.repository.catalog import Catalog
from containerops.store import Store
from containerops.store.components import PushRecord

SPEC = """\
namespace: acme
name: notify
version: 1.0.0
title: Notify
inputs:
  - {name: message, type: string, required: true}
  - {name: token, type: string, secret: true, required: true}
outputs:
  - {name: ECHO}
"""

DIGEST = "sha256:" + "7" * 64


def flow(inputs: str) -> str:
    return f"""\
uri: acme/notify/ci
stages:
  - name: tell
    actions:
      - name: team
        jobs:
          - name: send
            component: acme/notify
            inputs: {inputs}
            environments:
              CO_DUMMY_OUTPUTS: "ECHO=tok-s3cret-value"
              CO_DUMMY_LINES: "1"
"""


def record_component(store: Store) -> None:
    spec = parse_spec(SPEC)
    Catalog(store).record(
        PushRecord(
            namespace="acme",
            name="notify",
            version="1.0.0",
            digest=DIGEST,
            image_id="sha256:image-1",
            spec=spec.model_dump(mode="json", exclude_none=True),
            readme="",
        )
    )


def test_a_component_job_runs_its_recorded_digest_with_secrets_masked(
    server: LiveServer, admin: httpx.Client, store: Store
) -> None:
    record_component(store)
    created = admin.post("/api/v1/flows", content=flow("{message: hi, token: tok-s3cret-value}"))
    assert created.status_code == 201, created.text
    started = admin.post("/api/v1/runs", json={"flow": "acme/notify/ci"})
    assert started.status_code == 202, started.text
    document = wait_for_run(admin, started.json()["id"])
    assert document["status"] == "success"
    (job,) = document["jobs"]
    assert job["outputs"] == {"ECHO": "***"}
    executor = server.manager.executor
    (spec,) = [s for s in executor.started if s.run_id == started.json()["uid"]]  # type: ignore[attr-defined]
    assert spec.image.endswith(f"/acme/notify@{DIGEST}")
    assert spec.env["CO_MESSAGE"] == "hi"


def test_inputs_that_do_not_match_the_spec_are_422_and_nothing_is_stored(
    server: LiveServer, admin: httpx.Client, store: Store
) -> None:
    """A flow that a run would refuse is not stored either: its newest version always runs."""
    record_component(store)
    refused = admin.post("/api/v1/flows", content=flow("{mesage: hi}"))
    assert refused.status_code == 422, refused.text
    job = "job 'tell.team.send' (acme/notify:1.0.0)"
    assert [(p["message"], p["line"], p["column"]) for p in refused.json()["problems"]] == [
        (f"{job}: input 'message': is required (string)", 9, 21),
        (f"{job}: input 'token': is required (string)", 9, 21),
        (f"{job}: input 'mesage': acme/notify has no such input; did you mean 'message'?", 9, 22),
    ]
    assert admin.get("/api/v1/flows").json()["flows"] == []
    assert admin.get("/api/v1/runs").json()["runs"] == []


def test_the_repository_is_readable_through_the_api(
    server: LiveServer, admin: httpx.Client, store: Store
) -> None:
    record_component(store)
    listed = admin.get("/api/v1/components").json()["components"]
    assert [(c["namespace"], c["name"]) for c in listed] == [("acme", "notify")]
    found = admin.get("/api/v1/components", params={"q": "noti"}).json()["components"]
    assert [c["name"] for c in found] == ["notify"]
    assert admin.get("/api/v1/components", params={"q": "zzz"}).json()["components"] == []
    shown = admin.get("/api/v1/components/acme/notify")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["digest"] == DIGEST and body["spec"]["inputs"][0]["name"] == "message"
    assert [v["version"] for v in body["versions"]] == ["1.0.0"]
    missing = admin.get("/api/v1/components/acme/nope")
    assert missing.status_code == 404 and "no component acme/nope" in missing.json()["error"]
    assert admin.get("/api/v1/components/acme/Bad..name").status_code == 422
    assert httpx.get(f"{server.url}/api/v1/components").status_code == 401  # anonymous sees nothing


def test_a_token_sees_only_components_of_its_namespaces(server: LiveServer, store: Store) -> None:
    from containerops.store.accounts import create_token, create_user

    record_component(store)
    create_user(store, "bob")
    with server.client(create_token(store, "bob", "read")) as bob:
        assert bob.get("/api/v1/components").json()["components"] == []
        assert bob.get("/api/v1/components/acme/notify").status_code == 404


def test_a_flow_cannot_use_a_private_component_of_a_namespace_it_may_not_read(
    server: LiveServer, store: Store
) -> None:
    """Alice's flow naming bob's private component is refused exactly as if it did not exist;
    a component of an organization alice belongs to runs, and so does bob's once public."""
    from containerops.store.accounts import create_org, create_token, create_user, set_member

    record_component(store)  # acme/notify
    for name in ("alice", "bob"):
        create_user(store, name)
    create_org(store, "acme", owner="bob")
    bobs = SPEC.replace("namespace: acme", "namespace: bob").replace("name: notify", "name: privtool")
    Catalog(store).record(
        PushRecord(
            namespace="bob",
            name="privtool",
            version="1.0.0",
            digest=DIGEST,
            image_id="sha256:image-2",
            spec=parse_spec(bobs).model_dump(mode="json", exclude_none=True),
            readme="",
        )
    )
    inputs = "{message: hi, token: tok-s3cret-value}"
    with server.client(create_token(store, "alice", "write")) as alice:
        answers = {}
        for name, component in [
            ("private", "bob/privtool"),
            ("missing", "bob/nothere"),
            ("org", "acme/notify"),
        ]:
            doc = (
                flow(inputs).replace("acme/notify/ci", f"alice/app/{name}").replace("acme/notify", component)
            )
            answers[name] = alice.post("/api/v1/flows", content=doc)
        private, missing, org = answers["private"], answers["missing"], answers["org"]
        assert private.status_code == missing.status_code == 422
        expected = missing.text.replace("nothere", "privtool").replace("app/missing", "app/private")
        assert private.json() == json.loads(expected), private.text
        assert "privtool" not in missing.text  # not suggested either
        assert org.status_code == 422  # alice is not (yet) in acme
        set_member(store, "acme", "alice", "reader")
        doc = flow(inputs).replace("acme/notify/ci", "alice/app/org")
        assert alice.post("/api/v1/flows", content=doc).status_code == 201
        assert alice.post("/api/v1/runs", json={"flow": "alice/app/org"}).status_code == 202
        assert [r["uri"] for r in alice.get("/api/v1/runs").json()["runs"]] == ["alice/app/org"]
        # once bob makes it public, every flow may use it (issue 15: one rule of who reads)
        Catalog(store).set_public("bob", "privtool", True)
        doc = (
            flow(inputs).replace("acme/notify/ci", "alice/app/private").replace("acme/notify", "bob/privtool")
        )
        assert alice.post("/api/v1/flows", content=doc).status_code == 201


def record(store: Store, namespace: str, name: str, version: str, digit: str) -> None:
    """A pushed version of ``namespace/name`` as the catalog keeps it (image digest sha256:DIGIT*64)."""
    text = SPEC.replace("namespace: acme", f"namespace: {namespace}").replace("name: notify", f"name: {name}")
    Catalog(store).record(
        PushRecord(
            namespace=namespace,
            name=name,
            version=version,
            digest="sha256:" + digit * 64,
            image_id=f"sha256:image-{digit}",
            spec=parse_spec(text.replace("version: 1.0.0", f"version: {version}")).model_dump(
                mode="json", exclude_none=True
            ),
            readme=f"# {name} {version}",
        ),
        kind="library" if namespace == "library" else "user",
    )


def test_a_version_is_shown_with_version_and_everyone_reads_library(server: LiveServer, store: Store) -> None:
    from containerops.store.accounts import create_token, create_user

    record(store, "acme", "notify", "1.0.0", "1")
    record(store, "acme", "notify", "1.1.0", "2")
    record(store, "library", "shell", "2.0.0", "3")
    create_user(store, "bob")  # in no organization: he reads his own namespace and library
    with server.client(create_token(store, "bob", "read")) as bob:
        listed = bob.get("/api/v1/components").json()["components"]
        assert [(c["namespace"], c["name"]) for c in listed] == [("library", "shell")]
        shell = bob.get("/api/v1/components/library/shell")
        assert shell.status_code == 200, shell.text
        assert (shell.json()["version"], shell.json()["readme"]) == ("2.0.0", "# shell 2.0.0")
        assert bob.get("/api/v1/components/acme/notify").status_code == 404
        assert bob.get("/api/v1/components/acme/notify", params={"version": "1.0.0"}).status_code == 404
    create_user(store, "root", admin=True)
    with server.client(create_token(store, "root", "admin")) as admin:
        newest = admin.get("/api/v1/components/acme/notify").json()
        older = admin.get("/api/v1/components/acme/notify", params={"version": "1.0.0"}).json()
        absent = admin.get("/api/v1/components/acme/notify", params={"version": "9.9.9"})
        bad = admin.get("/api/v1/components/acme/notify", params={"version": "latest!"})
    assert (newest["version"], newest["digest"], newest["readme"]) == (
        "1.1.0",
        "sha256:" + "2" * 64,
        "# notify 1.1.0",
    )
    assert (older["version"], older["digest"], older["readme"]) == (
        "1.0.0",
        "sha256:" + "1" * 64,
        "# notify 1.0.0",
    )
    assert [v["version"] for v in older["versions"]] == [v["version"] for v in newest["versions"]]
    assert sorted(v["version"] for v in older["versions"]) == ["1.0.0", "1.1.0"]
    assert absent.status_code == 404, absent.text
    assert bad.status_code == 422 and "latest!" in bad.json()["error"], bad.text
