"""The repository's metadata in the store: namespaces, immutable versions, ranked search."""

from __future__ import annotations

import pytest

from containerops.model.component_refs import parse_ref
from containerops.repository.catalog import Catalog, CatalogError, UnknownComponent, VersionConflict
from containerops.store import Store
from containerops.store.components import PushRecord


def record(
    namespace: str,
    name: str,
    version: str,
    *,
    image: str = "sha256:aaa",
    title: str = "",
    description: str = "",
    keywords: tuple[str, ...] = (),
) -> PushRecord:
    return PushRecord(
        namespace=namespace,
        name=name,
        version=version,
        digest=f"sha256:manifest-{name}-{version}-{image[-3:]}",
        image_id=image,
        spec={"namespace": namespace, "name": name, "version": version, "title": title},
        readme=f"# {name} {version}",
        title=title,
        description=description,
        keywords=keywords,
    )


@pytest.fixture
def catalog(store: Store) -> Catalog:
    return Catalog(store)


def test_a_version_is_recorded_once_and_never_changes(catalog: Catalog) -> None:
    row, created = catalog.record(record("acme", "tool", "1.0.0", image="sha256:one"))
    assert created and row.ref == "acme/tool:1.0.0" and row.image_id == "sha256:one"
    assert row.image("127.0.0.1:5000") == f"127.0.0.1:5000/acme/tool@{row.digest}"
    again, created = catalog.record(record("acme", "tool", "1.0.0", image="sha256:one"))
    assert not created and again.digest == row.digest and again.pushed_at == row.pushed_at
    with pytest.raises(VersionConflict) as error:
        catalog.record(record("acme", "tool", "1.0.0", image="sha256:two"))
    assert "acme/tool:1.0.0 was already pushed with another image" in str(error.value)
    assert "raise the version" in str(error.value)
    assert [v.image_id for v in catalog.versions("acme", "tool")] == ["sha256:one"]


def test_namespaces_are_made_on_first_push_and_library_is_reserved(catalog: Catalog) -> None:
    catalog.record(record("acme", "tool", "1.0.0"))
    catalog.record(record("big-org", "tool", "1.0.0"), kind="organization")
    catalog.record(record("library", "shell", "1.0.0"), kind="library")
    assert catalog.namespace_kind("acme") == "user"
    assert catalog.namespace_kind("big-org") == "organization"
    assert catalog.namespace_kind("library") == "library"
    with pytest.raises(CatalogError, match="only 'library' is the library"):
        catalog.record(record("mine", "x", "1.0.0"), kind="library")
    with pytest.raises(CatalogError, match="only 'library' is the library"):
        catalog.create_namespace("library-2", "library")
    assert catalog.create_namespace("team", "organization") is True
    assert catalog.create_namespace("team", "organization") is False
    with pytest.raises(CatalogError, match="exists already, as organization"):
        catalog.create_namespace("team", "user")


def test_resolve_picks_the_newest_in_semver_order(catalog: Catalog) -> None:
    for version in ("1.2.0", "1.10.0", "1.9.3", "2.0.0-rc.1"):
        catalog.record(record("acme", "tool", version, image=f"sha256:{version}", title=f"v{version}"))
    assert catalog.resolve(parse_ref("acme/tool")).version == "1.10.0"
    assert catalog.resolve(parse_ref("acme/tool:1.9")).version == "1.9.3"
    assert catalog.resolve(parse_ref("acme/tool:2.0.0-rc.1")).version == "2.0.0-rc.1"
    assert [v.version for v in catalog.versions("acme", "tool")] == ["2.0.0-rc.1", "1.10.0", "1.9.3", "1.2.0"]
    # the component row follows the newest release, whatever the push order
    listed = catalog.list_components("acme")
    assert [(c.name, c.latest_version, c.title) for c in listed] == [("tool", "1.10.0", "v1.10.0")]


def test_unknown_components_and_versions_name_what_exists(catalog: Catalog) -> None:
    catalog.record(record("library", "git-clone", "1.0.0"), kind="library")
    catalog.record(record("library", "git-clone", "1.1.0", image="sha256:bbb"), kind="library")
    with pytest.raises(UnknownComponent) as error:
        catalog.resolve(parse_ref("library/git-clon"))
    assert (
        str(error.value) == "no component library/git-clon in the repository; did you mean library/git-clone?"
    )
    with pytest.raises(UnknownComponent) as error:
        catalog.resolve(parse_ref("library/git-clone:3.0.0"))
    assert str(error.value) == "library/git-clone has no version 3.0.0 (it has: 1.1.0, 1.0.0)"
    with pytest.raises(UnknownComponent, match="has no version 2"):
        catalog.resolve(parse_ref("library/git-clone:2"))
    with pytest.raises(UnknownComponent) as error:
        catalog.resolve(parse_ref("nobody/nothing"))
    assert error.value.suggestions == []


def test_search_ranks_name_then_keywords_then_description(catalog: Catalog) -> None:
    catalog.record(record("acme", "notes", "1.0.0", description="keeps git notes"))
    catalog.record(record("acme", "release", "1.0.0", keywords=("git", "tag")))
    catalog.record(record("library", "git", "1.0.0", title="Git tools"), kind="library")
    catalog.record(record("acme", "git-clone", "1.0.0", title="Clone a repository"))
    catalog.record(record("acme", "unrelated", "1.0.0", description="nothing to see"))
    found = catalog.search("git")
    assert [c.full_name for c in found] == ["library/git", "acme/git-clone", "acme/release", "acme/notes"]
    assert found[0].score > found[1].score > found[2].score > found[3].score
    # every word must match
    assert [c.full_name for c in catalog.search("git clone")] == ["acme/git-clone"]
    assert catalog.search("git nothing") == []
    # LIKE wildcards are plain characters here
    assert catalog.search("%") == [] and catalog.search("_") == []
    assert [c.full_name for c in catalog.search("GIT-CLONE")] == ["acme/git-clone"]
    assert len(catalog.search("git", limit=2)) == 2


def test_search_reads_the_newest_version_words(catalog: Catalog) -> None:
    catalog.record(record("acme", "tool", "1.0.0", description="old words"))
    catalog.record(record("acme", "tool", "2.0.0", image="sha256:new", description="new words"))
    catalog.record(record("acme", "tool", "1.5.0", image="sha256:mid", description="middle words"))
    assert [c.latest_version for c in catalog.search("new")] == ["2.0.0"]
    assert catalog.search("old") == [] and catalog.search("middle") == []


def test_search_words_match_from_their_start(catalog: Catalog) -> None:
    catalog.record(record("acme", "git-clone", "1.0.0", description="Fetches sources"))
    assert [c.name for c in catalog.search("clo")] == ["git-clone"]
    assert [c.name for c in catalog.search("fetch")] == ["git-clone"]
    assert [c.name for c in catalog.search("acme/git")] == ["git-clone"]
    assert catalog.search("lone") == [] and catalog.search("etches") == []
    assert catalog.search("") == [] and catalog.search("   ") == []
