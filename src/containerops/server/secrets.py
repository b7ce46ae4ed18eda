"""Secrets per namespace, encrypted at rest with the server key.

Values are sealed with AES-256-GCM; the namespace and name are the associated
data, so a ciphertext copied to another row does not open. The key is
``COOPS_SERVER_KEY`` (32 bytes, URL-safe base64) or the file
``COOPS_HOME/server.key``, created on first use with mode 0600. Values are never
listed or answered by the API; runs get them through :func:`namespace_secrets`
and the engine masks them in every log line.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets as random
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from containerops.model.names import ENV_NAME
from containerops.store import Store, StoreError, coops_home
from containerops.store.accounts import check_name
from containerops.store.secrets import delete_sealed, put_sealed, sealed_secret, sealed_secrets, secret_names

KEY_ENV = "COOPS_SERVER_KEY"
KEY_FILE = "server.key"
#: What ``${{ secrets.NAME }}`` accepts: a variable-like name.
MAX_NAME = 128
MAX_VALUE = 64 * 1024


class SecretError(StoreError):
    """A bad secret name or value, an unknown secret, or a key that does not fit."""


def check_secret_name(name: str) -> str:
    if not ENV_NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise SecretError(
            f"invalid secret name {name!r}: use letters, digits and '_' (not first), at most {MAX_NAME}"
        )
    return name


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise SecretError(f"{where}: the server key must be 32 bytes in URL-safe base64 (44 characters)")
    return key


def key_path() -> Path:
    return coops_home() / KEY_FILE


def server_key(*, create: bool = True) -> bytes:
    """The server key: from ``COOPS_SERVER_KEY``, else ``COOPS_HOME/server.key`` (made if missing)."""
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return _decode_key(from_env, KEY_ENV)
    path = key_path()
    if not path.exists():
        if not create:
            raise SecretError(f"no server key at {path} (and {KEY_ENV} is not set)")
        path.parent.mkdir(parents=True, exist_ok=True)
        text = base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()
        try:  # O_EXCL: two processes starting at once keep the same key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(text + "\n")
    return _decode_key(path.read_text(), str(path))


def _aad(namespace: str, name: str) -> bytes:
    return f"{namespace}/{name}".encode()


def seal(key: bytes, namespace: str, name: str, value: str) -> str:
    nonce = random.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), _aad(namespace, name))
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(key: bytes, namespace: str, name: str, ciphertext: str) -> str:
    raw = base64.urlsafe_b64decode(ciphertext.encode())
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], _aad(namespace, name)).decode()
    except InvalidTag:
        raise SecretError(
            f"secret {name!r} of {namespace!r} does not open with this server key "
            f"(was {KEY_ENV} or {KEY_FILE} changed?)"
        ) from None


def set_secret(store: Store, namespace: str, name: str, value: str) -> bool:
    """Store (or replace) a secret; True when it is new."""
    try:
        check_name(namespace, "namespace")
    except StoreError as error:
        raise SecretError(str(error)) from None
    check_secret_name(name)
    if not value:
        raise SecretError(f"secret {name!r}: the value is empty")
    if len(value.encode()) > MAX_VALUE:
        raise SecretError(f"secret {name!r}: the value is longer than {MAX_VALUE} bytes")
    return put_sealed(store, namespace, name, seal(server_key(), namespace, name, value))


def delete_secret(store: Store, namespace: str, name: str) -> None:
    if not delete_sealed(store, namespace, name):
        raise SecretError(f"no secret {name!r} in namespace {namespace!r}")


def list_secrets(store: Store, namespace: str) -> list[dict[str, object]]:
    """Names and dates only: values never leave through a listing."""
    return secret_names(store, namespace)


def namespace_secrets(store: Store, namespace: str) -> dict[str, str]:
    """Every secret of ``namespace``, decrypted: what a run of its flows may reference."""
    sealed = sealed_secrets(store, namespace)
    if not sealed:
        return {}
    key = server_key()
    return {name: unseal(key, namespace, name, ciphertext) for name, ciphertext in sealed.items()}


def get_secret(store: Store, namespace: str, name: str) -> str | None:
    """One secret's value, or None when the namespace has no secret by that name."""
    ciphertext = sealed_secret(store, namespace, name)
    return None if ciphertext is None else unseal(server_key(), namespace, name, ciphertext)
