"""Receivers on a live server: GitHub commit statuses, Slack, signed webhooks and email
(through a local aiosmtpd), retries with backoff, and runs that stay as they ended."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from containerops.component.testserver import CaptureServer
from containerops.contract.signatures import sign
from containerops.server.secrets import set_secret
from containerops.store import Store
from containerops.store.notifications import list_notifications
from tests.server.conftest import LiveServer, free_port

SHA = "d" * 40


def flow(receivers: str, *, exit_code: int = 0, uri: str = "acme/shop/ci") -> str:
    """A one-job flow (the dummy executor exits ``exit_code``) with the given receivers list."""
    head = f"uri: {uri}\ntriggers:\n  - {{type: github, events: [pull_request], secret: GITHUB_HOOK}}\n"
    body = textwrap.dedent(
        f"""\
        stages:
          - {{type: start, name: start}}
          - type: normal
            name: test
            actions:
              - name: unit
                jobs:
                  - name: run
                    endpoint: containerops/base:busybox
                    environments: {{CO_DUMMY_EXIT_CODE: "{exit_code}"}}
          - {{type: end, name: end}}
        """
    )
    return head + "receivers:\n" + textwrap.indent(textwrap.dedent(receivers).strip(), "  ") + "\n" + body


def fast(server: LiveServer, attempts: int = 3) -> None:
    """Retries in milliseconds rather than seconds: the backoff's shape is the same."""
    notifier = server.app.state.notifier  # type: ignore[union-attr]
    notifier.backoff, notifier.max_backoff, notifier.attempts = 0.01, 0.05, attempts


def pull_request(server: LiveServer, uri: str = "acme/shop/ci") -> int:
    payload = {
        "action": "synchronize",
        "number": 9,
        "pull_request": {"head": {"sha": SHA, "ref": "fix"}, "base": {"ref": "main"}},
        "repository": {"full_name": "acme/shop", "clone_url": "https://github.com/acme/shop.git"},
    }
    body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": sign("hook", body)}
    with server.client() as client:
        answer = client.post(f"/hooks/github/{uri}", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    run_id: int = answer.json()["run"]["id"]
    server.call(lambda: server.manager.wait(run_id))
    return run_id


def settled(store: Store, run_id: int, count: int, timeout: float = 30) -> list[dict[str, Any]]:
    """The run's notifications once ``count`` of them have a final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list_notifications(store, run_id)
        if len(found) >= count and all(n["status"] != "sending" for n in found):
            return found
        time.sleep(0.02)
    raise AssertionError(f"notifications not settled: {list_notifications(store, run_id)}")


@pytest.fixture
def secrets(store: Store) -> None:
    set_secret(store, "acme", "GITHUB_HOOK", "hook")
    set_secret(store, "acme", "GITHUB_TOKEN", "ghp_secret_token")
    set_secret(store, "acme", "SIGNING_KEY", "signing-key")


def test_a_pull_request_run_reports_to_github_slack_and_a_signed_webhook(
    store: Store, server: LiveServer, secrets: None
) -> None:
    with CaptureServer() as github, CaptureServer() as slack, CaptureServer() as hook:
        store.save_flow(
            "acme/shop/ci",
            flow(
                f"""\
                - {{type: github, secret: GITHUB_TOKEN, url: "{github.url}/api/v3", context: ci/unit}}
                - {{type: slack, url: "{slack.url}/services/T/B/X"}}
                - {{type: webhook, url: "{hook.url}/runs", secret: SIGNING_KEY, on: [success]}}
                """
            ),
            "yaml",
        )
        fast(server)
        run_id = pull_request(server)
        pending, final = github.wait_for(2)
        (message,) = slack.wait_for(1)
        (posted,) = hook.wait_for(1)
    run = store.get_run(run_id)
    assert run.status == "success"
    for request, state in ((pending, "pending"), (final, "success")):
        assert request.path == f"/api/v3/repos/acme/shop/statuses/{SHA}"
        assert request.headers["authorization"] == "Bearer ghp_secret_token"
        assert request.json()["state"] == state
        assert request.json()["context"] == "ci/unit"
        assert request.json()["target_url"].endswith(f"/api/v1/runs/{run_id}")
    text = message.json()["text"]
    assert f"*acme/shop/ci #{run.number}* success in" in text and f"/api/v1/runs/{run_id}|Open run" in text
    expected = "sha256=" + hmac.new(b"signing-key", posted.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(posted.headers["x-containerops-signature-256"], expected)
    assert posted.json()["run"]["status"] == "success" and posted.json()["event"] == "run.finished"
    records = settled(store, run_id, 4)
    assert sorted((n["kind"], n["event"], n["status"], n["attempts"]) for n in records) == [
        ("github", "finished", "sent", 1),
        ("github", "started", "sent", 1),
        ("slack", "finished", "sent", 1),
        ("webhook", "finished", "sent", 1),
    ]
    assert "ghp_secret_token" not in json.dumps(records)
    assert all("/services/T/B/X" not in n["target"] for n in records)


def test_a_failed_run_names_its_failed_jobs_and_skips_success_only_receivers(
    store: Store, server: LiveServer, secrets: None
) -> None:
    with CaptureServer() as github, CaptureServer() as slack, CaptureServer() as hook:
        store.save_flow(
            "acme/shop/ci",
            flow(
                f"""\
                - {{type: github, secret: GITHUB_TOKEN, url: "{github.url}"}}
                - {{type: slack, url: "{slack.url}/hook", on: [failure]}}
                - {{type: webhook, url: "{hook.url}/runs", on: [success]}}
                """,
                exit_code=3,
            ),
            "yaml",
        )
        fast(server)
        run_id = pull_request(server)
        states = [r.json()["state"] for r in github.wait_for(2)]
        (message,) = slack.wait_for(1)
        settled(store, run_id, 3)
    assert store.get_run(run_id).status == "failure"
    assert states == ["pending", "failure"]
    assert "Failed jobs: `test.unit.run`" in message.json()["text"]
    assert hook.received == []  # on: [success] only


def test_a_receiver_that_is_down_is_retried_recorded_and_changes_nothing(
    store: Store, server: LiveServer, secrets: None
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with (
        CaptureServer(statuses=[503, 503, 503]) as flaky,
        CaptureServer(statuses=[500, 200]) as recovers,
        CaptureServer(statuses=[404]) as gone,
    ):
        store.save_flow(
            "acme/shop/ci",
            flow(
                f"""\
                - {{type: slack, url: "{flaky.url}/down"}}
                - {{type: slack, url: "{recovers.url}/flaky"}}
                - {{type: webhook, url: "{gone.url}/nothing-here"}}
                - {{type: webhook, url: "{closed}/refused"}}
                """
            ),
            "yaml",
        )
        fast(server, attempts=3)
        run_id = pull_request(server)
        records = settled(store, run_id, 4)
        assert len(flaky.received) == 3 and len(recovers.received) == 2 and len(gone.received) == 1
    down = next(n for n in records if flaky.url.split("//")[1] in n["target"])
    assert (down["status"], down["attempts"], down["error"]) == ("failed", 3, "HTTP 503 from 127.0.0.1")
    back = next(n for n in records if recovers.url.split("//")[1] in n["target"])
    assert (back["status"], back["attempts"], back["error"]) == ("sent", 2, None)
    missing = next(n for n in records if "nothing-here" in n["target"])
    assert (missing["status"], missing["attempts"]) == ("failed", 1)  # a 404 is not retried
    refused = next(n for n in records if "refused" in n["target"])
    assert (refused["status"], refused["attempts"]) == ("failed", 3)
    assert refused["error"].startswith("ConnectError")
    assert store.get_run(run_id).status == "success"


def test_a_github_receiver_without_its_token_secret_records_why(store: Store, server: LiveServer) -> None:
    set_secret(store, "acme", "GITHUB_HOOK", "hook")
    with CaptureServer() as github:
        store.save_flow(
            "acme/shop/ci", flow(f'- {{type: github, secret: NOPE, url: "{github.url}"}}'), "yaml"
        )
        run_id = pull_request(server)
        records = settled(store, run_id, 2)
    assert github.received == []
    assert {(n["status"], n["attempts"], n["error"]) for n in records} == {
        ("failed", 0, "Unsendable: secret NOPE is not set in namespace acme")
    }
    assert store.get_run(run_id).status == "success"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_email_through_smtp_and_the_original_mail_form(
    store: Store, server: LiveServer, smtp: tuple[Inbox, int], secrets: None
) -> None:
    inbox, port = smtp
    store.save_flow(
        "acme/shop/ci",
        flow(
            f"""\
            - {{type: mail, address: ops@example.com, host: 127.0.0.1, port: {port}}}
            - {{type: email, to: [a@example.com, b@example.com], from: ci@example.com, host: 127.0.0.1,
                port: {port}, on: [failure]}}
            """,
            exit_code=1,
        ),
        "yaml",
    )
    fast(server)
    run_id = pull_request(server)
    records = settled(store, run_id, 2)
    assert {n["status"] for n in records} == {"sent"}
    assert sorted(rcpt for _, rcpts, _ in inbox.messages for rcpt in rcpts) == [
        "a@example.com",
        "b@example.com",
        "ops@example.com",
    ]
    mails = {tuple(rcpts): email.message_from_bytes(content) for _, rcpts, content in inbox.messages}
    original = mails[("ops@example.com",)]
    number = store.get_run(run_id).number
    assert original["Subject"] == f"[ContainerOps] acme/shop/ci #{number} failure"
    assert original["From"] == "containerops@localhost"
    assert "failed jobs: test.unit.run" in original.get_payload()
    assert mails[("a@example.com", "b@example.com")]["From"] == "ci@example.com"


def test_the_webhook_signature_is_the_documented_one() -> None:
    assert sign("k", b"{}") == "sha256=" + hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()


def test_github_never_gets_pending_after_the_final_state(
    store: Store, server: LiveServer, secrets: None
) -> None:
    # The first "pending" fails and is retried; the run (dummy executor) ends meanwhile.
    with CaptureServer(statuses=[503]) as github:
        store.save_flow(
            "acme/shop/ci", flow(f'- {{type: github, secret: GITHUB_TOKEN, url: "{github.url}"}}'), "yaml"
        )
        fast(server)
        run_id = pull_request(server)
        states = [r.json()["state"] for r in github.wait_for(3)]
        settled(store, run_id, 2)
    assert states == ["pending", "pending", "success"]


def test_a_run_no_commit_started_skips_commit_statuses_and_shows_its_notifications(
    store: Store, server: LiveServer, secrets: None, admin_token: str
) -> None:
    with CaptureServer() as github, CaptureServer() as slack:
        flow_id, _, _ = store.save_flow(
            "acme/shop/ci",
            flow(
                f"""\
                - {{type: github, secret: GITHUB_TOKEN, url: "{github.url}"}}
                - {{type: slack, url: "{slack.url}/x"}}
                """
            ),
            "yaml",
        )
        submitted = server.call(lambda: server.manager.submit(flow_id, trigger={"type": "api"}))
        server.call(lambda: server.manager.wait(submitted.id))
        slack.wait_for(1)
        settled(store, submitted.id, 3)
    assert github.received == []
    with server.client(admin_token) as api:
        shown = api.get(f"/api/v1/runs/{submitted.id}/notifications").json()["notifications"]
        assert api.get("/api/v1/runs/999999/notifications").status_code == 404
    with server.client() as anonymous:
        assert anonymous.get(f"/api/v1/runs/{submitted.id}/notifications").status_code == 401
    assert sorted((n["kind"], n["event"], n["status"]) for n in shown) == [
        ("github", "finished", "skipped"),
        ("github", "started", "skipped"),
        ("slack", "finished", "sent"),
    ]
    skipped = next(n for n in shown if n["status"] == "skipped")
    assert (
        skipped["error"] == "the run has no commit to report on: it was not started by a push or pull request"
    )
