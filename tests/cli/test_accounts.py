"""``coops user|org|token|secret`` and ``coops run --secret``: real processes, real store."""

from __future__ import annotations

import hashlib
import json
import re
import stat
import subprocess
from pathlib import Path

import sqlalchemy as sa

from containerops.store import Store, accounts
from containerops.store import schema as t
from tests.cli.test_cli import coops, write


def test_users_orgs_and_members(tmp_path: Path) -> None:
    home = tmp_path / "home"
    coops("user", "create", "alice", home=home, check=0)
    coops("user", "create", "bob", "--admin", home=home, check=0)
    coops("org", "create", "acme", "--owner", "alice", home=home, check=0)
    coops("org", "add-member", "acme", "bob", "--role", "writer", home=home, check=0)
    coops("org", "add-member", "acme", "bob", "--role", "reader", home=home, check=0)  # changes the role
    members = json.loads(coops("org", "members", "acme", "--json", home=home, check=0).stdout)
    assert members == [{"user": "alice", "role": "owner"}, {"user": "bob", "role": "reader"}]
    users = json.loads(coops("user", "list", "--json", home=home, check=0).stdout)
    assert [(u["name"], u["admin"]) for u in users] == [("alice", False), ("bob", True)]


def test_bad_names_and_taken_namespaces_are_refused_plainly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = coops("user", "create", "Alice", home=home, check=2)
    assert "invalid user name 'Alice'" in bad.stderr and "lowercase" in bad.stderr
    assert "reserved" in coops("org", "create", "library", home=home, check=2).stderr
    assert "invalid" in coops("org", "create", "../x", home=home, check=2).stderr
    coops("user", "create", "alice", home=home, check=0)
    assert "'alice' is not available" in coops("org", "create", "alice", home=home, check=2).stderr
    assert (
        "no user 'nobody'" in coops("org", "create", "acme", "--owner", "nobody", home=home, check=2).stderr
    )
    coops("org", "create", "acme", home=home, check=0)
    assert (
        "invalid role"
        in coops("org", "add-member", "acme", "alice", "--role", "boss", home=home, check=2).stderr
    )


def test_token_is_printed_once_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    home = tmp_path / "home"
    coops("user", "create", "alice", home=home, check=0)
    made = coops("token", "create", "--user", "alice", "--scope", "write", "--name", "ci", home=home, check=0)
    token = made.stdout.strip()
    assert token.startswith("coops_") and "shown only this once" in made.stderr
    listed = coops("token", "list", "--json", home=home, check=0).stdout
    assert token not in listed
    [row] = json.loads(listed)
    assert (row["name"], row["user"], row["scope"], row["state"]) == ("ci", "alice", "write", "active")
    assert row["key"] in token
    store = Store.open(f"sqlite:///{home / 'containerops.db'}")
    try:
        assert accounts.authenticate(store, token).user == "alice"
        with store.database.connect() as conn:
            dump = "\n".join(str(tuple(r)) for r in conn.execute(sa.select(t.api_tokens)))
        secret_part = token.split("_", 2)[2]  # coops_<key>_<secret>; the secret may hold "_" too
        assert token not in dump and secret_part not in dump
        coops("token", "revoke", "ci", home=home, check=0)
        assert (
            json.loads(coops("token", "list", "--json", home=home, check=0).stdout)[0]["state"] == "revoked"
        )
    finally:
        store.close()


def test_token_options_are_checked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    coops("user", "create", "alice", home=home, check=0)
    assert "invalid scope" in coops("token", "create", "-u", "alice", "-s", "root", home=home, check=2).stderr
    assert (
        "--expires" in coops("token", "create", "-u", "alice", "--expires", "soon", home=home, check=2).stderr
    )
    assert (
        "already past"
        in coops("token", "create", "-u", "alice", "--expires", "2001-01-01", home=home, check=2).stderr
    )
    assert "no user" in coops("token", "create", "-u", "nobody", home=home, check=2).stderr
    made = json.loads(
        coops("token", "create", "-u", "alice", "--expires", "30d", "--json", home=home, check=0).stdout
    )
    assert made["expires_at"] and made["scope"] == "read"
    assert "no token" in coops("token", "revoke", "nope", home=home, check=2).stderr


def test_secrets_are_encrypted_listed_by_name_and_removed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    value = "very-secret-value-42"
    coops("secret", "set", "acme", "API_KEY", "--value-stdin", home=home, check=0, input=value + "\n")
    key_file = home / "server.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    listed = coops("secret", "list", "acme", "--json", home=home, check=0).stdout
    assert [s["name"] for s in json.loads(listed)] == ["API_KEY"] and value not in listed
    assert value.encode() not in (home / "containerops.db").read_bytes()
    assert (
        "replaced"
        in coops(
            "secret", "set", "acme", "API_KEY", "--value-stdin", home=home, check=0, input="x2345"
        ).stdout
    )
    assert (
        "invalid secret name"
        in coops("secret", "set", "acme", "bad-name", "--value-stdin", home=home, check=2, input="v").stderr
    )
    assert "--value-stdin" in coops("secret", "set", "acme", "OTHER", home=home, check=2, input="").stderr
    coops("secret", "rm", "acme", "API_KEY", home=home, check=0)
    assert "no secret" in coops("secret", "rm", "acme", "API_KEY", home=home, check=2).stderr


SECRET_FLOW = """\
uri: acme/app/deploy
stages:
  - name: ship
    actions:
      - name: push
        jobs:
          - name: login
            command:
              - sh
              - -c
              - |
                echo "login with $PASSWORD and $CO_USER"
                echo "password sha256 $(printf %s "$PASSWORD" | sha256sum | cut -c1-64)"
                echo "user sha256 $(printf %s "$CO_USER" | sha256sum | cut -c1-64)"
            environments: {PASSWORD: "${{ secrets.REGISTRY_PASSWORD }}"}
            inputs: {user: "${{ secrets.REGISTRY_USER }}"}
"""


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def used_secrets(home: Path, ran: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The sha256 of each secret value the job was given, from the lines it printed."""
    logs = coops("logs", str(json.loads(ran.stdout)["id"]), home=home, check=0).stdout
    assert "login with *** and ***" in logs
    return dict(re.findall(r"(password|user) sha256 ([0-9a-f]{64})", logs))


def test_run_takes_secrets_from_store_file_and_options(tmp_path: Path) -> None:
    """The store, then --secrets-file, then --secret: each later source wins. The job prints
    the hash of each value it got (the values themselves are masked)."""
    home = tmp_path / "home"
    flow = write(tmp_path, SECRET_FLOW)
    missing = coops("run", str(flow), "--executor", "local", home=home, check=2)
    assert "REGISTRY_PASSWORD (used by job ship.push.login)" in missing.stderr
    assert "nothing was started" in missing.stderr

    for name, value in (("REGISTRY_PASSWORD", "from-the-store"), ("REGISTRY_USER", "user-from-store")):
        coops("secret", "set", "acme", name, "--value-stdin", home=home, check=0, input=value)
    ran = coops("run", str(flow), "-e", "local", "--json", home=home, check=0)
    assert used_secrets(home, ran) == {
        "password": sha256("from-the-store"),
        "user": sha256("user-from-store"),
    }

    # the file wins over the store, for the names it gives
    secrets_file = write(tmp_path, "# for local runs\nREGISTRY_USER=user-from-file\n", "secrets.env")
    ran = coops(
        "run", str(flow), "-e", "local", "--secrets-file", str(secrets_file), "--json", home=home, check=0
    )
    assert used_secrets(home, ran) == {"password": sha256("from-the-store"), "user": sha256("user-from-file")}
    logs = coops("logs", str(json.loads(ran.stdout)["id"]), home=home, check=0).stdout
    assert "from-the-store" not in logs + ran.stdout + ran.stderr and "user-from-file" not in logs

    # --secret wins over the file; NAME alone takes the environment variable
    both = write(tmp_path, "REGISTRY_USER=user-from-file\nREGISTRY_PASSWORD=password-from-file\n", "both.env")
    ran = coops(
        "run", str(flow), "-e", "local", "--secrets-file", str(both),
        "--secret", "REGISTRY_USER", "--secret", "REGISTRY_PASSWORD=given-on-the-command-line",
        "--json", home=home, check=0, extra_env={"REGISTRY_USER": "user-from-env"},
    )  # fmt: skip
    assert used_secrets(home, ran) == {
        "password": sha256("given-on-the-command-line"),
        "user": sha256("user-from-env"),
    }

    bad = write(tmp_path, "JUST A LINE\n", "bad.env")
    assert (
        f"{bad}:1: expected NAME=VALUE"
        in coops("run", str(flow), "-e", "local", "--secrets-file", str(bad), home=home, check=2).stderr
    )


def test_validate_reports_malformed_references(tmp_path: Path) -> None:
    flow = write(tmp_path, SECRET_FLOW.replace("secrets.REGISTRY_USER", "secret.REGISTRY_USER"))
    result = coops("validate", str(flow), home=tmp_path / "home", check=2)
    assert "flow.yaml:16:" in result.stderr and "is not a known reference" in result.stderr
