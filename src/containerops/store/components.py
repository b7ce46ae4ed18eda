"""The component rows: namespaces, components, their pushed versions and the search index.

The repository (``containerops.repository.catalog``) decides what a push may record,
who reads what and which words find a component; here are its queries.

The newest version's words are kept in ``component_words``, one row per (component,
word) with the weight a match on it counts; a search looks each of its words up as a
prefix in that table's index and adds the best weight per word, in SQL, so that 10,000
components cost an index range per word, not a scan of every description. No
full-text engine: SQLite, PostgreSQL and MySQL behave the same.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from containerops.model.component_refs import newest, version_key
from containerops.store import schema as t
from containerops.store.db import again_on_conflict
from containerops.store.store import Store
from containerops.store.values import aware, new_id, utcnow
from containerops.timestamps import rfc3339

#: The namespace of the components maintained with ContainerOps; search lists it first.
LIBRARY = "library"
#: The longest word kept (``component_words.word``): long enough for ``namespace/name``.
MAX_WORD = 160
#: Words of a search beyond this many are ignored.
MAX_SEARCH_WORDS = 8
#: Above every word in index order: ``word < prefix + TOP`` bounds a prefix range.
_TOP = "\U0010ffff"


@dataclass(frozen=True, slots=True)
class VersionRow:
    namespace: str
    name: str
    version: str
    digest: str  # sha256:... of the manifest in the registry
    image_id: str  # sha256:... of the image config
    spec: dict[str, Any]
    readme: str
    pushed_at: datetime
    pushed_by: str | None = None
    source_commit: str | None = None
    source_dirty: bool | None = None
    size: int | None = None
    #: The owner's word when deprecated; None when it is not.
    deprecated: str | None = None
    #: Why it was yanked; None when it was not. ``replacement``: the version to use instead.
    yanked: str | None = None
    replacement: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}:{self.version}"

    def image(self, registry: str) -> str:
        """The reference a run pulls and records: ``<registry>/<ns>/<name>@sha256:...``."""
        return f"{registry}/{self.namespace}/{self.name}@{self.digest}"

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "image_id": self.image_id,
            "pushed_at": rfc3339(self.pushed_at),
            "pushed_by": self.pushed_by,
            "source": None
            if self.source_commit is None
            else {"commit": self.source_commit, "dirty": bool(self.source_dirty)},
            "size": self.size,
            "deprecated": self.deprecated,
            "yanked": None
            if self.yanked is None
            else {"reason": self.yanked, "replacement": self.replacement},
        }


@dataclass(frozen=True, slots=True)
class ComponentRow:
    namespace: str
    kind: str
    name: str
    latest_version: str
    title: str
    description: str
    keywords: list[str]
    score: int = 0  # how well it matched a search; 0 outside one
    #: Whether every signed-in user may read it (its own setting, else its namespace's).
    public: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "namespace": self.namespace,
            "namespace_kind": self.kind,
            "name": self.name,
            "latest_version": self.latest_version,
            "title": self.title,
            "description": self.description,
            "keywords": self.keywords,
            "public": self.public,
        }
        if self.score:
            document["score"] = self.score
        return document


@dataclass(frozen=True, slots=True)
class PushRecord:
    """One version to record, as ``push`` learnt it from the spec and the registry."""

    namespace: str
    name: str
    version: str
    digest: str
    image_id: str
    spec: dict[str, Any]
    readme: str
    title: str = ""
    description: str = ""
    keywords: tuple[str, ...] = ()
    pushed_by: str | None = None
    source_commit: str | None = None
    source_dirty: bool | None = None
    size: int | None = None


# -- namespaces --------------------------------------------------------------------------
def namespace_kind(store: Store, name: str) -> str | None:
    """The kind of namespace ``name``; None when there is none."""
    with store.autocommit.connect() as conn:
        kind = conn.execute(sa.select(t.namespaces.c.kind).where(t.namespaces.c.name == name)).scalar()
    return None if kind is None else str(kind)


def add_namespace(store: Store, name: str, kind: str) -> str | None:
    """Make namespace ``name`` of ``kind``; the kind it has when it exists already (then
    nothing changes), None when it was made now."""
    with store.database.begin() as conn:
        found = conn.execute(sa.select(t.namespaces.c.kind).where(t.namespaces.c.name == name)).scalar()
        if found is not None:
            return str(found)
        _namespace_id(conn, name, kind, utcnow())
        return None


def _namespace_id(conn: sa.Connection, name: str, kind: str, now: datetime) -> int:
    """The id of namespace ``name``, made of ``kind`` when there is none (the library public)."""
    found = conn.execute(sa.select(t.namespaces.c.id).where(t.namespaces.c.name == name)).scalar()
    if found is not None:
        return int(found)
    return new_id(
        conn.execute(
            t.namespaces.insert().values(name=name, kind=kind, created_at=now, public=name == LIBRARY)
        )
    )


def claim_namespace(conn: sa.Connection, name: str, kind: str) -> None:
    """In the transaction making user or organization ``name``: its namespace in the
    repository, of ``kind`` (one a local push made before keeps its components and
    becomes theirs)."""
    namespace_id = _namespace_id(conn, name, kind, utcnow())
    conn.execute(t.namespaces.update().where(t.namespaces.c.id == namespace_id).values(kind=kind))


#: The effective visibility of a component: its own, else its namespace's.
PUBLIC = sa.func.coalesce(t.components.c.public, t.namespaces.c.public)


def set_public(store: Store, namespace: str, name: str | None, public: bool | None) -> bool:
    """Make namespace ``namespace`` (``name`` None) or its component ``name`` public or
    private (a component: None, as its namespace); False when there is no such one."""
    with store.database.begin() as conn:
        namespace_id = conn.execute(
            sa.select(t.namespaces.c.id).where(t.namespaces.c.name == namespace)
        ).scalar()
        if namespace_id is None and namespace == LIBRARY and name is None:  # always there, made on first use
            namespace_id = _namespace_id(conn, LIBRARY, LIBRARY, utcnow())
        if namespace_id is None:
            return False
        if name is None:
            if public is None:
                raise ValueError("a namespace is public or private, not unset")
            conn.execute(t.namespaces.update().where(t.namespaces.c.id == namespace_id).values(public=public))
            return True
        changed = conn.execute(
            t.components.update()
            .where(t.components.c.namespace_id == namespace_id, t.components.c.name == name)
            .values(public=public)
        )
        return bool(changed.rowcount)


def is_public(store: Store, namespace: str, name: str | None = None) -> bool:
    """Whether every signed-in user may read component ``namespace/name`` (or, without
    ``name``, the namespace's components that say nothing of their own); False when none."""
    query = (
        sa.select(t.namespaces.c.public)
        if name is None
        else sa.select(PUBLIC)
        .select_from(t.components)
        .join(t.namespaces, t.namespaces.c.id == t.components.c.namespace_id)
        .where(t.components.c.name == name)
    )
    with store.autocommit.connect() as conn:
        return bool(conn.execute(query.where(t.namespaces.c.name == namespace)).scalar())


def _visible_to(readable: frozenset[str] | None) -> sa.ColumnElement[bool] | None:
    """The rows a reader of the namespaces ``readable`` sees (None: every one): theirs and
    the public ones."""
    if readable is None:
        return None
    return sa.or_(t.namespaces.c.name.in_(sorted(readable)), PUBLIC.is_(True))


# -- versions ----------------------------------------------------------------------------
def record_version(
    store: Store, push: PushRecord, *, kind: str, words: Mapping[str, int]
) -> tuple[VersionRow, bool]:
    """Record a pushed version; ``(row, created)``. Its namespace (of ``kind``) and its
    component are made on first use.

    A version recorded before is answered as it is, whatever its image (``created``
    False): the caller tells a re-push from a conflict. ``words`` (word -> weight) become
    the component's search words when this version is its newest. Two first pushes at
    once: the one whose insert met the other's reads what the other made.
    """
    return again_on_conflict(
        lambda: _record_version_once(store, push, kind, words),
        f"record {push.namespace}/{push.name}:{push.version}",
    )


def _record_version_once(
    store: Store, push: PushRecord, kind: str, words: Mapping[str, int]
) -> tuple[VersionRow, bool]:
    now = utcnow()
    with store.database.begin() as conn:
        namespace_id = _namespace_id(conn, push.namespace, kind, now)
        component_id = conn.execute(
            sa.select(t.components.c.id).where(
                t.components.c.namespace_id == namespace_id, t.components.c.name == push.name
            )
        ).scalar()
        if component_id is None:
            component_id = new_id(
                conn.execute(
                    t.components.insert().values(
                        namespace_id=namespace_id,
                        name=push.name,
                        latest_version=push.version,
                        title=push.title,
                        description=push.description,
                        keywords=list(push.keywords),
                        created_at=now,
                        updated_at=now,
                    )
                )
            )
        found = _version(conn, push.namespace, push.name, push.version)
        if found is not None:
            return found, False
        conn.execute(
            t.component_versions.insert().values(
                component_id=component_id,
                version=push.version,
                digest=push.digest,
                image_id=push.image_id,
                spec=push.spec,
                readme=push.readme,
                pushed_at=now,
                pushed_by=push.pushed_by,
                source_commit=push.source_commit,
                source_dirty=push.source_dirty,
                size=push.size,
            )
        )
        _refresh_latest(conn, component_id, push, words, now)
        row = _version(conn, push.namespace, push.name, push.version)
    assert row is not None
    return row, True


def _refresh_latest(
    conn: sa.Connection, component_id: int, push: PushRecord, words: Mapping[str, int], now: datetime
) -> None:
    """Keep the component row on its newest version (a 1.0.1 pushed after 2.0.0 is not newest)."""
    versions = conn.execute(
        sa.select(t.component_versions.c.version).where(t.component_versions.c.component_id == component_id)
    ).scalars()
    values: dict[str, Any] = {"updated_at": now}
    if newest(list(versions)) == push.version:
        values.update(
            latest_version=push.version,
            title=push.title,
            description=push.description,
            keywords=list(push.keywords),
        )
        conn.execute(t.component_words.delete().where(t.component_words.c.component_id == component_id))
        if words:  # an empty list would insert one row of defaults
            conn.execute(
                t.component_words.insert(),
                [
                    {"component_id": component_id, "word": word, "weight": weight}
                    for word, weight in words.items()
                ],
            )
    conn.execute(t.components.update().where(t.components.c.id == component_id).values(**values))


def _version_query() -> sa.Select[Any]:
    return (
        sa.select(
            t.component_versions,
            t.components.c.name.label("component"),
            t.namespaces.c.name.label("namespace"),
        )
        .join(t.components, t.components.c.id == t.component_versions.c.component_id)
        .join(t.namespaces, t.namespaces.c.id == t.components.c.namespace_id)
    )


def _version(conn: sa.Connection, namespace: str, name: str, version: str) -> VersionRow | None:
    row = conn.execute(
        _version_query().where(
            t.namespaces.c.name == namespace,
            t.components.c.name == name,
            t.component_versions.c.version == version,
        )
    ).first()
    return None if row is None else _version_row(row)


def get_version(store: Store, namespace: str, name: str, version: str) -> VersionRow | None:
    """Version ``version`` of ``namespace/name`` exactly; None when it was never pushed."""
    with store.autocommit.connect() as conn:
        return _version(conn, namespace, name, version)


#: What may change of a version once pushed: whether it is deprecated or yanked.
MARKS = frozenset({"deprecated", "yanked", "replacement"})


def mark_version(
    store: Store, namespace: str, name: str, version: str, marks: Mapping[str, str | None]
) -> VersionRow | None:
    """Deprecate (a message) or yank (why, and a replacement) a version, or undo either
    (None), by ``marks``; the version as it is now, or None when it was never pushed.
    Nothing else of a version ever changes."""
    if not marks.keys() <= MARKS:
        raise ValueError(f"only {', '.join(sorted(MARKS))} of a version change, not {sorted(marks)}")
    with store.database.begin() as conn:
        version_id = conn.execute(
            sa.select(t.component_versions.c.id)
            .join(t.components, t.components.c.id == t.component_versions.c.component_id)
            .join(t.namespaces, t.namespaces.c.id == t.components.c.namespace_id)
            .where(
                t.namespaces.c.name == namespace,
                t.components.c.name == name,
                t.component_versions.c.version == version,
            )
        ).scalar()
        if version_id is None:
            return None
        conn.execute(
            t.component_versions.update().where(t.component_versions.c.id == version_id).values(**marks)
        )
        return _version(conn, namespace, name, version)


def versions(store: Store, namespace: str, name: str) -> list[VersionRow]:
    """Every version of a component, newest first (semver order)."""
    with store.autocommit.connect() as conn:
        rows = conn.execute(
            _version_query().where(t.namespaces.c.name == namespace, t.components.c.name == name)
        ).all()
    return sorted((_version_row(row) for row in rows), key=lambda v: version_key(v.version), reverse=True)


def recorded_images(store: Store) -> dict[tuple[str, str], str]:
    """``(NS/NAME, version) -> manifest digest`` of every version recorded (yanked ones too):
    what the registry's garbage collection keeps."""
    query = (
        sa.select(
            t.namespaces.c.name,
            t.components.c.name,
            t.component_versions.c.version,
            t.component_versions.c.digest,
        )
        .join(t.components, t.components.c.id == t.component_versions.c.component_id)
        .join(t.namespaces, t.namespaces.c.id == t.components.c.namespace_id)
    )
    with store.autocommit.connect() as conn:
        return {(f"{ns}/{name}", version): digest for ns, name, version, digest in conn.execute(query)}


# -- components --------------------------------------------------------------------------
def _component_query() -> sa.Select[Any]:
    return sa.select(
        t.components.c.name,
        t.components.c.latest_version,
        t.components.c.title,
        t.components.c.description,
        t.components.c.keywords,
        t.namespaces.c.name.label("namespace"),
        t.namespaces.c.kind,
        PUBLIC.label("public"),
    ).join(t.namespaces, t.namespaces.c.id == t.components.c.namespace_id)


def list_components(
    store: Store, namespace: str | None = None, *, readable: frozenset[str] | None = None
) -> list[ComponentRow]:
    """Every component (of ``namespace`` when given) a reader of ``readable`` sees (None:
    all), by namespace and name."""
    query = _component_query().order_by(t.namespaces.c.name, t.components.c.name)
    if namespace is not None:
        query = query.where(t.namespaces.c.name == namespace)
    visible = _visible_to(readable)
    if visible is not None:
        query = query.where(visible)
    with store.autocommit.connect() as conn:
        return [_component_row(row) for row in conn.execute(query)]


def search(
    store: Store, text: str, *, limit: int = 20, readable: frozenset[str] | None = None
) -> list[ComponentRow]:
    """Components that have, for every word of ``text``, a word starting with it; best first.

    Per search word, the best weight of the words it starts; the scores add up across
    search words. The library comes before other namespaces at equal scores. With
    ``readable``, only what a reader of those namespaces sees (theirs and the public
    ones), filtered in the query, so that ``limit`` counts only what is shown.
    """
    terms = list(dict.fromkeys(word[:MAX_WORD] for word in text.lower().split()))[:MAX_SEARCH_WORDS]
    if not terms:
        return []
    params: dict[str, Any] = {"limit": limit, "words": len(terms)}
    for index, term in enumerate(terms):
        params[f"w{index}"] = term
        params[f"u{index}"] = term + _TOP
    if readable is not None:
        params["readable"] = sorted(readable)
    with store.autocommit.connect() as conn:
        rows = conn.execute(_search_query(len(terms), readable is not None), params).all()
    return [_component_row(row, score=int(row.score)) for row in rows]


@functools.cache
def _search_query(words: int, filtered: bool = False) -> sa.Select[Any]:
    """The search for ``words`` search words, built once with bound parameters (building
    and keying a statement costs more than running it).

    Per search word, an index range on ``component_words`` (prefix match) gives each
    component's best weight; a component must have all the words; the best
    ``limit`` by total come back with their rows.
    """
    w = t.component_words.c
    per_word = sa.union_all(
        *(
            sa.select(w.component_id, sa.func.max(w.weight).label("weight"))
            .where(w.word >= sa.bindparam(f"w{i}"), w.word < sa.bindparam(f"u{i}"))
            .group_by(w.component_id)
            for i in range(words)
        )
    ).subquery("per_word")
    scores = (
        sa.select(per_word.c.component_id, sa.func.sum(per_word.c.weight).label("score"))
        .group_by(per_word.c.component_id)
        .having(sa.func.count() == sa.bindparam("words"))
        .subquery("scores")
    )
    return (
        _component_query()
        .add_columns(scores.c.score)
        .join(scores, scores.c.component_id == t.components.c.id)
        .where(
            sa.or_(t.namespaces.c.name.in_(sa.bindparam("readable", expanding=True)), PUBLIC.is_(True))
            if filtered
            else sa.true()
        )
        .order_by(
            scores.c.score.desc(), (t.namespaces.c.name != LIBRARY), t.namespaces.c.name, t.components.c.name
        )
        .limit(sa.bindparam("limit"))
    )


def _version_row(row: Any) -> VersionRow:
    return VersionRow(
        namespace=row.namespace,
        name=row.component,
        version=row.version,
        digest=row.digest,
        image_id=row.image_id,
        spec=row.spec or {},
        readme=row.readme,
        pushed_at=aware(row.pushed_at),
        pushed_by=row.pushed_by,
        source_commit=row.source_commit,
        source_dirty=row.source_dirty,
        size=row.size,
        deprecated=row.deprecated,
        yanked=row.yanked,
        replacement=row.replacement,
    )


def _component_row(row: Any, score: int = 0) -> ComponentRow:
    return ComponentRow(
        namespace=row.namespace,
        kind=row.kind,
        name=row.name,
        latest_version=row.latest_version,
        title=row.title,
        description=row.description,
        keywords=list(row.keywords or []),
        score=score,
        public=bool(row.public),
    )
