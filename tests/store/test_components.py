"""The component rows in the store: namespaces, versions as recorded, search words as given."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from containerops.store import Store, components
from containerops.store.components import PushRecord


def push(name: str, version: str, image: str = "sha256:one", **words: str) -> PushRecord:
    return PushRecord(
        namespace="acme",
        name=name,
        version=version,
        digest=f"sha256:manifest-{version}",
        image_id=image,
        spec={"name": name},
        readme="# readme",
        title=words.get("title", ""),
        description=words.get("description", ""),
    )


def test_a_namespace_is_made_once_and_keeps_its_kind(store: Store) -> None:
    assert components.namespace_kind(store, "team") is None
    assert components.add_namespace(store, "team", "organization") is None
    assert components.add_namespace(store, "team", "user") == "organization"
    assert components.namespace_kind(store, "team") == "organization"


def test_a_recorded_version_is_answered_as_it_was_whatever_image_comes_again(store: Store) -> None:
    row, created = components.record_version(store, push("tool", "1.0.0"), kind="user", words={"tool": 9})
    assert created and row.ref == "acme/tool:1.0.0" and row.spec == {"name": "tool"}
    again, created = components.record_version(
        store, push("tool", "1.0.0", image="sha256:two"), kind="organization", words={"other": 1}
    )
    assert not created and again == row  # nothing changed: the caller refuses the other image
    assert components.namespace_kind(store, "acme") == "user"
    assert components.get_version(store, "acme", "tool", "1.0.0") == row
    assert components.get_version(store, "acme", "tool", "2.0.0") is None
    assert [c.name for c in components.search(store, "tool")] == ["tool"]
    assert components.search(store, "other") == []


def test_search_reads_the_words_and_weights_given_for_the_newest_version(store: Store) -> None:
    components.record_version(store, push("a", "1.0.0"), kind="user", words={"shared": 5, "old": 5})
    components.record_version(store, push("b", "1.0.0"), kind="user", words={"shared": 50})
    components.record_version(store, push("a", "2.0.0", title="T"), kind="user", words={"shared": 7})
    components.record_version(store, push("a", "1.5.0"), kind="user", words={"stale": 99})
    found = components.search(store, "SHA")
    assert [(c.name, c.score, c.latest_version) for c in found] == [("b", 50, "1.0.0"), ("a", 7, "2.0.0")]
    assert found[1].title == "T" and found[1].to_json()["score"] == 7
    assert components.search(store, "old") == [] and components.search(store, "stale") == []
    assert [v.version for v in components.versions(store, "acme", "a")] == ["2.0.0", "1.5.0", "1.0.0"]
    listed = components.list_components(store, "acme")
    assert [(c.full_name, c.score) for c in listed] == [("acme/a", 0), ("acme/b", 0)]
    assert components.list_components(store, "nobody") == []


def test_visibility_filters_search_and_listing_in_the_query(store: Store) -> None:
    """On every database: a reader sees its namespaces' components and the public ones; a
    component's own setting wins over its namespace's, None follows it."""
    from dataclasses import replace

    from containerops.store.accounts import create_org, create_user

    create_user(store, "alice")
    create_org(store, "acme")  # the namespace of push(): made with the organization
    components.record_version(store, push("tool", "1.0.0"), kind="user", words={"tool": 9})
    components.record_version(
        store, replace(push("kit", "1.0.0"), namespace="alice"), kind="user", words={"tool": 5}
    )
    assert components.namespace_kind(store, "acme") == "organization"
    reader = frozenset({"alice"})
    assert [c.full_name for c in components.search(store, "tool", readable=reader)] == ["alice/kit"]
    assert [c.full_name for c in components.list_components(store, readable=frozenset())] == []
    assert components.set_public(store, "acme", None, True)
    assert [(c.full_name, c.public) for c in components.search(store, "tool", readable=reader)] == [
        ("acme/tool", True),
        ("alice/kit", False),
    ]
    assert components.set_public(store, "acme", "tool", False)
    assert components.is_public(store, "acme") and not components.is_public(store, "acme", "tool")
    assert [c.full_name for c in components.list_components(store, readable=frozenset())] == []
    assert components.set_public(store, "acme", "tool", None)
    assert [c.full_name for c in components.list_components(store, readable=frozenset())] == ["acme/tool"]
    assert not components.set_public(store, "nobody", None, True)
    assert components.recorded_images(store) == {
        ("acme/tool", "1.0.0"): "sha256:manifest-1.0.0",
        ("alice/kit", "1.0.0"): "sha256:manifest-1.0.0",
    }


def test_the_library_can_be_made_private_before_its_first_push(store: Store) -> None:
    """`library` exists from the start (public): its owners may set it before anything is in it."""
    assert components.set_public(store, "library", None, False)
    assert not components.is_public(store, "library")
    assert not components.set_public(store, "nobody", None, True)  # others are made with their owner


def test_first_pushes_at_once_make_one_namespace_and_component_and_lose_no_version(store: Store) -> None:
    """Eight pushes of a component nobody pushed before, at once (two of each version):
    each insert that meets another's reads what it made; every version is recorded once,
    and each push learns whether it made it."""
    versions = [f"1.0.{i % 4}" for i in range(8)]
    start = threading.Barrier(len(versions))

    def record(version: str) -> bool:
        start.wait()
        _row, created = components.record_version(store, push("fresh", version), kind="user", words={})
        return created

    with ThreadPoolExecutor(len(versions)) as pool:
        created = list(pool.map(record, versions))
    assert sum(created) == 4
    assert sorted(v.version for v in components.versions(store, "acme", "fresh")) == sorted(set(versions))
    assert [c.full_name for c in components.list_components(store, "acme")] == ["acme/fresh"]
