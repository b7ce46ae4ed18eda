"""Names of namespaces and components, and component versions: checked at every entry
point (flow, spec, CLI, API, store), because a name reaches image tags, registry paths
and queries. Kept in the model so that flows and components share one rule."""

from __future__ import annotations

import re

#: Namespaces and names: they become image tags, registry paths and store keys.
NAME = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?")
NAME_RULE = "use 1 to 64 lowercase letters, digits, '-' and '_', starting and ending with a letter or digit"
#: Semantic versions without build metadata (``+`` cannot be in an image tag).
SEMVER = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*))?"
)


def validate_name(kind: str, value: str) -> str:
    """``value`` if it is a valid namespace or component name, else ``ValueError`` saying why.

    Checked at every entry point (spec, CLI, API, store): the name reaches image
    tags, registry paths and queries, so ``..``, ``/`` and upper case never pass.
    """
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise ValueError(f"{kind} {value!r} is not valid: {NAME_RULE}")
    return value


def validate_version(value: str) -> str:
    """``value`` if it is a semantic version ``MAJOR.MINOR.PATCH[-PRERELEASE]``."""
    if not isinstance(value, str) or not SEMVER.fullmatch(value):
        raise ValueError(
            f"version {value!r} is not valid: use a semantic version MAJOR.MINOR.PATCH such as 1.0.0 "
            "(optionally -PRERELEASE, such as 1.0.0-rc.1)"
        )
    return value


#: Names of stages, actions and jobs (a job's path joins them with dots).
STEP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
STEP_NAME_RULE = "use letters, digits, '-' and '_', starting with a letter or a digit"
#: One part of a flow's URI (namespace/repository/name) or a tag.
URI_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
#: Variables: environment names, secret names, ``--set`` names, subscription variables.
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENV_RULE = "use letters, digits and '_', not starting with a digit"
#: Input and output keys: as the flow format and the output contract accept them.
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
KEY_RULE = "use letters, digits, '_', '.' and '-', starting with a letter or '_'"
