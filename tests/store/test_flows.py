"""Flows and their versions in the store: listing, the version to run, sources, deletion."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from containerops.store import Store, StoreError, flows


def test_a_flow_lists_with_its_newest_version_and_counts(store: Store) -> None:
    flow_id, v1, _ = store.save_flow("acme/shop/ci", "one", "yaml")
    store.save_flow("acme/shop/ci", "two", "json")
    store.create_run(flow_id, v1, "dummy", {}, [])
    store.save_flow("other/app/ci", "x", "yaml")
    store.save_flow("acme_x/app/ci", "x", "yaml")  # '_' is no wildcard in a namespace filter
    summary = flows.get_flow(store, "acme/shop/ci")
    assert (summary.id, summary.latest_version, summary.versions, summary.runs) == (flow_id, 2, 2, 1)
    assert summary.to_json()["namespace"] == "acme"
    everything = [f.uri for f in flows.list_flows(store)]
    assert everything == ["acme/shop/ci", "acme_x/app/ci", "other/app/ci"]
    assert [f.uri for f in flows.list_flows(store, namespaces=["acme"])] == ["acme/shop/ci"]
    assert flows.list_flows(store, namespaces=[]) == []
    assert [f.uri for f in flows.list_flows(store, after="acme/shop/ci", limit=1)] == ["acme_x/app/ci"]
    with pytest.raises(StoreError, match="no flow acme/none/ci"):
        flows.get_flow(store, "acme/none/ci")


def test_versions_read_newest_first_and_one_with_its_source(store: Store) -> None:
    flow_id, v1, _ = store.save_flow("acme/shop/ci", "one", "yaml")
    _, v2, _ = store.save_flow("acme/shop/ci", "{}", "json")
    listed = flows.flow_versions(store, flow_id)
    assert [(v["id"], v["version"], v["format"]) for v in listed] == [(v2, 2, "json"), (v1, 1, "yaml")]
    assert "source" not in listed[0] and listed[0]["created_at"].endswith("+00:00")
    one = flows.flow_version(store, flow_id, 1)
    assert one == {**listed[1], "source": "one"}
    with pytest.raises(StoreError, match="no version 3 of this flow"):
        flows.flow_version(store, flow_id, 3)


def test_the_version_to_run_is_the_one_named_else_the_newest(store: Store) -> None:
    flow_id, v1, _ = store.save_flow("acme/shop/ci", "one", "yaml")
    _, v2, _ = store.save_flow("acme/shop/ci", "two", "yaml")
    other_id, other_version, _ = store.save_flow("acme/shop/cd", "x", "yaml")
    assert flows.find_version(store, "acme/shop/ci", None) == (flow_id, v2)
    assert flows.find_version(store, "acme/shop/ci", 1) == (flow_id, v1)
    assert flows.resolve_version(store, flow_id, None) == v2
    assert flows.resolve_version(store, flow_id, v1) == v1
    with pytest.raises(StoreError, match="no version 7 of flow acme/shop/ci"):
        flows.find_version(store, "acme/shop/ci", 7)
    with pytest.raises(StoreError, match="no flow acme/shop/nothing"):
        flows.find_version(store, "acme/shop/nothing", 1)
    with pytest.raises(StoreError, match=f"no version with id {other_version} of flow {flow_id}"):
        flows.resolve_version(store, flow_id, other_version)  # a version of another flow
    assert flows.resolve_version(store, other_id, other_version) == other_version


def test_a_deleted_flow_keeps_its_versions_but_has_none_to_run(store: Store) -> None:
    flow_id, v1, _ = store.save_flow("acme/shop/ci", "one", "yaml")
    flows.set_deleted(store, flow_id, True)
    assert flows.list_flows(store) == []
    assert flows.latest_version(store, "acme/shop/ci") == 1
    assert flows.latest_version(store, "acme/shop/never") is None
    with pytest.raises(StoreError, match="no flow acme/shop/ci"):
        flows.find_version(store, "acme/shop/ci", None)
    with pytest.raises(StoreError, match=f"no flow {flow_id}"):
        flows.resolve_version(store, flow_id, None)
    assert flows.version_source(store, v1) == ("one", "yaml")
    flows.set_deleted(store, flow_id, False)
    assert flows.find_version(store, "acme/shop/ci", None) == (flow_id, v1)


def test_a_run_reads_the_source_of_the_version_it_ran(store: Store) -> None:
    flow_id, v1, _ = store.save_flow("acme/shop/ci", "one", "yaml")
    first = store.create_run(flow_id, v1, "dummy", {}, [])
    _, v2, _ = store.save_flow("acme/shop/ci", "two", "json")
    second = store.create_run(flow_id, v2, "dummy", {}, [])
    assert (store.flow_source(first.id), store.flow_source(second.id)) == ("one", "two")
    assert flows.version_source(store, v2) == ("two", "json")
    with pytest.raises(StoreError, match="no run with id 999"):
        store.flow_source(999)
    with pytest.raises(StoreError, match="no flow version with id 999"):
        flows.version_source(store, 999)


def test_uris_differ_by_case_and_a_source_may_be_longer_than_64_kib(store: Store) -> None:
    """Text compares as SQLite compares it, byte for byte, on every database (MySQL's
    default collation would make these one flow), and holds what SQLite holds (MySQL's
    TEXT stops at 64 KiB)."""
    long = "# " + "é" * 70_000 + "\n"  # 140 KB in UTF-8
    lower, v_lower, _ = store.save_flow("acme/shop/ci", long, "yaml")
    upper, v_upper, _ = store.save_flow("acme/Shop/ci", "two", "yaml")
    assert upper != lower
    assert flows.find_version(store, "acme/Shop/ci", None) == (upper, v_upper)
    assert flows.version_source(store, v_lower) == (long, "yaml")
    assert [f.uri for f in flows.list_flows(store)] == ["acme/Shop/ci", "acme/shop/ci"]


def test_saves_of_one_flow_at_once_each_get_a_version_and_none_fails(store: Store) -> None:
    """Servers saving a new flow, or new sources of one flow, at the same moment (two
    webhooks, two `coops run`s on one database): no save fails on the other's insert."""
    with ThreadPoolExecutor(8) as pool:
        same = list(pool.map(lambda _: store.save_flow("acme/race/same", "one source", "yaml"), range(16)))
        distinct = list(pool.map(lambda i: store.save_flow("acme/race/ci", f"source {i}", "yaml"), range(24)))
    assert len(set(same)) == 1 and same[0][2] == 1
    assert len({flow_id for flow_id, _, _ in distinct}) == 1
    assert sorted(number for _, _, number in distinct) == list(range(1, 25))
    stored = flows.flow_versions(store, distinct[0][0])
    assert sorted((v["id"], v["version"]) for v in stored) == sorted((vid, n) for _, vid, n in distinct)
