"""Where ``coops run`` finds the values of ``${{ secrets.NAME }}``.

Later sources win: the flow's namespace secrets in the local store (``coops
secret set``, the same ones the server uses), then ``--secrets-file`` (``NAME=VALUE``
lines), then ``--secret NAME=VALUE`` or ``--secret NAME`` (the value of the
environment variable NAME, which keeps it out of shell history). Only a flow
that references secrets reads the store's, so other runs never need the server key.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from containerops.engine.secrets import flow_references
from containerops.model.flow import Flow
from containerops.model.references import SECRET_REF
from containerops.store import Store


class SecretsInputError(ValueError):
    """A ``--secret`` or ``--secrets-file`` that cannot be read; says where."""


def _check_name(name: str, where: str) -> str:
    if SECRET_REF.match(f"secrets.{name}") is None:
        raise SecretsInputError(f"{where}: {name!r} is not a secret name (letters, digits and '_')")
    return name


def parse_secret_args(values: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        _check_name(name, f"--secret {name}")
        if not sep:
            if name not in os.environ:
                raise SecretsInputError(
                    f"--secret {name}: no environment variable {name} to take it from (or give NAME=VALUE)"
                )
            rest = os.environ[name]
        found[name] = rest
    return found


def read_secrets_file(path: Path) -> dict[str, str]:
    """``NAME=VALUE`` lines, the value verbatim to the end of the line; ``#`` comments."""
    try:
        text = path.read_text()
    except OSError as error:
        raise SecretsInputError(f"--secrets-file {path}: {error.strerror}") from None
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise SecretsInputError(f"{path}:{number}: expected NAME=VALUE")
        found[_check_name(name.strip(), f"{path}:{number}")] = value
    return found


def local_secret_values(
    store: Store, flow: Flow, args: Iterable[str], file: Path | None, overrides: dict[str, str]
) -> dict[str, str]:
    """Every value the run may substitute, from the three sources in order."""
    values: dict[str, str] = {}
    given = {**(read_secrets_file(file) if file else {}), **parse_secret_args(args)}
    wanted = set(flow_references(flow, overrides))
    if wanted - set(given):
        from containerops.server.secrets import namespace_secrets

        values.update(namespace_secrets(store, flow.namespace))
    values.update(given)
    return values
