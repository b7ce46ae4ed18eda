"""One namespace model: users and organizations are the repository's namespaces, and a
component is public or private; what a reader may not read is a missing one in lookups,
listings, search and suggestions."""

from __future__ import annotations

import pytest

from containerops.model.component_refs import parse_ref
from containerops.repository.catalog import Catalog, UnknownComponent
from containerops.store import Store
from containerops.store.accounts import create_org, create_user
from tests.repository.test_catalog import record


@pytest.fixture
def catalog(store: Store) -> Catalog:
    create_user(store, "alice")
    create_org(store, "acme", owner="alice")
    found = Catalog(store)
    found.record(record("alice", "secret-tool", "1.0.0", title="Git helper", keywords=("git",)))
    found.record(record("acme", "git-sync", "1.0.0", title="Git sync", keywords=("git",)))
    found.record(
        record("library", "git-clone", "1.0.0", title="Git clone", keywords=("git",)), kind="library"
    )
    return found


def names(rows: list[object]) -> list[str]:
    return [row.full_name for row in rows]  # type: ignore[attr-defined]


def test_users_and_organizations_are_namespaces_of_the_repository(catalog: Catalog) -> None:
    assert catalog.namespace_kind("alice") == "user"
    assert catalog.namespace_kind("acme") == "organization"
    create_user(catalog.store, "carol")  # no component yet: the namespace is there
    assert catalog.namespace_kind("carol") == "user"


def test_a_private_component_is_missing_to_who_may_not_read_its_namespace(catalog: Catalog) -> None:
    bob = frozenset({"bob", "library"})
    assert names(catalog.search("git", readable=bob)) == ["library/git-clone"]
    assert names(catalog.list_components(readable=bob)) == ["library/git-clone"]
    assert names(catalog.search("git", readable=None)) == [
        "library/git-clone",
        "acme/git-sync",
        "alice/secret-tool",
    ]
    with pytest.raises(UnknownComponent) as missing:
        catalog.resolve(parse_ref("acme/git-sync"), bob.__contains__)
    assert str(missing.value).startswith("no component acme/git-sync in the repository")
    assert not [s for s in missing.value.suggestions if s.startswith(("acme/", "alice/"))]
    near = catalog.nearest("acme/git-sync", bob.__contains__)
    assert near == [] and catalog.nearest("acme/git-sync") == ["acme/git-sync"]
    alice = frozenset({"alice", "acme", "library"})
    assert catalog.resolve(parse_ref("acme/git-sync"), alice.__contains__).version == "1.0.0"


def test_public_components_and_namespaces_are_read_by_everyone(catalog: Catalog) -> None:
    bob = frozenset({"bob", "library"})
    catalog.set_public("acme", None, True)
    assert names(catalog.search("git", readable=bob)) == ["library/git-clone", "acme/git-sync"]
    assert catalog.resolve(parse_ref("acme/git-sync:1"), bob.__contains__).version == "1.0.0"
    # a component may say otherwise than its namespace
    catalog.set_public("acme", "git-sync", False)
    assert names(catalog.search("git", readable=bob)) == ["library/git-clone"]
    catalog.set_public("alice", "secret-tool", True)
    assert names(catalog.list_components(readable=bob)) == ["alice/secret-tool", "library/git-clone"]
    assert [row.public for row in catalog.list_components(readable=bob)] == [True, True]
    catalog.set_public("acme", "git-sync", None)  # as its namespace again: public
    assert "acme/git-sync" in names(catalog.search("sync", readable=bob))
    with pytest.raises(UnknownComponent):
        catalog.set_public("acme", "nothing", True)


def test_search_limits_count_only_what_the_reader_sees(catalog: Catalog) -> None:
    for index in range(30):
        catalog.record(record("alice", f"git-{index:02}", "1.0.0", keywords=("git",)))
    bob = frozenset({"bob", "library"})
    assert names(catalog.search("git", readable=bob, limit=5)) == ["library/git-clone"]
