"""Webhook triggers on a real server: signatures, tokens, redeliveries, what a run is given,
and the record of every delivery."""

from __future__ import annotations

import json
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from tests.mariadbserver import mariadb_database
from tests.pgserver import postgres_database
from tests.server.conftest import LiveServer, ServerProcess

from containerops.contract.signatures import sign
from containerops.server import limits
from containerops.server.secrets import set_secret
from containerops.server.triggers.receive import kept_headers
from containerops.store import Store, deliveries
from containerops.store.accounts import create_token, create_user

SECRET = "It's a Secret to Everybody"
FLOW = textwrap.dedent(
    """\
    uri: acme/shop/ci
    triggers:
      - {type: github, events: [push, pull_request], branches: [main, "release/*"], secret: GITHUB_HOOK}
      - {type: gitlab, secret: GITLAB_HOOK}
      - {type: webhook, token: HOOK_TOKEN}
    stages:
      - {type: start, name: start}
      - type: normal
        name: test
        actions:
          - name: unit
            jobs:
              - {name: run, endpoint: containerops/base:busybox, command: [sh, -c, "echo $CO_GIT_SHA"]}
      - {type: end, name: end}
    """
)


def push_payload(branch: str = "main", sha: str = "a" * 40) -> dict[str, Any]:
    return {
        "ref": f"refs/heads/{branch}",
        "after": sha,
        "deleted": False,
        "repository": {"full_name": "acme/shop", "clone_url": "https://github.com/acme/shop.git"},
    }


def pr_payload(action: str = "opened", base: str = "main", number: int = 42) -> dict[str, Any]:
    return {
        "action": action,
        "number": number,
        "pull_request": {"head": {"sha": "b" * 40, "ref": "feature"}, "base": {"ref": base}},
        "repository": {"full_name": "acme/shop", "clone_url": "https://github.com/acme/shop.git"},
    }


@pytest.fixture
def hooked(store: Store, server: LiveServer) -> LiveServer:
    store.save_flow("acme/shop/ci", FLOW, "yaml")
    set_secret(store, "acme", "GITHUB_HOOK", SECRET)
    set_secret(store, "acme", "GITLAB_HOOK", "gitlab-token-value")
    set_secret(store, "acme", "HOOK_TOKEN", "plain-token-value")
    return server


def github(
    client: httpx.Client,
    event: str,
    payload: dict[str, Any],
    *,
    delivery: str | None = None,
    secret: str | None = SECRET,
    signature: str | None = None,
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4())}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    elif secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    headers["Content-Type"] = "application/json"
    return client.post("/hooks/github/acme/shop/ci", content=body, headers=headers)


def runs_of(store: Store) -> list[Any]:
    return store.list_runs(uri="acme/shop/ci", limit=100)


def test_a_signed_push_queues_a_run_with_the_git_variables(hooked: LiveServer, store: Store) -> None:
    with hooked.client() as client:
        answer = github(client, "push", push_payload(), delivery="d-1")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["verdict"] == "accepted"
    run = store.get_run(body["run"]["id"])
    assert run.params["set"] == {
        "CO_GIT_URL": "https://github.com/acme/shop.git",
        "CO_GIT_REF": "refs/heads/main",
        "CO_GIT_SHA": "a" * 40,
        "CO_EVENT": "push",
        "CO_PR_NUMBER": "",
        "CO_GIT_REPOSITORY": "acme/shop",
    }
    hooked.call(lambda: hooked.manager.wait(run.id))
    assert store.get_run(run.id).status == "success"


def test_a_pull_request_gives_its_head_commit_and_number(hooked: LiveServer, store: Store) -> None:
    with hooked.client() as client:
        answer = github(client, "pull_request", pr_payload(number=7))
    assert answer.status_code == 202, answer.text
    params = store.get_run(answer.json()["run"]["id"]).params["set"]
    assert (params["CO_GIT_REF"], params["CO_GIT_SHA"], params["CO_EVENT"], params["CO_PR_NUMBER"]) == (
        "refs/pull/7/head",
        "b" * 40,
        "pull_request",
        "7",
    )
    assert (params["CO_GIT_BASE_REF"], params["CO_GIT_HEAD_REF"]) == ("main", "feature")


def not_accepted(kind: str, uri: str = "acme/shop/ci") -> dict[str, str]:
    """The one answer to every request that has not proved itself."""
    header = {"github": "X-Hub-Signature-256", "gitlab": "X-Gitlab-Token", "webhook": "X-ContainerOps-Token"}
    return {
        "error": f"not accepted: no flow {uri} has a {kind} trigger that this request's {header[kind]} "
        "header proves (check the URL, the flow's triggers and their secret)",
        "verdict": "refused",
    }


def last_delivery(api: httpx.Client, flow: str = "acme/shop/ci") -> dict[str, Any]:
    listed = api.get("/api/v1/deliveries", params={"flow": flow}).json()["deliveries"]
    return dict(api.get(f"/api/v1/deliveries/{listed[0]['id']}").json())


@pytest.mark.parametrize(
    ("secret", "signature", "reason"),
    [
        ("wrong secret", None, "X-Hub-Signature-256 does not match"),
        (None, None, "the request has no X-Hub-Signature-256 header"),
        (None, "sha256=" + "0" * 64, "X-Hub-Signature-256 does not match"),
        (None, "garbage", "X-Hub-Signature-256 does not match"),
    ],
)
def test_a_bad_or_missing_signature_is_refused_and_runs_nothing(
    hooked: LiveServer, store: Store, admin_token: str, secret: str | None, signature: str | None, reason: str
) -> None:
    with hooked.client() as client:
        answer = github(client, "push", push_payload(), secret=secret, signature=signature)
    assert (answer.status_code, answer.json()) == (401, not_accepted("github"))
    assert runs_of(store) == []
    with hooked.client(admin_token) as api:
        recorded = last_delivery(api)
    # the owners see why; the body an unproved sender sent is not kept
    assert (recorded["verdict"], recorded["status_code"]) == ("refused", 401)
    assert recorded["reason"] == f"{not_accepted('github')['error']}: {reason}"
    assert recorded["body"] == ""


def test_every_refusal_before_proof_answers_the_same_and_unknown_flows_leave_no_record(
    hooked: LiveServer, store: Store, admin_token: str
) -> None:
    """Nothing tells an anonymous caller whether a flow, its trigger or its secret exists."""
    store.save_flow("other/shop/ci", FLOW.replace("acme/shop/ci", "other/shop/ci"), "yaml")  # no secrets
    store.save_flow(
        "acme/shop/plain",
        FLOW.replace("acme/shop/ci", "acme/shop/plain").split("triggers:")[0]
        + "stages:"
        + FLOW.split("stages:")[1],
        "yaml",
    )
    body = json.dumps(push_payload()).encode()
    signed = {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(SECRET, body)}
    with hooked.client() as client:
        answers = {
            "missing flow": client.post("/hooks/github/acme/shop/nope", content=body, headers=signed),
            "no such trigger": client.post("/hooks/github/acme/shop/plain", content=body, headers=signed),
            "secret not set": client.post("/hooks/github/other/shop/ci", content=body, headers=signed),
            "wrong tag": client.post("/hook/v1/acme/shop/ci/v2", content=body, headers=signed),
            "no signature": client.post("/hooks/github/acme/shop/ci", content=body),
        }
        bad_kind = client.post("/hooks/svn/acme/shop/ci", json={})
        bad_name = client.post("/hooks/github/acme/shop/c%24i", content=b"not kept")
    for what, answer in answers.items():
        uri = {"missing flow": "acme/shop/nope", "no such trigger": "acme/shop/plain"}.get(
            what, "acme/shop/ci"
        )
        uri = "other/shop/ci" if what == "secret not set" else uri
        assert (answer.status_code, answer.json()) == (401, not_accepted("github", uri)), what
    assert bad_kind.status_code == 422
    assert (
        bad_name.status_code == 422 and "path.flow: String should match pattern" in bad_name.json()["error"]
    )
    with hooked.client(admin_token) as api:
        refused = api.get("/api/v1/deliveries", params={"verdict": "refused"}).json()["deliveries"]
        # recorded only against flows that exist, for their owners to read
        assert sorted(d["flow"] for d in refused) == [
            "acme/shop/ci",
            "acme/shop/ci",
            "acme/shop/plain",
            "other/shop/ci",
        ]
        reasons = [last_delivery(api, flow)["reason"] for flow in ("acme/shop/plain", "other/shop/ci")]
        assert reasons[0].endswith(": the flow has no github trigger")
        assert reasons[1].endswith(
            ": secret GITHUB_HOOK is not set in namespace other: nothing can be verified"
        )
        assert api.get("/api/v1/deliveries", params={"flow": "bad/uri"}).status_code == 422
        assert api.get("/api/v1/deliveries/999999").status_code == 404
    with hooked.client() as anonymous:
        assert anonymous.get("/api/v1/deliveries").status_code == 401


def test_github_form_encoded_deliveries_are_read_and_their_signature_checked(
    hooked: LiveServer, store: Store
) -> None:
    """GitHub's default content type: the JSON in a ``payload`` form field, signed over the raw body."""
    body = urlencode({"payload": json.dumps(push_payload(sha="f" * 40))}).encode()
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "form-1",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    with hooked.client() as client:
        good = client.post(
            "/hooks/github/acme/shop/ci",
            content=body,
            headers={**headers, "X-Hub-Signature-256": sign(SECRET, body)},
        )
        forged = client.post(
            "/hooks/github/acme/shop/ci",
            content=body,
            headers={
                **headers,
                "X-GitHub-Delivery": "form-2",
                "X-Hub-Signature-256": sign(SECRET, body + b"&x=1"),
            },
        )
        no_field = b"other=1"
        empty = client.post(
            "/hooks/github/acme/shop/ci",
            content=no_field,
            headers={**headers, "X-GitHub-Delivery": "form-3", "X-Hub-Signature-256": sign(SECRET, no_field)},
        )
    assert good.status_code == 202, good.text
    assert store.get_run(good.json()["run"]["id"]).params["set"]["CO_GIT_SHA"] == "f" * 40
    assert forged.status_code == 401
    assert empty.status_code == 400 and "payload" in empty.json()["reason"]
    assert len(runs_of(store)) == 1


def test_copies_of_a_delivery_sent_at_the_same_moment_start_one_run(
    hooked: LiveServer, store: Store, admin_token: str, server_process: Callable[..., ServerProcess]
) -> None:
    """Four copies of each delivery, released together by a barrier: two to this server and
    two to a ``coops server`` process on the same database. One is accepted, three are
    duplicates that name its run."""
    other = server_process()
    send_copies_at_once(store, [hooked.url, hooked.url, other.url, other.url], admin_token)


@pytest.mark.parametrize("database", [postgres_database, mariadb_database], ids=["postgresql", "mariadb"])
def test_copies_sent_at_the_same_moment_to_two_servers_on_another_database(
    coops_home: Path, database: Callable[[], AbstractContextManager[str]]
) -> None:
    """The same on PostgreSQL and MariaDB, where two servers' writes do not queue behind one lock."""
    with database() as url:
        store = Store.open(url)
        servers: list[ServerProcess] = []
        try:
            store.save_flow("acme/shop/ci", FLOW, "yaml")
            set_secret(store, "acme", "GITHUB_HOOK", SECRET)
            create_user(store, "root", admin=True)
            token = create_token(store, "root", "admin")
            for _ in range(2):
                servers.append(ServerProcess(coops_home, "dummy", env={"COOPS_DATABASE_URL": url}))
                servers[-1].start()
            send_copies_at_once(store, [servers[0].url, servers[1].url] * 2, token)
        finally:
            for server in servers:
                server.stop()
            store.close()


def send_copies_at_once(store: Store, copies: list[str], admin_token: str) -> None:
    """Send each of three deliveries to every server in ``copies`` at once: one run each."""
    body = json.dumps(push_payload()).encode()
    for delivery in ("same-1", "same-2", "same-3"):
        barrier = threading.Barrier(len(copies))
        headers = {
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(SECRET, body),
            "Content-Type": "application/json",
        }

        def send(
            url: str, headers: dict[str, str] = headers, barrier: threading.Barrier = barrier
        ) -> httpx.Response:
            with httpx.Client(base_url=url, timeout=30) as client:
                barrier.wait(30)
                return client.post("/hooks/github/acme/shop/ci", content=body, headers=headers)

        with ThreadPoolExecutor(len(copies)) as pool:
            answers = list(pool.map(send, copies))
        duplicates = len(copies) - 1
        verdicts = sorted((a.status_code, a.json()["verdict"]) for a in answers)
        assert verdicts == [(200, "duplicate")] * duplicates + [(202, "accepted")], [a.text for a in answers]
        accepted = next(a.json()["run"]["id"] for a in answers if a.status_code == 202)
        assert {a.json()["run_id"] for a in answers if a.status_code == 200} == {accepted}
    assert len(runs_of(store)) == 3
    with httpx.Client(base_url=copies[0], headers={"Authorization": f"Bearer {admin_token}"}) as api:
        listed = api.get("/api/v1/deliveries", params={"flow": "acme/shop/ci"}).json()["deliveries"]
    assert sorted((d["delivery_id"], d["verdict"]) for d in listed) == sorted(
        [(f"same-{n}", "accepted") for n in (1, 2, 3)]
        + [(f"same-{n}", "duplicate") for n in (1, 2, 3)] * duplicates
    )


@pytest.mark.parametrize(
    ("event", "payload", "reason"),
    [
        ("push", push_payload(branch="feature/x"), "branch 'feature/x' matches none of main, release/*"),
        ("pull_request", pr_payload(action="closed"), "pull request action 'closed' brings no new code"),
        ("pull_request", pr_payload(base="develop"), "branch 'develop' matches none of main, release/*"),
        ("issues", {"action": "opened"}, "event 'issues' does not start flows"),
        ("ping", {"zen": "hi"}, "ping: the hook reaches this server"),
    ],
)
def test_events_the_trigger_does_not_want_are_recorded_as_ignored(
    hooked: LiveServer, store: Store, event: str, payload: dict[str, Any], reason: str
) -> None:
    with hooked.client() as client:
        answer = github(client, event, payload)
    assert answer.status_code == 200, answer.text
    assert answer.json()["verdict"] == "ignored" and answer.json()["reason"] == reason
    assert runs_of(store) == []


def test_a_release_branch_matches_its_pattern(hooked: LiveServer) -> None:
    with hooked.client() as client:
        assert github(client, "push", push_payload(branch="release/1.2")).status_code == 202


def test_a_payload_without_what_its_event_needs_is_a_400(hooked: LiveServer, store: Store) -> None:
    with hooked.client() as client:
        answer = github(client, "push", {"ref": "refs/heads/main"})
    assert answer.status_code == 400
    assert answer.json()["reason"] == "push payload: the payload has no 'after'"
    assert runs_of(store) == []


def test_gitlab_needs_its_token(hooked: LiveServer, store: Store, admin_token: str) -> None:
    payload = {
        "ref": "refs/heads/main",
        "after": "c" * 40,
        "project": {
            "path_with_namespace": "acme/shop",
            "git_http_url": "https://gitlab.example/acme/shop.git",
        },
    }
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "g-1"}
    with hooked.client() as client:
        wrong = client.post(
            "/hooks/gitlab/acme/shop/ci", json=payload, headers={**headers, "X-Gitlab-Token": "no"}
        )
        good = client.post(
            "/hooks/gitlab/acme/shop/ci",
            json=payload,
            headers={**headers, "X-Gitlab-Token": "gitlab-token-value"},
        )
    assert (wrong.status_code, wrong.json()) == (401, not_accepted("gitlab"))
    assert good.status_code == 202, good.text
    assert store.get_run(good.json()["run"]["id"]).params["set"]["CO_GIT_SHA"] == "c" * 40
    with hooked.client(admin_token) as api:
        shown = api.get(f"/api/v1/deliveries/{good.json()['delivery']}").json()
    # The token is a secret: never stored in clear.
    assert shown["headers"]["x-gitlab-token"] == "***"
    assert "gitlab-token-value" not in json.dumps(shown)


def test_a_generic_webhook_needs_its_token_and_hands_the_body_over(hooked: LiveServer, store: Store) -> None:
    with hooked.client() as client:
        missing = client.post("/hooks/webhook/acme/shop/ci", json={"x": 1})
        good = client.post(
            "/hooks/webhook/acme/shop/ci",
            json={"x": 1},
            headers={"X-ContainerOps-Token": "plain-token-value", "X-ContainerOps-Event": "deploy"},
        )
    assert missing.status_code == 401
    assert good.status_code == 202
    params = store.get_run(good.json()["run"]["id"]).params["set"]
    assert (params["CO_EVENT"], json.loads(params["CO_WEBHOOK_PAYLOAD"])) == ("deploy", {"x": 1})


def test_the_original_pilotage_hook_route(hooked: LiveServer, store: Store) -> None:
    body = json.dumps(push_payload()).encode()
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "p-1",
        "X-Hub-Signature-256": sign(SECRET, body),
    }
    with hooked.client() as client:
        good = client.post("/hook/v1/acme/shop/ci/latest", content=body, headers=headers)
        wrong_tag = client.post("/hook/v1/acme/shop/ci/v2", content=body, headers=headers)
        token = client.post(
            "/hook/v1/acme/shop/ci/latest", headers={"X-ContainerOps-Token": "plain-token-value"}
        )
        bad_name = client.post("/hook/v1/acme/sh..op/ci/latest", content=body, headers=headers)
        bad_tag = client.post("/hook/v1/acme/shop/ci/la$test", content=body, headers=headers)
    assert good.status_code == 202, good.text
    assert (wrong_tag.status_code, wrong_tag.json()) == (401, not_accepted("github"))
    assert token.status_code == 202
    assert (
        bad_name.status_code == 400 and "repository 'sh..op' is not a valid name" in bad_name.json()["error"]
    )
    assert bad_tag.status_code == 422 and "path.tag" in bad_tag.json()["error"]
    assert len(runs_of(store)) == 2


def test_a_run_that_cannot_start_is_recorded_and_a_redelivery_may_try_again(
    hooked: LiveServer, store: Store
) -> None:
    needs_secret = FLOW.replace("stages:", "environments: {TOKEN: '${{ secrets.DEPLOY_KEY }}'}\nstages:", 1)
    store.save_flow("acme/shop/ci", needs_secret, "yaml")
    with hooked.client() as client:
        first = github(client, "push", push_payload(), delivery="retry-me")
        assert first.status_code == 422, first.text
        assert first.json()["verdict"] == "failed" and "DEPLOY_KEY" in first.json()["reason"]
        set_secret(store, "acme", "DEPLOY_KEY", "k")
        again = github(client, "push", push_payload(), delivery="retry-me")
    assert again.status_code == 202, again.text
    assert len(runs_of(store)) == 1


# -- limits: request bodies are capped, anonymous callers make the store keep little ----

MIB = 1024 * 1024


def chunks(total: int, size: int = MIB) -> Iterator[bytes]:
    """A body sent chunked, with no Content-Length to refuse it by."""
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def database_size(home: Path) -> int:
    return sum(p.stat().st_size for p in home.glob("containerops.db*"))


def test_an_api_body_over_the_cap_is_413_declared_or_chunked(
    server: LiveServer, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COOPS_SERVER_MAX_BODY", str(2 * MIB))
    with server.client(admin_token) as api:
        declared = api.post(
            "/api/v1/flows", content=b"x" * (2 * MIB + 1), headers={"Content-Type": "text/yaml"}
        )
        chunked = api.post("/api/v1/flows", content=chunks(3 * MIB), headers={"Content-Type": "text/yaml"})
        small = api.post("/api/v1/flows", content=b"uri: [", headers={"Content-Type": "text/yaml"})
    for answer in (declared, chunked):
        assert answer.status_code == 413, answer.text
        assert answer.json() == {
            "error": f"the request body is larger than {2 * MIB} bytes, this route's limit"
        }
    assert small.status_code == 422  # under the cap, the flow itself is judged


def test_a_webhook_body_over_githubs_cap_is_413_and_not_recorded(
    hooked: LiveServer,
    store: Store,
    admin_token: str,
) -> None:
    body = b"{" + b" " * limits.MAX_HOOK_BODY + b"}"
    with hooked.client() as client:
        answer = client.post(
            "/hooks/github/acme/shop/ci",
            content=body,
            headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(SECRET, body)},
        )
    assert answer.status_code == 413
    with hooked.client(admin_token) as api:
        assert api.get("/api/v1/deliveries").json()["deliveries"] == []


def test_anonymous_requests_for_missing_flows_store_nothing(
    hooked: LiveServer,
    coops_home: Path,
    admin_token: str,
) -> None:
    before = database_size(coops_home)
    with hooked.client() as client:
        for n in range(3):
            answer = client.post(f"/hooks/github/acme/shop/nope{n}", content=b"y" * (5 * MIB))
            assert answer.status_code == 401
    assert database_size(coops_home) - before < MIB
    with hooked.client(admin_token) as api:
        assert api.get("/api/v1/deliveries").json()["deliveries"] == []


def test_refusals_of_unproved_requests_are_kept_to_a_bound_per_flow(
    hooked: LiveServer,
    admin_token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deliveries, "MAX_UNPROVED_KEPT", 5)
    with hooked.client() as client:
        for n in range(12):
            answer = github(client, "push", {"n": n}, secret="wrong")
            assert answer.status_code == 401
        good = github(
            client,
            "push",
            {
                "ref": "refs/heads/main",
                "after": "a" * 40,
                "repository": {"full_name": "acme/shop", "clone_url": "https://x.example/a.git"},
            },
        )
    assert good.status_code == 202, good.text
    with hooked.client(admin_token) as api:
        kept = api.get("/api/v1/deliveries", params={"flow": "acme/shop/ci"}).json()["deliveries"]
    assert [d["verdict"] for d in kept] == ["accepted"] + ["refused"] * 5
    assert all(json.dumps(d).count("wrong") == 0 for d in kept)


def test_an_inactive_flow_is_never_started_by_a_trigger(
    hooked: LiveServer, store: Store, admin_token: str
) -> None:
    store.save_flow("acme/shop/ci", FLOW.replace("triggers:", "active: false\ntriggers:"), "yaml")
    inactive = "the flow is inactive (active: false): no trigger starts it"
    with hooked.client() as client:
        answer = github(client, "push", push_payload())
        plain = client.post(
            "/hooks/webhook/acme/shop/ci",
            content=b"{}",
            headers={"X-ContainerOps-Token": "plain-token-value"},
        )
    assert (answer.status_code, answer.json()["verdict"], answer.json()["reason"]) == (
        200,
        "ignored",
        inactive,
    )
    assert (plain.status_code, plain.json()["reason"]) == (200, inactive), plain.text
    assert runs_of(store) == []
    with hooked.client(admin_token) as api:
        recorded = last_delivery(api)
    assert (recorded["verdict"], recorded["reason"]) == ("ignored", inactive)


def test_a_delivery_keeps_only_known_headers_and_masks_tokens() -> None:
    kept = kept_headers(
        {
            "X-GitHub-Event": "push",
            "X-Hub-Signature-256": "sha256=ab",
            "X-Containerops-Token": "s3cret",
            "Cookie": "session=1",
            "User-Agent": "u" * 2000,
        }
    )
    assert kept == {
        "user-agent": "u" * 1024,
        "x-github-event": "push",
        "x-hub-signature-256": "sha256=ab",
        "x-containerops-token": "***",
    }
