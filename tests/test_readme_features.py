"""Features the README promises that no other test covered, each through the real CLI or
a real ``coops server`` process: ``validate --plan``, a service job's text body,
``coops server --host`` / ``--public-url`` and ``/docs``, the ``COOPS_SMTP_*`` settings,
a Slack receiver given as ``secret: SLACK_URL`` and the receivers' default of 5 attempts."""

from __future__ import annotations

import email
import json
import ssl
import subprocess
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from containerops.component.testserver import CaptureServer
from containerops.server.secrets import set_secret
from containerops.store import Store
from containerops.store.accounts import create_token, create_user
from containerops.store.notifications import list_notifications
from tests.cli.test_cli import coops, write
from tests.server.conftest import ServerProcess, free_port, server_process
from tests.server.flows import start, wait_for_run
from tests.server.test_engine_features import service_doc
from tests.waiting import wait_for

__all__ = ["server_process"]  # a fixture, used by name


def test_validate_plan_shows_what_runs_when(tmp_path: Path) -> None:
    flow = write(
        tmp_path,
        textwrap.dedent(
            """\
            uri: demo/plan/ci
            stages:
              - {type: start, name: start}
              - name: build
                actions:
                  - name: compile
                    jobs:
                      - {name: c, endpoint: containerops/base:busybox, command: [sh, -c, "true"]}
                      - {name: link, endpoint: containerops/base:busybox, command: [sh, -c, "true"]}
              - name: check
                sequencing: parallel
                actions:
                  - name: unit
                    jobs: [{name: test, endpoint: containerops/base:busybox, command: [sh, -c, "true"]}]
                  - name: lint
                    jobs: [{name: style, endpoint: containerops/base:busybox, command: [sh, -c, "true"]}]
              - name: ship
                actions:
                  - name: a
                    jobs: [{name: one, endpoint: containerops/base:busybox, command: [sh, -c, "true"]}]
                  - name: b
                    jobs: [{name: two, endpoint: containerops/base:busybox, command: [sh, -c, "true"]}]
              - {type: end, name: end}
            """
        ),
    )
    done = coops("validate", "--plan", str(flow), home=tmp_path / "home", check=0)
    assert done.stderr.splitlines() == [
        f"✔ {flow}: valid (demo/plan/ci, 5 stages, 6 jobs)",
        "    1. build: compile.c -> compile.link",
        "    2. check: unit.test | lint.style",
        "    3. ship: a.one",
        "    4. ship: b.two",
    ]
    plain = coops("validate", str(flow), home=tmp_path / "home", check=0)
    assert plain.stderr.splitlines() == [f"✔ {flow}: valid (demo/plan/ci, 5 stages, 6 jobs)"]


def test_a_service_job_sends_a_text_body_as_it_is_written(tmp_path: Path) -> None:
    with CaptureServer() as service:
        flow = write(
            tmp_path,
            textwrap.dedent(
                f"""\
                uri: demo/notify/ci
                environments: {{RELEASE: "1.2.3"}}
                stages:
                  - {{type: start, name: start}}
                  - name: tell
                    actions:
                      - name: qa
                        jobs:
                          - name: post
                            type: service
                            service:
                              url: {service.url}/builds
                              method: POST
                              body: "release ${{{{ env.RELEASE }}}} is out: {{not json}}"
                  - {{type: end, name: end}}
                """
            ),
        )
        coops("run", str(flow), "-e", "local", home=tmp_path / "home", check=0)
        [got] = service.wait_for(1)
    assert (got.method, got.path, got.body) == ("POST", "/builds", b"release 1.2.3 is out: {not json}")
    assert "application/json" not in got.headers.get("content-type", "")


@pytest.fixture
def root_token(store: Store) -> str:
    create_user(store, "root", admin=True)
    return create_token(store, "root", "admin")


def test_server_host_public_url_and_docs(coops_home: Path, store: Store, root_token: str) -> None:
    """``--host 127.0.0.2`` listens there only; callbacks are given on ``--public-url``;
    ``/docs`` serves the browsable API next to ``/openapi.json``."""
    public = "http://ci.example.test:8443"
    process = ServerProcess(coops_home, "dummy", "--host", "127.0.0.2", "--public-url", public)
    process.url = f"http://127.0.0.2:{process.port}"
    process.start()
    try:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{process.port}/openapi.json", timeout=5)
        docs = httpx.get(f"{process.url}/docs", timeout=10)
        assert docs.status_code == 200 and "swagger-ui" in docs.text and "/openapi.json" in docs.text
        with (
            CaptureServer() as service,
            httpx.Client(
                base_url=process.url, headers={"Authorization": f"Bearer {root_token}"}, timeout=30
            ) as api,
        ):
            doc = service_doc(service.url + "/build", method="POST", body={"a": 1})
            run = start(api, doc)
            [asked] = service.wait_for(1)
            callback = asked.headers["co-callback-url"]
            assert callback.startswith(f"{public}/api/v1/callbacks/")
            assert asked.json()["CO_CALLBACK_URL"] == callback
            # the public address is this server behind a proxy: post to it directly
            answer = httpx.post(
                process.url + callback.removeprefix(public), json={"result": True}, timeout=10
            )
            assert answer.status_code == 200, answer.text
            assert wait_for_run(api, run["id"])["status"] == "success"
    finally:
        process.stop()


def receivers_flow(receivers: str, uri: str = "acme/shop/ci") -> str:
    return textwrap.dedent(
        f"""\
        uri: {uri}
        receivers:
        {textwrap.indent(textwrap.dedent(receivers).strip(), "  ")}
        stages:
          - {{type: start, name: start}}
          - name: test
            actions:
              - name: unit
                jobs:
                  - name: run
                    endpoint: containerops/base:busybox
                    environments: {{CO_DUMMY_EXIT_CODE: "1"}}
          - {{type: end, name: end}}
        """
    )


def run_on(process: ServerProcess, token: str, uri: str) -> int:
    with httpx.Client(base_url=process.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        started = api.post("/api/v1/runs", json={"flow": uri})
        assert started.status_code == 202, started.text
        run_id: int = started.json()["id"]
        assert wait_for_run(api, run_id)["status"] == "failure"
    return run_id


def settled(store: Store, run_id: int, seconds: float = 60) -> dict[str, Any]:
    """The run's one notification once it has a final status."""

    def final() -> bool:
        found = list_notifications(store, run_id)
        return len(found) == 1 and found[0]["status"] != "sending"

    wait_for(final, f"the notification of run {run_id} to settle", seconds)
    return list_notifications(store, run_id)[0]


def test_a_slack_receiver_given_as_a_secret_is_tried_5_times_by_default(
    store: Store, root_token: str, server_process: Any
) -> None:
    """No attempts set anywhere: the server's default is 5 (with its own backoff of about
    15 s in all), and the Slack URL comes from the namespace's secret."""
    with CaptureServer(statuses=[503] * 10) as slack:
        set_secret(store, "acme", "SLACK_URL", slack.url + "/services/T0/B0/xyz")
        store.save_flow("acme/shop/ci", receivers_flow("- {type: slack, secret: SLACK_URL}"), "yaml")
        process = server_process("dummy")
        run_id = run_on(process, root_token, "acme/shop/ci")
        record = settled(store, run_id)
        got = list(slack.received)
    assert (record["kind"], record["status"], record["attempts"]) == ("slack", "failed", 5)
    assert record["error"] == "HTTP 503 from 127.0.0.1"
    assert [(r.method, r.path) for r in got] == [("POST", "/services/T0/B0/xyz")] * 5
    assert "acme/shop/ci" in got[0].json()["text"]
    assert "xyz" not in json.dumps(record)  # the secret URL is not shown


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[tuple[str, str]] = []
        self.encrypted: list[bool] = []

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.encrypted.append(session.ssl is not None)
        return "250 Message accepted for delivery"

    def authenticate(
        self, _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=(data.login, data.password) == (b"ci-bot", b"smtp-pass"))


@contextmanager
def smtp_server(**options: Any) -> Iterator[tuple[Inbox, int]]:
    """aiosmtpd on 127.0.0.1 that records what it gets (``options`` go to its Controller)."""
    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=box.authenticate, **options)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with smtp_server(auth_require_tls=False) as found:
        yield found


def smtp_env(monkeypatch: pytest.MonkeyPatch, port: int, **more: str) -> None:
    for name, value in {
        "COOPS_SMTP_HOST": "127.0.0.1",
        "COOPS_SMTP_PORT": str(port),
        "COOPS_SMTP_FROM": "ci@acme.example",
        "COOPS_SMTP_USER": "ci-bot",
        "COOPS_SMTP_PASSWORD": "smtp-pass",
        **more,
    }.items():
        monkeypatch.setenv(name, value)


def test_email_uses_the_coops_smtp_settings(
    store: Store,
    root_token: str,
    server_process: Any,
    inbox: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, port = inbox
    smtp_env(monkeypatch, port)
    store.save_flow("acme/shop/ci", receivers_flow("- {type: mail, address: ops@acme.example}"), "yaml")
    process = server_process("dummy")  # the server reads them from its environment
    run_id = run_on(process, root_token, "acme/shop/ci")
    record = settled(store, run_id)
    assert (record["status"], record["attempts"]) == ("sent", 1)
    assert box.logins == [("ci-bot", "smtp-pass")]
    assert box.encrypted == [False]
    [(sender, recipients, content)] = box.messages
    assert (sender, recipients) == ("ci@acme.example", ["ops@acme.example"])
    mail = email.message_from_bytes(content)
    assert mail["From"] == "ci@acme.example"
    assert mail["Subject"] == f"[ContainerOps] acme/shop/ci #{store.get_run(run_id).number} failure"


def test_email_with_coops_smtp_starttls(
    store: Store, root_token: str, server_process: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``COOPS_SMTP_STARTTLS=1`` against a server that takes no mail (nor login) before STARTTLS."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with smtp_server(tls_context=context, require_starttls=True) as (box, port):
        smtp_env(monkeypatch, port, COOPS_SMTP_STARTTLS="1")
        store.save_flow("acme/shop/ci", receivers_flow("- {type: mail, address: ops@acme.example}"), "yaml")
        process = server_process("dummy")
        run_id = run_on(process, root_token, "acme/shop/ci")
        record = settled(store, run_id)
    assert (record["status"], record["attempts"]) == ("sent", 1), record
    assert box.logins == [("ci-bot", "smtp-pass")]
    assert box.encrypted == [True]
    assert [(sender, rcpts) for sender, rcpts, _ in box.messages] == [
        ("ci@acme.example", ["ops@acme.example"])
    ]
