"""Deprecated and yanked versions: what resolution, validation, the CLI and the API do
with them; nothing of a version is ever deleted or overwritten."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from containerops.model.component_refs import parse_ref
from containerops.model.diagnostics import FlowInvalid
from containerops.model.loader import parse_flow
from containerops.repository.catalog import Catalog, CatalogError, UnknownComponent
from containerops.repository.usage import resolve_components
from containerops.store import Store
from tests.cli.test_cli import coops, write
from tests.repository.test_usage import push

USE = """\
uri: test/life/ci
stages:
  - name: tell
    actions:
      - name: team
        jobs:
          - name: send
            component: {ref}
            inputs: {{message: hi, token: t0ken}}
"""


@pytest.fixture
def catalog(store: Store) -> Catalog:
    catalog = Catalog(store)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        push(catalog, version)
    return catalog


def test_a_yanked_version_is_never_chosen_and_refused_when_named(catalog: Catalog) -> None:
    catalog.yank("acme", "notify", "1.2.0", "it leaks the token", "1.1.0")
    assert catalog.resolve(parse_ref("acme/notify")).version == "1.1.0"
    assert catalog.resolve(parse_ref("acme/notify:1")).version == "1.1.0"
    with pytest.raises(
        UnknownComponent, match=r"acme/notify:1.2.0 is yanked: it leaks the token; use 1.1.0 instead"
    ):
        catalog.resolve(parse_ref("acme/notify:1.2.0"))
    assert catalog.resolve(parse_ref("acme/notify:1.2.0"), pinned=True).yanked == "it leaks the token"
    # nothing is lost: unyanked, it is the newest again
    catalog.yank("acme", "notify", "1.2.0", None)
    assert catalog.resolve(parse_ref("acme/notify")).version == "1.2.0"


def test_a_replacement_must_be_another_version_not_yanked(catalog: Catalog) -> None:
    catalog.yank("acme", "notify", "1.0.0", "old")
    for replacement in ("9.9.9", "1.0.0", "1.2.0"):  # never pushed, yanked, the version itself
        with pytest.raises(CatalogError, match="must be another version, pushed and not yanked"):
            catalog.yank("acme", "notify", "1.2.0", "broken", replacement)
    with pytest.raises(UnknownComponent, match=re.escape("no version 3.0.0 of acme/notify")):
        catalog.deprecate("acme", "notify", "3.0.0", "gone")


def test_resolution_warns_of_a_deprecated_version_and_refuses_a_yanked_one(
    store: Store, catalog: Catalog
) -> None:
    catalog.deprecate("acme", "notify", "1.1.0", "1.x ends in March: use 2.x")
    flow = parse_flow(USE.format(ref="acme/notify:1.1.0"), "flow.yaml").flow
    [warning] = resolve_components(store, flow, filename="flow.yaml").warnings
    assert str(warning) == (
        "flow.yaml:8:24: warning: job 'tell.team.send': acme/notify:1.1.0 is deprecated: "
        "1.x ends in March: use 2.x"
    )
    catalog.yank("acme", "notify", "1.1.0", "broken", "1.2.0")
    flow = parse_flow(USE.format(ref="acme/notify:1.1.0"), "flow.yaml").flow
    with pytest.raises(
        FlowInvalid, match=re.escape("acme/notify:1.1.0 is yanked: broken; use 1.2.0 instead")
    ):
        resolve_components(store, flow, filename="flow.yaml")


def test_the_cli_deprecates_yanks_and_shows_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    seeded = Store.open(f"sqlite:///{home / 'containerops.db'}")  # the CLI's store, in its home
    try:
        for version in ("1.0.0", "1.1.0"):
            push(Catalog(seeded), version)
    finally:
        seeded.close()
    flow = write(tmp_path, USE.format(ref="acme/notify:1.0.0"))

    said = coops("component", "deprecate", "acme/notify:1.0.0", "-m", "use 1.1", home=home, check=0)
    assert "acme/notify:1.0.0: deprecated: use 1.1" in said.stderr
    valid = coops("validate", str(flow), home=home, check=0)
    assert (
        "warning: job 'tell.team.send': acme/notify:1.0.0 is deprecated: use 1.1"
        in valid.stderr + valid.stdout
    )

    coops(
        "component", "yank", "acme/notify:1.0.0", "-m", "broken", "--replacement", "1.1.0", home=home, check=0
    )
    refused = coops("validate", str(flow), home=home, check=None)
    said = refused.stderr + refused.stdout
    assert refused.returncode != 0 and "acme/notify:1.0.0 is yanked: broken; use 1.1.0 instead" in said
    shown = coops("component", "show", "acme/notify:1.0.0", home=home, check=0).stdout
    assert "yanked: broken (use 1.1.0)" in shown
    document = json.loads(
        coops("component", "show", "acme/notify:1.0.0", "--json", home=home, check=0).stdout
    )
    assert document["yanked"] == {"reason": "broken", "replacement": "1.1.0"}
    assert document["deprecated"] == "use 1.1"
    no_reason = coops("component", "yank", "acme/notify:1.1.0", home=home, check=None)
    assert no_reason.returncode == 2 and "say why (--message)" in no_reason.stderr
    partial = coops("component", "yank", "acme/notify:1.1", "-m", "x", home=home, check=None)
    assert partial.returncode == 2 and "name the whole version" in partial.stderr
