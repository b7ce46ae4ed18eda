"""Checking the names that reach the store from a URL: flow URI parts, job paths, formats."""

from __future__ import annotations

import re

from containerops.model.names import URI_PART
from containerops.server.errors import ApiError

#: A job's path: stage.action.job, each part as flows allow names; an instance of a matrix
#: job ends with its values: stage.action.job[key=value,...] (``model.paths``).
JOB_PATH = re.compile(r"[A-Za-z0-9_.-]+(?:\[[A-Za-z0-9_.:+@~=,-]*\])?")
MAX_JOB_PATH = 255
MAX_PART = 80


def uri_part(value: str, what: str) -> str:
    """One segment of a flow URI, or a 400 that says which and why."""
    if not value or len(value) > MAX_PART or ".." in value or not URI_PART.fullmatch(value):
        raise ApiError(
            f"{what} {value[:MAX_PART]!r} is not a valid name: use letters, digits, '-', '_' and '.', "
            f"starting with a letter or a digit, at most {MAX_PART} characters",
            status=400,
        )
    return value


def flow_uri(namespace: str, repository: str, name: str) -> str:
    return "/".join(
        (uri_part(namespace, "namespace"), uri_part(repository, "repository"), uri_part(name, "flow name"))
    )


def job_path(value: str) -> str:
    if len(value) > MAX_JOB_PATH or not JOB_PATH.fullmatch(value):
        raise ApiError(f"{value[:80]!r} is not a job path (stage.action.job)", status=400)
    return value
