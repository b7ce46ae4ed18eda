"""Namespace secrets: the server key, encryption at rest, the API, and a server run
whose job prints a secret that never reaches the store or the live stream in clear."""

from __future__ import annotations

import base64
import hashlib
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.dbscan import assert_never_stored
from tests.server.conftest import LiveServer
from tests.server.flows import flow_doc, start, wait_for_run

from containerops.server.secrets import (
    KEY_ENV,
    SecretError,
    get_secret,
    namespace_secrets,
    server_key,
    set_secret,
)
from containerops.store import Store
from containerops.store import schema as t
from containerops.store.accounts import create_org, create_token, create_user

VALUE = "hunter2-the-real-one 'quoted'"


def test_the_key_file_is_made_once_with_mode_0600(coops_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    key = server_key()
    path = coops_home / "server.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 32 and server_key() == key


def test_the_key_can_come_from_the_environment(coops_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, base64.urlsafe_b64encode(b"k" * 32).decode())
    assert server_key() == b"k" * 32
    assert not (coops_home / "server.key").exists()
    monkeypatch.setenv(KEY_ENV, "too-short")
    with pytest.raises(SecretError, match="32 bytes"):
        server_key()


def test_values_are_encrypted_at_rest_and_bound_to_their_row(store: Store, coops_home: Path) -> None:
    assert set_secret(store, "acme", "TOKEN", VALUE) is True
    assert set_secret(store, "acme", "OTHER", "another-value") is True
    assert set_secret(store, "acme", "TOKEN", VALUE) is False  # replaced
    with store.database.connect() as conn:
        rows = conn.execute(sa.select(t.secrets)).all()
    assert all(VALUE not in repr(tuple(row)) for row in rows)
    store.database.dispose()  # checkpoint the WAL into the file, then read the raw bytes
    raw = b"".join(p.read_bytes() for p in coops_home.glob("containerops.db*"))
    assert VALUE.encode() not in raw and b"another-value" not in raw
    assert get_secret(store, "acme", "TOKEN") == VALUE
    assert namespace_secrets(store, "acme") == {"TOKEN": VALUE, "OTHER": "another-value"}
    assert get_secret(store, "acme", "NOPE") is None and namespace_secrets(store, "other") == {}

    # a ciphertext moved to another name does not open
    with store.database.begin() as conn:
        token = conn.execute(sa.select(t.secrets.c.ciphertext).where(t.secrets.c.name == "TOKEN")).scalar()
        conn.execute(t.secrets.update().where(t.secrets.c.name == "OTHER").values(ciphertext=token))
    with pytest.raises(SecretError, match="does not open"):
        get_secret(store, "acme", "OTHER")


def test_a_changed_key_is_a_clear_error(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    set_secret(store, "acme", "TOKEN", VALUE)
    monkeypatch.setenv(KEY_ENV, base64.urlsafe_b64encode(b"x" * 32).decode())
    with pytest.raises(SecretError, match=r"was COOPS_SERVER_KEY or server\.key changed"):
        namespace_secrets(store, "acme")


def test_bad_names_and_values_are_refused(store: Store) -> None:
    for namespace, name, value in [
        ("Acme", "X", "v"),
        ("acme", "1X", "v"),
        ("acme", "A-B", "v"),
        ("acme", "X", ""),
    ]:
        with pytest.raises(SecretError):
            set_secret(store, namespace, name, value)
    with pytest.raises(SecretError, match="longer than"):
        set_secret(store, "acme", "BIG", "x" * (64 * 1024 + 1))


@pytest.fixture
def owner(store: Store) -> str:
    create_user(store, "alice")
    create_org(store, "acme", owner="alice")
    return create_token(store, "alice", "admin")


def test_the_secrets_api_never_answers_a_value(server: LiveServer, owner: str) -> None:
    with server.client(owner) as alice:
        made = alice.put("/api/v1/namespaces/acme/secrets/TOKEN", json={"value": VALUE})
        assert made.status_code == 201 and VALUE not in made.text
        again = alice.put("/api/v1/namespaces/acme/secrets/TOKEN", json={"value": VALUE})
        assert again.status_code == 200 and again.json()["created"] is False
        listed = alice.get("/api/v1/namespaces/acme/secrets")
        assert [s["name"] for s in listed.json()] == ["TOKEN"] and VALUE not in listed.text
        assert alice.put("/api/v1/namespaces/acme/secrets/BAD-NAME", json={"value": "v"}).status_code == 422
        assert alice.put("/api/v1/namespaces/acme/secrets/EMPTY", json={"value": ""}).status_code == 422
        assert alice.put("/api/v1/namespaces/acme/secrets/NOBODY", json={}).status_code == 422
        assert alice.get("/api/v1/namespaces/carol/secrets").status_code == 404
        assert alice.delete("/api/v1/namespaces/acme/secrets/TOKEN").status_code == 204
        assert alice.delete("/api/v1/namespaces/acme/secrets/TOKEN").status_code == 404
        assert alice.get("/api/v1/namespaces/acme/secrets").json() == []


LEAK = 'echo "token is $TOKEN"; echo "input is $CO_PASS"; echo "[COUT] LEAK = $TOKEN"; echo "$TOKEN" >&2'


def leaky_flow(executor: str) -> dict[str, Any]:
    doc = flow_doc(
        "acme/app/deploy",
        command=["sh", "-c", LEAK],
        inputs={"pass": "${{ secrets.TOKEN }}"},
    )
    job = doc["stages"][1]["actions"][0]["jobs"][0]
    job["environments"] = {"TOKEN": "${{ secrets.TOKEN }}"}
    if executor == "docker":
        job["endpoint"] = "containerops/base:busybox"
    return doc


def run_and_stream(client: httpx.Client, flow: str) -> tuple[int, str]:
    started = client.post("/api/v1/runs", json={"flow": flow})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    with client.stream("GET", f"/api/v1/runs/{run_id}/logs/stream", timeout=120) as stream:
        assert stream.status_code == 200
        text = "".join(stream.iter_text())
    deadline = time.monotonic() + 60
    while client.get(f"/api/v1/runs/{run_id}").json()["status"] not in ("success", "failure"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return run_id, text


def check_server_run(store: Store, client: httpx.Client, executor: str) -> None:
    assert client.put("/api/v1/namespaces/acme/secrets/TOKEN", json={"value": VALUE}).status_code == 201
    assert client.post("/api/v1/flows", json=leaky_flow(executor)).status_code == 201
    run_id, streamed = run_and_stream(client, "acme/app/deploy")
    run = client.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "success", run
    assert "token is ***" in streamed and "input is ***" in streamed
    logs = client.get(f"/api/v1/runs/{run_id}/logs").text
    assert "token is ***" in logs
    stored = "\n".join(row.line for row in store.log_lines(run_id))
    assert stored.count("***") >= 3
    flow = client.get("/api/v1/flows/acme/app/deploy").text
    for text in (streamed, logs, stored, repr(run), flow, store.flow_source(run_id)):
        assert VALUE not in text and "hunter2" not in text
    assert run["jobs"][0]["outputs"] == {"LEAK": "***"}
    assert_never_stored(VALUE)


def test_a_secret_printed_by_a_local_job_stays_masked(
    start_server: Callable[..., LiveServer], store: Store, owner: str
) -> None:
    server = start_server("local")
    with server.client(owner) as alice:
        check_server_run(store, alice, "local")


@pytest.mark.docker
def test_a_secret_printed_by_a_docker_job_stays_masked(
    start_server: Callable[..., LiveServer], store: Store, owner: str, docker_ready: None
) -> None:
    server = start_server("docker", network_mode="host")
    with server.client(owner) as alice:
        check_server_run(store, alice, "docker")


def test_an_unknown_secret_refuses_the_run_with_its_name(
    server: LiveServer, store: Store, owner: str
) -> None:
    with server.client(owner) as alice:
        assert alice.post("/api/v1/flows", json=leaky_flow("dummy")).status_code == 201
        refused = alice.post("/api/v1/runs", json={"flow": "acme/app/deploy"})
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert "TOKEN" in body["error"] and "build.unit.job0" in body["error"]
        assert body["missing_secrets"] == ["TOKEN"]
        assert alice.get("/api/v1/runs").json()["runs"] == []
    assert store.list_runs() == []


def test_a_paused_run_gets_its_secrets_back_after_a_restart(
    start_server: Callable[..., LiveServer], store: Store, owner: str
) -> None:
    """The jobs after a pause run in a restored engine: it must substitute and mask as well."""
    server = start_server("local")
    doc = leaky_flow("local")
    job = doc["stages"][1]["actions"][0]["jobs"][0]
    job["command"] = ["sh", "-c", 'echo "token is $TOKEN"; printf %s "$TOKEN" | sha256sum']
    doc["stages"].insert(1, {"type": "pause", "name": "gate"})
    with server.client(owner) as alice:
        assert alice.put("/api/v1/namespaces/acme/secrets/TOKEN", json={"value": VALUE}).status_code == 201
        run_id = start(alice, doc)["id"]
        assert wait_for_run(alice, run_id, until=("paused",))["status"] == "paused"
    server.restart()
    with server.client(owner) as alice:
        assert alice.post(f"/api/v1/runs/{run_id}/approve", json={}).status_code == 200
        run = wait_for_run(alice, run_id)
    assert run["status"] == "success", run
    lines = [row.line for row in store.log_lines(run_id)]
    assert "token is ***" in lines
    assert any(line.startswith(hashlib.sha256(VALUE.encode()).hexdigest()) for line in lines), lines
