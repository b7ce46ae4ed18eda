"""What the repository knows about components: namespaces, components, pushed versions.

The images are in the registry; their metadata (digest, spec, README, push
time) is in the store (``containerops.store.components``), so that resolving
``library/git-clone:1`` before a run, ``show`` and ``search`` never need the
registry. This module holds the repository's rules over those rows: a version,
once pushed, is immutable (the same image again is a no-op, another image is
refused); only ``library`` is the library; a reader who may not read a namespace
learns nothing of it; and which words find a component, with what weight.

Search ranks by name, then keywords, then title and description: :func:`search_words`
gives each word of the newest version its weight, the store adds them up per search.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from difflib import get_close_matches
from typing import Literal

from containerops.model.component_refs import ComponentRef, newest
from containerops.store import Store, components
from containerops.store.components import LIBRARY, MAX_WORD, ComponentRow, PushRecord, VersionRow

NamespaceKind = Literal["library", "organization", "user"]
NAMESPACE_KINDS: tuple[NamespaceKind, ...] = ("library", "organization", "user")


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


_WORD = re.compile(r"\w+")
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
    """The repository's rules over the component rows of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- writing -----------------------------------------------------------------------
    def existing(self, namespace: str, name: str, version: str) -> VersionRow | None:
        return components.get_version(self.store, namespace, name, version)

    def record(self, push: PushRecord, *, kind: NamespaceKind = "user") -> tuple[VersionRow, bool]:
        """Record a pushed version; ``(row, created)``. The namespace is made on first use.

        The same version with the same image is a no-op (``created`` False);
        with another image it is refused (:class:`VersionConflict`).
        """
        self._may_make(push.namespace, kind)
        row, created = components.record_version(self.store, push, kind=kind, words=search_words(push))
        if not created and row.image_id != push.image_id:
            raise VersionConflict(conflict_message(push, row.image_id))
        return row, created

    def _may_make(self, name: str, kind: NamespaceKind) -> None:
        """Refuse to make namespace ``name`` of ``kind`` against the library rule (asked
        only when the rule would be broken: an existing namespace keeps its kind)."""
        if (name == LIBRARY) != (kind == LIBRARY) and components.namespace_kind(self.store, name) is None:
            raise CatalogError(
                f"namespace {name!r} cannot be of kind {kind!r}: only 'library' is the library, "
                "and it holds only the components maintained with ContainerOps"
            )

    def create_namespace(self, name: str, kind: NamespaceKind) -> bool:
        """Create a namespace explicitly; False when it exists already (with the same kind)."""
        self._may_make(name, kind)
        found = components.add_namespace(self.store, name, kind)
        if found is not None and found != kind:
            raise CatalogError(f"namespace {name!r} exists already, as {found}")
        return found is None

    def namespace_kind(self, name: str) -> str | None:
        return components.namespace_kind(self.store, name)

    # -- reading -----------------------------------------------------------------------
    def versions(self, namespace: str, name: str) -> list[VersionRow]:
        """Every version of a component, newest first (semver order)."""
        return components.versions(self.store, namespace, name)

    def resolve(
        self, ref: ComponentRef, readable: Callable[[str], bool] | None = None, *, pinned: bool = False
    ) -> VersionRow:
        """The version ``ref`` names (the newest when it names none, or a partial one).

        With ``readable`` (namespace -> may the caller read it), a private component of a
        namespace it may not read is answered exactly as a missing one, and suggestions keep to what
        it may read, so that nothing tells what exists elsewhere. A yanked version is never
        chosen, and named exactly it is refused saying why and what to use, unless the ref
        is ``pinned`` (a run that resolved it before it was yanked keeps it).
        """
        visible = self.may_read(ref.namespace, ref.name, readable)
        found = self.versions(ref.namespace, ref.name) if visible else []
        if not found:
            raise UnknownComponent(
                f"no component {ref.repository} in the repository", self.nearest(ref.repository, readable)
            )
        if not pinned:
            yanked = next((v for v in found if v.yanked is not None and v.version == ref.version), None)
            if yanked is not None:
                instead = f"; use {yanked.replacement} instead" if yanked.replacement else ""
                raise UnknownComponent(f"{yanked.ref} is yanked: {yanked.yanked}{instead}", [])
            found = [v for v in found if v.yanked is None]
        chosen = newest([v.version for v in found], ref.version)
        if chosen is None:
            listed = ", ".join(v.version for v in found[:10])
            raise UnknownComponent(
                f"{ref.repository} has no version {ref.version} (it has: {listed})",
                [],
            )
        return next(v for v in found if v.version == chosen)

    def may_read(self, namespace: str, name: str, readable: Callable[[str], bool] | None) -> bool:
        """The one rule of who reads a component: a reader of its namespace (``readable``;
        None: anyone), else anyone signed in when it is public."""
        return readable is None or readable(namespace) or components.is_public(self.store, namespace, name)

    def set_public(self, namespace: str, name: str | None, public: bool | None) -> None:
        """Make a namespace (``name`` None) or one component public or private; a component's
        None: as its namespace."""
        if not components.set_public(self.store, namespace, name, public):
            what = f"component {namespace}/{name}" if name else f"namespace {namespace!r}"
            raise UnknownComponent(f"no {what} in the repository", [])

    def deprecate(self, namespace: str, name: str, version: str, message: str | None) -> VersionRow:
        """Mark a version deprecated with its owner's ``message`` (None: no longer)."""
        return self._mark(namespace, name, version, {"deprecated": message})

    def yank(
        self, namespace: str, name: str, version: str, reason: str | None, replacement: str | None = None
    ) -> VersionRow:
        """Yank a version (None: unyank it): new runs refuse it and name ``replacement``, a
        version of the same component that is not yanked."""
        if reason is not None and replacement is not None:
            instead = self.existing(namespace, name, replacement)
            if instead is None or instead.yanked is not None or replacement == version:
                raise CatalogError(
                    f"the replacement {namespace}/{name}:{replacement} must be another version, "
                    "pushed and not yanked"
                )
        return self._mark(
            namespace, name, version, {"yanked": reason, "replacement": replacement if reason else None}
        )

    def _mark(self, namespace: str, name: str, version: str, marks: dict[str, str | None]) -> VersionRow:
        marked = components.mark_version(self.store, namespace, name, version, marks)
        if marked is None:
            raise UnknownComponent(f"no version {version} of {namespace}/{name} in the repository", [])
        return marked

    def nearest(
        self, full_name: str, readable: Callable[[str], bool] | None = None, count: int = 3
    ) -> list[str]:
        names = [
            row.full_name
            for row in components.list_components(self.store)
            if readable is None or row.public or readable(row.namespace)
        ]
        return get_close_matches(full_name, names, n=count, cutoff=0.5)

    def list_components(
        self, namespace: str | None = None, *, readable: frozenset[str] | None = None
    ) -> list[ComponentRow]:
        """Components (of ``namespace``) a reader of the namespaces ``readable`` sees: theirs
        and the public ones (None: every one)."""
        return components.list_components(self.store, namespace, readable=readable)

    def search(
        self, text: str, *, limit: int = 20, readable: frozenset[str] | None = None
    ) -> list[ComponentRow]:
        """Components that have, for every word of ``text``, a word starting with it; best first
        (see :func:`search_words` and :func:`containerops.store.components.search`); with
        ``readable``, only those its reader sees, as :meth:`list_components`."""
        return components.search(self.store, text, limit=limit, readable=readable)


def conflict_message(push: PushRecord, image_id: str) -> str:
    return (
        f"{push.namespace}/{push.name}:{push.version} was already pushed with another image "
        f"({image_id[:19]}, this build is {push.image_id[:19]}); a pushed version never changes: "
        "raise the version in component.yaml and push again"
    )
