"""The record of every webhook request: what was sent, and what came of it.

A delivery is written before anything is decided and updated with the verdict,
so that a request that crashes the route is still on record. Which headers are kept,
and which are masked, is the receiver's choice; bodies that are not UTF-8 are kept
in base64.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.db import again_on_conflict
from containerops.store.removed import REFUSED_DELIVERIES, count_removed
from containerops.store.rows import StoreError
from containerops.store.store import Store
from containerops.store.values import utcnow
from containerops.timestamps import rfc3339


def _body(body: bytes) -> tuple[str, str]:
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), "base64"


def record(
    store: Store,
    *,
    flow_uri: str,
    kind: str,
    headers: Mapping[str, str],
    body: bytes,
    delivery_id: str | None,
    event: str | None,
) -> int:
    """Keep a request (verdict ``received``) and return its delivery id.

    ``headers`` are stored as given: the caller has chosen and masked them.
    """
    text, encoding = _body(body)
    with store.database.begin() as conn:
        flow_id = conn.execute(
            sa.select(t.flows.c.id).where(t.flows.c.uri == flow_uri, t.flows.c.deleted_at.is_(None))
        ).scalar()
        result = conn.execute(
            t.trigger_deliveries.insert().values(
                flow_uri=flow_uri,
                flow_id=flow_id,
                kind=kind,
                delivery_id=(delivery_id or None) and delivery_id[:128],
                event=(event or None) and event[:64],
                headers=dict(headers),
                body=text,
                body_encoding=encoding,
                verdict="received",
                status_code=0,
                received_at=utcnow(),
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def decide(store: Store, delivery: int, verdict: str, status_code: int, reason: str | None) -> None:
    with store.database.begin() as conn:
        conn.execute(
            t.trigger_deliveries.update()
            .where(t.trigger_deliveries.c.id == delivery)
            .values(verdict=verdict, status_code=status_code, reason=reason)
        )


#: Refusals of requests that never proved themselves, kept per flow (the newest): enough to
#: debug a sender, and a bound on what anonymous callers can make the store keep.
MAX_UNPROVED_KEPT = 1000


def prune_unproved(store: Store, flow_uri: str) -> None:
    """Forget all but the newest ``MAX_UNPROVED_KEPT`` refusals (401) of unproved requests to a flow."""
    keep = MAX_UNPROVED_KEPT
    d = t.trigger_deliveries
    unproved = sa.and_(d.c.flow_uri == flow_uri, d.c.verdict == "refused", d.c.status_code == 401)

    def prune() -> None:
        with store.database.begin() as conn:
            oldest_kept = conn.execute(
                sa.select(d.c.id).where(unproved).order_by(d.c.id.desc()).offset(keep - 1).limit(1)
            ).scalar()
            if oldest_kept is not None:
                gone = conn.execute(d.delete().where(unproved, d.c.id < oldest_kept)).rowcount
                count_removed(conn, REFUSED_DELIVERIES, gone)

    again_on_conflict(prune, "forget old refusals")


def claim(store: Store, delivery: int, dedupe_key: str) -> int | None:
    """Mark ``delivery`` as the one that starts a run for ``dedupe_key``.

    Returns None when it is the first; else the id of the delivery that already
    claimed the key (a redelivery). The unique column makes this safe even for
    two copies arriving at the same instant.
    """
    try:
        with store.database.begin() as conn:
            conn.execute(
                t.trigger_deliveries.update()
                .where(t.trigger_deliveries.c.id == delivery)
                .values(dedupe_key=dedupe_key[:255])
            )
        return None
    except sa.exc.IntegrityError:
        with store.autocommit.connect() as conn:
            first = conn.execute(
                sa.select(t.trigger_deliveries.c.id).where(
                    t.trigger_deliveries.c.dedupe_key == dedupe_key[:255]
                )
            ).scalar()
        return int(first) if first is not None else None


def release(store: Store, delivery: int) -> None:
    """Undo ``claim`` (the run could not be started), so that a redelivery may try again."""
    with store.database.begin() as conn:
        conn.execute(
            t.trigger_deliveries.update().where(t.trigger_deliveries.c.id == delivery).values(dedupe_key=None)
        )


def attach_run(store: Store, delivery: int, run_id: int) -> None:
    with store.database.begin() as conn:
        conn.execute(
            t.trigger_deliveries.update().where(t.trigger_deliveries.c.id == delivery).values(run_id=run_id)
        )


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "flow": row.flow_uri,
        "kind": row.kind,
        "delivery_id": row.delivery_id,
        "event": row.event,
        "verdict": row.verdict,
        "reason": row.reason,
        "status_code": row.status_code,
        "run_id": row.run_id,
        "received_at": rfc3339(row.received_at),
    }


def list_deliveries(
    store: Store,
    *,
    flow_uri: str | None = None,
    namespaces: list[str] | None = None,
    verdict: str | None = None,
    limit: int = 50,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """Newest first; ``namespaces`` (None: all) keeps to flows the caller may see."""
    d = t.trigger_deliveries
    query = sa.select(d).order_by(d.c.id.desc()).limit(limit)
    if flow_uri is not None:
        query = query.where(d.c.flow_uri == flow_uri)
    if verdict is not None:
        query = query.where(d.c.verdict == verdict)
    if before is not None:
        query = query.where(d.c.id < before)
    if namespaces is not None:
        query = query.where(
            sa.or_(*(d.c.flow_uri.startswith(f"{ns}/", autoescape=True) for ns in namespaces), sa.false())
        )
    with store.autocommit.connect() as conn:
        return [_summary(row) for row in conn.execute(query)]


def get_delivery(store: Store, delivery: int) -> dict[str, Any]:
    """One delivery with its kept headers and body."""
    with store.autocommit.connect() as conn:
        row = conn.execute(
            sa.select(t.trigger_deliveries).where(t.trigger_deliveries.c.id == delivery)
        ).first()
    if row is None:
        raise StoreError(f"no delivery with id {delivery}")
    return {**_summary(row), "headers": row.headers, "body": row.body, "body_encoding": row.body_encoding}
