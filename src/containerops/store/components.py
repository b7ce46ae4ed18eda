"""What the repository knows about components: namespaces, components, pushed versions.

The images are in the registry; their metadata (digest, spec, README, push
time) is here, in the store, so that resolving ``library/git-clone:1`` before a
run, ``show`` and ``search`` never need the registry. A version, once pushed,
is immutable: the same image again is a no-op, another image is refused.

Search ranks by name, then keywords, then title and description. The newest
version's words are kept in ``component_words``, one row per (component, word)
with the weight a match on it counts; a search looks each of its words up as a
prefix in that table's index and adds the best weight per word, in SQL, so
that 10,000 components cost an index range per word, not a scan of every
description. No full-text engine: SQLite, PostgreSQL and MySQL behave the same.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from difflib import get_close_matches
from typing import Any, Literal

import sqlalchemy as sa

from containerops.model.component_refs import ComponentRef, newest, version_key
from containerops.store import schema as t
from containerops.store.store import Store
from containerops.store.values import aware, new_id, utcnow
from containerops.timestamps import rfc3339

NamespaceKind = Literal["library", "organization", "user"]
NAMESPACE_KINDS: tuple[NamespaceKind, ...] = ("library", "organization", "user")
LIBRARY = "library"


class CatalogError(Exception):
    """A lookup or a push the repository refuses; the message says why and what to do."""


class UnknownComponent(CatalogError):
    """No such component or version; ``suggestions`` are the nearest that exist."""

    def __init__(self, message: str, suggestions: list[str]) -> None:
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(message + hint)


class VersionConflict(CatalogError):
    """A pushed version is immutable: this one exists with another image."""


@dataclass(slots=True)
class VersionRow:
    namespace: str
    name: str
    version: str
    digest: str  # sha256:... of the manifest in the registry
    image_id: str  # sha256:... of the image config
    spec: dict[str, Any]
    readme: str
    pushed_at: datetime

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
        }


@dataclass(slots=True)
class ComponentRow:
    namespace: str
    kind: str
    name: str
    latest_version: str
    title: str
    description: str
    keywords: list[str]
    score: int = 0
    versions: list[str] = field(default_factory=list)

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
        }
        if self.score:
            document["score"] = self.score
        if self.versions:
            document["versions"] = self.versions
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


_WORD = re.compile(r"\w+")
#: Above every word in index order: ``word < prefix + TOP`` bounds a prefix range.
_TOP = "\U0010ffff"
#: Long enough for ``namespace/name`` (64 + 1 + 64).
MAX_WORD = 160
#: What a search word matching each kind of word counts (added up across kinds).
WEIGHT_NAME, WEIGHT_NAME_START, WEIGHT_NAME_PART = 100, 40, 25
WEIGHT_KEYWORD, WEIGHT_KEYWORD_PART, WEIGHT_TITLE, WEIGHT_DESCRIPTION = 30, 15, 10, 5


def search_words(record: PushRecord) -> dict[str, int]:
    """Each word a search may find the component by, with its weight.

    The name whole (and ``namespace/name``) counts most, then its first part
    (the name starts with it), its other parts and the namespace; then a whole
    keyword, a part of one, a title word, a description word. A word in several
    places adds the best weight of each place.
    """
    places: dict[str, dict[str, int]] = {}

    def add(place: str, words: list[str], weight: int) -> None:
        for word in words:
            word = word.lower()[:MAX_WORD]
            if word:
                best = places.setdefault(word, {})
                best[place] = max(best.get(place, 0), weight)

    name_parts = _WORD.findall(record.name)
    add("name", [record.name, f"{record.namespace}/{record.name}"], WEIGHT_NAME)
    add("name", name_parts[:1], WEIGHT_NAME_START)
    add("name", [*name_parts[1:], record.namespace], WEIGHT_NAME_PART)
    add("keyword", list(record.keywords), WEIGHT_KEYWORD)
    add(
        "keyword",
        [part for keyword in record.keywords for part in _WORD.findall(keyword)],
        WEIGHT_KEYWORD_PART,
    )
    add("title", _WORD.findall(record.title), WEIGHT_TITLE)
    add("description", _WORD.findall(record.description), WEIGHT_DESCRIPTION)
    return {word: sum(best.values()) for word, best in places.items()}


class Catalog:
    """Queries on the repository tables of one store."""

    def __init__(self, store: Store) -> None:
        self.database = store.database

    # -- writing -----------------------------------------------------------------------
    def existing(self, namespace: str, name: str, version: str) -> VersionRow | None:
        with self.database.connect() as conn:
            row = conn.execute(
                self._version_query().where(
                    t.namespaces.c.name == namespace,
                    t.components.c.name == name,
                    t.component_versions.c.version == version,
                )
            ).first()
        return None if row is None else _version_row(row)

    def record(self, push: PushRecord, *, kind: NamespaceKind = "user") -> tuple[VersionRow, bool]:
        """Record a pushed version; ``(row, created)``. The namespace is made on first use.

        The same version with the same image is a no-op (``created`` False);
        with another image it is refused (:class:`VersionConflict`).
        """
        now = utcnow()
        with self.database.begin() as conn:
            namespace_id = self._namespace(conn, push.namespace, kind, now)
            component = conn.execute(
                sa.select(t.components.c.id).where(
                    t.components.c.namespace_id == namespace_id, t.components.c.name == push.name
                )
            ).first()
            if component is None:
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
            else:
                component_id = component.id
            found = conn.execute(
                sa.select(t.component_versions.c.image_id, t.component_versions.c.digest).where(
                    t.component_versions.c.component_id == component_id,
                    t.component_versions.c.version == push.version,
                )
            ).first()
            if found is not None:
                if found.image_id != push.image_id:
                    raise VersionConflict(conflict_message(push, found.image_id))
                existing = self.existing(push.namespace, push.name, push.version)
                assert existing is not None
                return existing, False
            conn.execute(
                t.component_versions.insert().values(
                    component_id=component_id,
                    version=push.version,
                    digest=push.digest,
                    image_id=push.image_id,
                    spec=push.spec,
                    readme=push.readme,
                    pushed_at=now,
                )
            )
            self._refresh_latest(conn, component_id, push, now)
        row = self.existing(push.namespace, push.name, push.version)
        assert row is not None
        return row, True

    def _namespace(self, conn: sa.Connection, name: str, kind: NamespaceKind, now: datetime) -> int:
        row = conn.execute(
            sa.select(t.namespaces.c.id, t.namespaces.c.kind).where(t.namespaces.c.name == name)
        ).first()
        if row is not None:
            return int(row.id)
        if (name == LIBRARY) != (kind == LIBRARY):
            raise CatalogError(
                f"namespace {name!r} cannot be of kind {kind!r}: only 'library' is the library, "
                "and it holds only the components maintained with ContainerOps"
            )
        return new_id(conn.execute(t.namespaces.insert().values(name=name, kind=kind, created_at=now)))

    def create_namespace(self, name: str, kind: NamespaceKind) -> bool:
        """Create a namespace explicitly; False when it exists already (with the same kind)."""
        with self.database.begin() as conn:
            found = conn.execute(sa.select(t.namespaces.c.kind).where(t.namespaces.c.name == name)).first()
            if found is not None:
                if found.kind != kind:
                    raise CatalogError(f"namespace {name!r} exists already, as {found.kind}")
                return False
            self._namespace(conn, name, kind, utcnow())
            return True

    def namespace_kind(self, name: str) -> str | None:
        with self.database.connect() as conn:
            kind = conn.execute(sa.select(t.namespaces.c.kind).where(t.namespaces.c.name == name)).scalar()
        return None if kind is None else str(kind)

    def _refresh_latest(
        self, conn: sa.Connection, component_id: int, push: PushRecord, now: datetime
    ) -> None:
        """Keep the component row on its newest version (a 1.0.1 pushed after 2.0.0 is not newest)."""
        versions = conn.execute(
            sa.select(t.component_versions.c.version).where(
                t.component_versions.c.component_id == component_id
            )
        ).scalars()
        latest = newest(list(versions))
        values: dict[str, Any] = {"updated_at": now}
        if latest == push.version:
            values.update(
                latest_version=push.version,
                title=push.title,
                description=push.description,
                keywords=list(push.keywords),
            )
            conn.execute(t.component_words.delete().where(t.component_words.c.component_id == component_id))
            conn.execute(
                t.component_words.insert(),
                [
                    {"component_id": component_id, "word": word, "weight": weight}
                    for word, weight in search_words(push).items()
                ],
            )
        conn.execute(t.components.update().where(t.components.c.id == component_id).values(**values))

    # -- reading -----------------------------------------------------------------------
    @staticmethod
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

    @staticmethod
    def _component_query() -> sa.Select[Any]:
        return sa.select(
            t.components.c.name,
            t.components.c.latest_version,
            t.components.c.title,
            t.components.c.description,
            t.components.c.keywords,
            t.namespaces.c.name.label("namespace"),
            t.namespaces.c.kind,
        ).join(t.namespaces, t.namespaces.c.id == t.components.c.namespace_id)

    def versions(self, namespace: str, name: str) -> list[VersionRow]:
        """Every version of a component, newest first (semver order)."""
        with self.database.connect() as conn:
            rows = conn.execute(
                self._version_query().where(t.namespaces.c.name == namespace, t.components.c.name == name)
            ).all()
        found = [_version_row(row) for row in rows]
        return sorted(found, key=lambda v: version_key(v.version), reverse=True)

    def resolve(self, ref: ComponentRef, readable: Callable[[str], bool] | None = None) -> VersionRow:
        """The version ``ref`` names (the newest when it names none, or a partial one).

        With ``readable`` (namespace -> may the caller read it), a component of a namespace
        it may not read is answered exactly as a missing one, and suggestions keep to what
        it may read, so that nothing tells what exists elsewhere.
        """
        visible = readable is None or readable(ref.namespace)
        found = self.versions(ref.namespace, ref.name) if visible else []
        if not found:
            raise UnknownComponent(
                f"no component {ref.repository} in the repository", self.nearest(ref.repository, readable)
            )
        chosen = newest([v.version for v in found], ref.version)
        if chosen is None:
            listed = ", ".join(v.version for v in found[:10])
            raise UnknownComponent(
                f"{ref.repository} has no version {ref.version} (it has: {listed})",
                [],
            )
        return next(v for v in found if v.version == chosen)

    def nearest(
        self, full_name: str, readable: Callable[[str], bool] | None = None, count: int = 3
    ) -> list[str]:
        with self.database.connect() as conn:
            names = [
                f"{row.namespace}/{row.name}"
                for row in conn.execute(self._component_query())
                if readable is None or readable(row.namespace)
            ]
        return get_close_matches(full_name, names, n=count, cutoff=0.5)

    def list_components(self, namespace: str | None = None) -> list[ComponentRow]:
        query = self._component_query().order_by(t.namespaces.c.name, t.components.c.name)
        if namespace is not None:
            query = query.where(t.namespaces.c.name == namespace)
        with self.database.connect() as conn:
            return [_component_row(row) for row in conn.execute(query)]

    def component(self, namespace: str, name: str) -> ComponentRow | None:
        query = self._component_query().where(t.namespaces.c.name == namespace, t.components.c.name == name)
        with self.database.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _component_row(row)

    def search(self, text: str, *, limit: int = 20) -> list[ComponentRow]:
        """Components that have, for every word of ``text``, a word starting with it; best first.

        Per search word, the best weight of the words it starts (see
        :func:`search_words`); the scores add up across search words. The
        library comes before other namespaces at equal scores.
        """
        terms = list(dict.fromkeys(word[:MAX_WORD] for word in text.lower().split()))[:MAX_SEARCH_WORDS]
        if not terms:
            return []
        params: dict[str, Any] = {"limit": limit, "words": len(terms)}
        for index, term in enumerate(terms):
            params[f"w{index}"] = term
            params[f"u{index}"] = term + _TOP
        with self.database.connect() as conn:
            rows = conn.execute(_search_query(len(terms)), params).all()
        found: list[ComponentRow] = []
        for row in rows:
            component = _component_row(row)
            component.score = int(row.score)
            found.append(component)
        return found


#: Words of a search beyond this many are ignored.
MAX_SEARCH_WORDS = 8


@functools.cache
def _search_query(words: int) -> sa.Select[Any]:
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
        Catalog._component_query()
        .add_columns(scores.c.score)
        .join(scores, scores.c.component_id == t.components.c.id)
        .order_by(
            scores.c.score.desc(), (t.namespaces.c.name != LIBRARY), t.namespaces.c.name, t.components.c.name
        )
        .limit(sa.bindparam("limit"))
    )


def conflict_message(push: PushRecord, image_id: str) -> str:
    return (
        f"{push.namespace}/{push.name}:{push.version} was already pushed with another image "
        f"({image_id[:19]}, this build is {push.image_id[:19]}); a pushed version never changes: "
        "raise the version in component.yaml and push again"
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
    )


def _component_row(row: Any) -> ComponentRow:
    return ComponentRow(
        namespace=row.namespace,
        kind=row.kind,
        name=row.name,
        latest_version=row.latest_version,
        title=row.title,
        description=row.description,
        keywords=list(row.keywords or []),
    )
