"""store/notifications: a message is on record before it is sent, then settled."""

from __future__ import annotations

from containerops.store import Store
from containerops.store.notifications import finish_notification, list_notifications, start_notification


def test_a_notification_is_recorded_sending_then_settled_per_run(store: Store) -> None:
    flow_id, version_id, _ = store.save_flow("a/b/c", "x", "yaml")
    run, other = (store.create_run(flow_id, version_id, "dummy", {}, []).id for _ in range(2))
    first = start_notification(store, run, 0, "slack", "run.failed", "#ops")
    second = start_notification(store, run, 1, "webhook", "run.failed", "http://127.0.0.1/hook")
    start_notification(store, other, 0, "slack", "run.succeeded", "#ops")

    sending = list_notifications(store, run)
    assert [(n["id"], n["status"], n["attempts"], n["error"]) for n in sending] == [
        (first, "sending", 0, None),
        (second, "sending", 0, None),
    ]
    finish_notification(store, first, "sent", 1, None)
    finish_notification(store, second, "failed", 3, "HTTP 500")
    settled = list_notifications(store, run)
    assert settled == [
        {
            "id": first,
            "receiver_index": 0,
            "kind": "slack",
            "event": "run.failed",
            "target": "#ops",
            "status": "sent",
            "attempts": 1,
            "error": None,
        },
        {
            "id": second,
            "receiver_index": 1,
            "kind": "webhook",
            "event": "run.failed",
            "target": "http://127.0.0.1/hook",
            "status": "failed",
            "attempts": 3,
            "error": "HTTP 500",
        },
    ]
    assert [n["status"] for n in list_notifications(store, other)] == ["sending"]
