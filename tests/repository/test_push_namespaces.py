"""``component push --organization`` and ``--library``, with ``coops`` processes against
the suite's registry: the kind a pushed-to namespace gets, and a maintainer's push into
``library`` from outside this repository's ``components/`` folder."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.cli.test_cli import coops
from tests.repository.test_roundtrip import namespace, remove_images

__all__ = ["namespace"]  # a fixture, used by name


def kinds(home: Path, registry: str) -> dict[str, str]:
    """``namespace/name`` -> the namespace's kind, as ``component list --json`` shows them."""
    listed = coops("component", "list", "--json", home=home, check=0, extra_env={"COOPS_REGISTRY": registry})
    return {f"{c['namespace']}/{c['name']}": c["namespace_kind"] for c in json.loads(listed.stdout)}


@pytest.mark.docker
def test_push_organization_makes_an_organizations_namespace(
    tmp_path: Path, namespace: str, registry_address: str
) -> None:
    home = tmp_path / "home"
    env = {"COOPS_REGISTRY": registry_address}
    other = f"{namespace}u"
    try:
        for ns in (namespace, other):
            coops(
                "component",
                "init",
                ns,
                "--lang",
                "shell",
                "--namespace",
                ns,
                home=home,
                check=0,
                cwd=tmp_path,
            )
        coops(
            "component", "push", namespace, "--organization", home=home, check=0, extra_env=env, cwd=tmp_path
        )
        coops("component", "push", other, home=home, check=0, extra_env=env, cwd=tmp_path)
        assert kinds(home, registry_address) == {
            f"{namespace}/{namespace}": "organization",
            f"{other}/{other}": "user",
        }
        # a namespace keeps the kind it was made with
        again = coops(
            "component", "push", other, "--organization", home=home, check=2, extra_env=env, cwd=tmp_path
        )
        assert f"namespace '{other}' exists already as user, not organization" in again.stderr
    finally:
        remove_images(other)


@pytest.mark.docker
def test_push_library_publishes_from_a_copy(
    tmp_path: Path, registry_address: str, docker_ready: None
) -> None:
    home = tmp_path / "home"
    env = {"COOPS_REGISTRY": registry_address}
    name = f"t{uuid.uuid4().hex[:10]}"
    try:
        coops(
            "component",
            "init",
            name,
            "--lang",
            "shell",
            "--namespace",
            "tmpns",
            home=home,
            check=0,
            cwd=tmp_path,
        )
        spec = tmp_path / name / "component.yaml"
        spec.write_text(spec.read_text().replace("namespace: tmpns", "namespace: library"))
        refused = coops("component", "push", name, home=home, check=2, extra_env=env, cwd=tmp_path)
        assert "namespace 'library' is reserved" in refused.stderr
        pushed = coops(
            "component", "push", name, "--library", "--json", home=home, check=0, extra_env=env, cwd=tmp_path
        )
        result = json.loads(pushed.stdout)
        assert (result["namespace"], result["name"], result["created"]) == ("library", name, True)
        assert result["image"] == f"{registry_address}/library/{name}@{result['digest']}"
        assert kinds(home, registry_address) == {f"library/{name}": "library"}
        shown = coops("component", "show", f"library/{name}", "--json", home=home, check=0, extra_env=env)
        assert json.loads(shown.stdout)["digest"] == result["digest"]
    finally:
        remove_images("library", name)
