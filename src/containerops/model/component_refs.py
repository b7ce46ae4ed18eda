"""Component references (``namespace/name[:version]``) and version order.

A reference comes from a user (CLI), a flow (``component:``) or the API; every
part is checked here with the spec's own name rule before it reaches a query,
an image tag or a registry path. The version of a reference may be whole
(``1.2.0``), partial (``1`` or ``1.2``: the newest matching release) or absent
(the newest release).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import semver

from containerops.model.names import SEMVER, validate_name, validate_version

#: A partial version: ``1`` or ``1.2``.
_PARTIAL = re.compile(r"(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?")

REF_FORM = "namespace/name[:version], such as library/shell or library/shell:1.0.0"


class RefInvalid(ValueError):
    """A reference that cannot name a component; the message says why."""


@dataclass(frozen=True, slots=True)
class ComponentRef:
    namespace: str
    name: str
    version: str | None = None  # whole, partial or None

    @property
    def repository(self) -> str:
        """The image repository in the registry: ``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return self.repository + (f":{self.version}" if self.version else "")


def parse_ref(text: str) -> ComponentRef:
    """``namespace/name[:version]`` checked part by part; :class:`RefInvalid` otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise RefInvalid(f"a component reference is needed: {REF_FORM}")
    body, colon, version = text.strip().partition(":")
    parts = body.split("/")
    if len(parts) != 2:
        raise RefInvalid(f"{text!r} is not a component reference: {REF_FORM}")
    try:
        namespace = validate_name("namespace", parts[0])
        name = validate_name("component name", parts[1])
    except ValueError as exc:
        raise RefInvalid(f"{text!r}: {exc}") from None
    if not colon:
        return ComponentRef(namespace, name)
    if not _PARTIAL.fullmatch(version):
        try:
            validate_version(version)
        except ValueError as exc:
            raise RefInvalid(f"{text!r}: {exc} (or 1, 1.2 for the newest 1.x, 1.2.x)") from None
    return ComponentRef(namespace, name, version)


def version_key(version: str) -> tuple[bool, semver.Version]:
    """Semantic-version order (the semver package's): 1.10.0 > 1.9.0, and 1.0.0 >
    1.0.0-rc.10 > 1.0.0-rc.2; a malformed version (none is stored) sorts first."""
    import semver  # tens of ms: only ordering versions needs it, not `coops validate`

    try:
        return True, semver.Version.parse(version)
    except ValueError:
        return False, semver.Version(0)


def newest(versions: Iterable[str], wanted: str | None = None) -> str | None:
    """The newest of ``versions`` that ``wanted`` (whole, partial or None) allows.

    No version or a partial one picks releases only (no ``-rc``); a whole one
    must be there exactly.
    """
    pool = list(versions)
    if wanted is not None and SEMVER.fullmatch(wanted):
        return wanted if wanted in pool else None
    if wanted is not None:
        prefix = wanted.split(".")
        pool = [v for v in pool if v.split("-")[0].split(".")[: len(prefix)] == prefix]
    releases = [v for v in pool if "-" not in v]
    return max(releases or pool, key=version_key, default=None)
