"""Flows and their versions: saving a definition (a changed source makes a new version),
listing, one flow with its versions, which version to run, the source a run ran, hiding a
deleted flow (its versions and runs stay: a run's history never loses the definition it ran).
``Store.save_flow`` and ``Store.flow_source`` call this module (many parts hold a store).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.db import again_on_conflict
from containerops.store.rows import StoreError
from containerops.store.values import new_id, utcnow
from containerops.timestamps import rfc3339

if TYPE_CHECKING:  # for annotations only: store.py imports this module for its methods
    from containerops.store.store import Store


def save_flow(store: Store, uri: str, source: str, fmt: str, by: str | None = None) -> tuple[int, int, int]:
    """Keep this definition of the flow; a changed source makes a new version, saved ``by``
    that user (None: a local save).

    Returns ``(flow_id, flow_version_id, version_number)``.
    """
    digest = hashlib.sha256(source.encode()).hexdigest()
    return again_on_conflict(lambda: _save_flow_once(store, uri, digest, source, fmt, by), f"save flow {uri}")


def _save_flow_once(
    store: Store, uri: str, digest: str, source: str, fmt: str, by: str | None
) -> tuple[int, int, int]:
    now = utcnow()
    with store.database.begin() as conn:
        flow_id = conn.execute(sa.select(t.flows.c.id).where(t.flows.c.uri == uri)).scalar()
        if flow_id is None:
            flow_id = new_id(conn.execute(t.flows.insert().values(uri=uri, created_at=now)))
        else:  # savers of one flow take turns on its row (PostgreSQL, MySQL): a number each
            conn.execute(sa.select(t.flows.c.id).where(t.flows.c.id == flow_id).with_for_update())
        latest = conn.execute(
            sa.select(t.flow_versions.c.id, t.flow_versions.c.version, t.flow_versions.c.digest)
            .where(t.flow_versions.c.flow_id == flow_id)
            .order_by(t.flow_versions.c.version.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.digest == digest:
            return flow_id, latest.id, latest.version
        version = 1 if latest is None else latest.version + 1
        version_id = new_id(
            conn.execute(
                t.flow_versions.insert().values(
                    flow_id=flow_id,
                    version=version,
                    digest=digest,
                    format=fmt,
                    source=source,
                    created_at=now,
                    created_by=by,
                )
            )
        )
        return flow_id, version_id, version


@dataclass(frozen=True, slots=True)
class FlowSummary:
    id: int
    uri: str
    created_at: datetime
    latest_version: int
    versions: int
    runs: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uri": self.uri,
            "namespace": self.uri.split("/", 1)[0],
            "created_at": rfc3339(self.created_at),
            "latest_version": self.latest_version,
            "versions": self.versions,
            "runs": self.runs,
        }


def _summary_query() -> sa.Select[Any]:
    versions = (
        sa.select(
            t.flow_versions.c.flow_id,
            sa.func.max(t.flow_versions.c.version).label("latest"),
            sa.func.count().label("versions"),
        )
        .group_by(t.flow_versions.c.flow_id)
        .subquery()
    )
    runs = sa.select(t.runs.c.flow_id, sa.func.count().label("runs")).group_by(t.runs.c.flow_id).subquery()
    return (
        sa.select(
            t.flows.c.id,
            t.flows.c.uri,
            t.flows.c.created_at,
            versions.c.latest,
            versions.c.versions,
            sa.func.coalesce(runs.c.runs, 0).label("runs"),
        )
        .join(versions, versions.c.flow_id == t.flows.c.id)
        .outerjoin(runs, runs.c.flow_id == t.flows.c.id)
        .where(t.flows.c.deleted_at.is_(None))
    )


def _summary(row: Any) -> FlowSummary:
    return FlowSummary(row.id, row.uri, row.created_at, row.latest, row.versions, row.runs)


def list_flows(
    store: Store, *, namespaces: list[str] | None = None, after: str | None = None, limit: int = 50
) -> list[FlowSummary]:
    """Flows by URI, ``limit`` of them after URI ``after``; only ``namespaces`` when given."""
    query = _summary_query().order_by(t.flows.c.uri).limit(limit)
    if after:
        query = query.where(t.flows.c.uri > after)
    if namespaces is not None:
        query = query.where(
            sa.or_(*(t.flows.c.uri.startswith(f"{ns}/", autoescape=True) for ns in namespaces), sa.false())
        )
    with store.autocommit.connect() as conn:
        return [_summary(row) for row in conn.execute(query)]


def get_flow(store: Store, uri: str) -> FlowSummary:
    with store.autocommit.connect() as conn:
        row = conn.execute(_summary_query().where(t.flows.c.uri == uri)).first()
    if row is None:
        raise StoreError(f"no flow {uri}")
    return _summary(row)


def _newest_runnable(*where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """(flow id, version id) of the newest version matching ``where`` of a flow not deleted."""
    return (
        sa.select(t.flows.c.id, t.flow_versions.c.id.label("version_id"))
        .join(t.flow_versions, t.flow_versions.c.flow_id == t.flows.c.id)
        .where(t.flows.c.deleted_at.is_(None), *where)
        .order_by(t.flow_versions.c.version.desc())
        .limit(1)
    )


def find_version(store: Store, uri: str, version: int | None) -> tuple[int, int]:
    """``(flow id, version id)`` of a flow that is not deleted: version ``version``, else the newest.

    One indexed query: this is on the path of every run the API starts.
    """
    chosen = [t.flow_versions.c.version == version] if version is not None else []
    with store.autocommit.connect() as conn:
        row = conn.execute(_newest_runnable(t.flows.c.uri == uri, *chosen)).first()
    if row is None:
        if version is not None and latest_version(store, uri) is not None:
            raise StoreError(f"no version {version} of flow {uri}")
        raise StoreError(f"no flow {uri}")
    return int(row.id), int(row.version_id)


def latest_version(store: Store, uri: str) -> int | None:
    """The newest version number of a flow, deleted or not; None if it never existed."""
    with store.autocommit.connect() as conn:
        found = conn.execute(
            sa.select(sa.func.max(t.flow_versions.c.version))
            .join(t.flows, t.flows.c.id == t.flow_versions.c.flow_id)
            .where(t.flows.c.uri == uri)
        ).scalar()
    return None if found is None else int(found)


def _version_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "digest": row.digest,
        "format": row.format,
        "created_at": rfc3339(row.created_at),
        "created_by": row.created_by,
    }


def flow_versions(store: Store, flow_id: int) -> list[dict[str, Any]]:
    """Every version of a flow, newest first, without their sources."""
    query = (
        sa.select(
            t.flow_versions.c.id,
            t.flow_versions.c.version,
            t.flow_versions.c.digest,
            t.flow_versions.c.format,
            t.flow_versions.c.created_at,
            t.flow_versions.c.created_by,
        )
        .where(t.flow_versions.c.flow_id == flow_id)
        .order_by(t.flow_versions.c.version.desc())
    )
    with store.autocommit.connect() as conn:
        return [_version_json(row) for row in conn.execute(query)]


def flow_version(store: Store, flow_id: int, version: int) -> dict[str, Any]:
    """One version, with its source."""
    with store.autocommit.connect() as conn:
        row = conn.execute(
            sa.select(t.flow_versions).where(
                t.flow_versions.c.flow_id == flow_id, t.flow_versions.c.version == version
            )
        ).first()
    if row is None:
        raise StoreError(f"no version {version} of this flow")
    return {**_version_json(row), "source": row.source}


def set_deleted(store: Store, flow_id: int, deleted: bool) -> None:
    """Hide a flow (``deleted``) or show it again (a new version was posted)."""
    with store.database.begin() as conn:
        conn.execute(
            t.flows.update().where(t.flows.c.id == flow_id).values(deleted_at=utcnow() if deleted else None)
        )


def resolve_version(store: Store, flow_id: int, version_id: int | None) -> int:
    """The id of the flow's version to run: ``version_id`` checked to belong to it, else the newest.
    A deleted flow has none."""
    chosen = [t.flow_versions.c.id == version_id] if version_id is not None else []
    with store.autocommit.connect() as conn:
        found = conn.execute(_newest_runnable(t.flows.c.id == flow_id, *chosen)).first()
    if found is None:
        which = (
            f"version with id {version_id} of flow {flow_id}" if version_id is not None else f"flow {flow_id}"
        )
        raise StoreError(f"no {which}")
    return int(found.version_id)


def _source(store: Store, version_id: sa.ColumnElement[Any] | int, missing: str) -> tuple[str, str]:
    with store.autocommit.connect() as conn:
        row = conn.execute(
            sa.select(t.flow_versions.c.source, t.flow_versions.c.format).where(
                t.flow_versions.c.id == version_id
            )
        ).first()
    if row is None:
        raise StoreError(missing)
    return str(row.source), str(row.format)


def version_source(store: Store, version_id: int) -> tuple[str, str]:
    """The source text and format (yaml/json) of a flow version."""
    return _source(store, version_id, f"no flow version with id {version_id}")


def run_source(store: Store, run_id: int) -> str:
    """The source of the flow version run ``run_id`` ran, exactly as it was sent."""
    ran = sa.select(t.runs.c.flow_version_id).where(t.runs.c.id == run_id).scalar_subquery()
    return _source(store, ran, f"no run with id {run_id}")[0]
