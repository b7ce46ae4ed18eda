"""store/deliveries: the record of webhook requests, against a real SQLite store."""

from __future__ import annotations

import pytest

from containerops.store import Store, StoreError, deliveries
from containerops.store.metrics import figures


def _record(store: Store, flow_uri: str = "team/app/ci", *, body: bytes = b"{}", **headers: str) -> int:
    return deliveries.record(
        store,
        flow_uri=flow_uri,
        kind="github",
        headers=headers,
        body=body,
        delivery_id="d-1",
        event="push",
    )


def test_a_delivery_keeps_its_request_as_given_and_its_verdict(store: Store) -> None:
    store.save_flow("team/app/ci", "source", "yaml")
    delivery = _record(store, body=b"\xff\xfe not utf-8", **{"x-github-event": "push"})
    received = deliveries.get_delivery(store, delivery)
    assert received["verdict"] == "received" and received["status_code"] == 0
    assert received["headers"] == {"x-github-event": "push"}
    assert received["body_encoding"] == "base64" and received["body"] == "//4gbm90IHV0Zi04"

    deliveries.decide(store, delivery, "refused", 401, "bad signature")
    decided = deliveries.get_delivery(store, delivery)
    assert (decided["verdict"], decided["status_code"], decided["reason"]) == (
        "refused",
        401,
        "bad signature",
    )
    with pytest.raises(StoreError, match="no delivery with id 999"):
        deliveries.get_delivery(store, 999)


def test_a_dedupe_key_is_claimed_once_and_a_release_frees_it(store: Store) -> None:
    first, second, third = (_record(store) for _ in range(3))
    assert deliveries.claim(store, first, "github:team/app/ci:d-1") is None
    assert deliveries.claim(store, second, "github:team/app/ci:d-1") == first
    deliveries.release(store, first)
    assert deliveries.claim(store, third, "github:team/app/ci:d-1") is None
    assert deliveries.claim(store, first, "github:team/app/ci:d-1") == third


def test_listing_filters_by_flow_verdict_page_and_namespace(store: Store) -> None:
    ids = [_record(store, uri) for uri in ("a_b/x/ci", "aXb/x/ci", "a_b/x/ci", "other/x/ci")]
    flow_id, version_id, _ = store.save_flow("a_b/x/ci", "x", "yaml")
    run = store.create_run(flow_id, version_id, "dummy", {}, [])
    deliveries.decide(store, ids[2], "started", 202, None)
    deliveries.attach_run(store, ids[2], run.id)

    def listed(**filters: object) -> list[int]:
        return [d["id"] for d in deliveries.list_deliveries(store, **filters)]  # type: ignore[arg-type]

    assert listed() == ids[::-1]
    assert listed(flow_uri="a_b/x/ci") == [ids[2], ids[0]]
    assert listed(verdict="started") == [ids[2]]
    assert listed(before=ids[2]) == [ids[1], ids[0]]
    assert listed(limit=1) == [ids[3]]
    # "_" is a literal in a namespace, not LIKE's any-character
    assert listed(namespaces=["a_b"]) == [ids[2], ids[0]]
    assert listed(namespaces=[]) == []
    assert deliveries.list_deliveries(store, verdict="started")[0]["run_id"] == run.id


def test_only_the_newest_unproved_refusals_of_a_flow_are_kept(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deliveries, "MAX_UNPROVED_KEPT", 3)
    refused = []
    for _ in range(5):
        delivery = _record(store)
        deliveries.decide(store, delivery, "refused", 401, "no signature")
        refused.append(delivery)
    kept_other = _record(store)
    deliveries.decide(store, kept_other, "refused", 400, "bad body")
    elsewhere = _record(store, "team/other/ci")
    deliveries.decide(store, elsewhere, "refused", 401, "no signature")

    received = figures(store).deliveries["refused"]
    deliveries.prune_unproved(store, "team/app/ci")
    remaining = {d["id"] for d in deliveries.list_deliveries(store)}
    assert remaining == {*refused[2:], kept_other, elsewhere}
    # /metrics' deliveries are a counter: the two forgotten are still counted as received
    assert figures(store).deliveries["refused"] == received
