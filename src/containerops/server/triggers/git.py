"""From a GitHub or GitLab event payload to what a run is given, and whether it runs.

A push gives the pushed commit; a pull (GitHub) or merge (GitLab) request gives
its head commit, fetchable from the base repository at ``CO_GIT_REF``. Branch
patterns (``fnmatch``: ``release/*``) match the pushed branch, or the branch a
request targets, as CI systems usually do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from containerops.model.hooks import GitTrigger

#: Request actions that bring new code to test; the others (closed, labeled...) are ignored.
GITHUB_PR_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
GITLAB_MR_ACTIONS = frozenset({"open", "reopen", "update"})
_DELETED = "0" * 40


class PayloadError(ValueError):
    """A payload that does not carry what its event must (said plainly, answered 400)."""


@dataclass(frozen=True, slots=True)
class GitEvent:
    """One push or request, reduced to what triggers match and runs receive.

    ``event`` is the trigger's word for it (push, pull_request, merge_request);
    ``branch`` is the pushed or targeted branch (None for a tag); ``skip`` says
    why this event starts nothing even if the trigger wants its kind.
    """

    event: str
    url: str
    ref: str
    sha: str
    repository: str  # owner/name (GitHub) or group/project (GitLab)
    branch: str | None
    pr_number: str = ""
    skip: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The run's ``CO_GIT_*`` and ``CO_EVENT`` variables."""
        return {
            "CO_GIT_URL": self.url,
            "CO_GIT_REF": self.ref,
            "CO_GIT_SHA": self.sha,
            "CO_EVENT": self.event,
            "CO_PR_NUMBER": self.pr_number,
            "CO_GIT_REPOSITORY": self.repository,
            **self.extra,
        }


def _get(payload: Any, *path: str) -> Any:
    value = payload
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise PayloadError(f"the payload has no '{'.'.join(path)}'")
        value = value[key]
    return value


def _text(payload: Any, *path: str) -> str:
    value = _get(payload, *path)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"'{'.'.join(path)}' in the payload must be text")
    return str(value)


def _branch(ref: str) -> str | None:
    return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None


def _deletion(ref: str) -> str:
    """Why a push that deletes ``ref`` runs nothing, naming what it deletes."""
    if ref.startswith("refs/tags/"):
        return f"the push deletes the tag {ref.removeprefix('refs/tags/')}"
    if ref.startswith("refs/heads/"):
        return f"the push deletes the branch {ref.removeprefix('refs/heads/')}"
    return f"the push deletes {ref}"


def github_event(name: str, payload: Any) -> GitEvent | None:
    """The event of a GitHub delivery (``X-GitHub-Event: name``); None for kinds we do not run."""
    if name == "push":
        ref = _text(payload, "ref")
        sha = _text(payload, "after")
        deleted = payload.get("deleted") is True or sha == _DELETED
        return GitEvent(
            event="push",
            url=_text(payload, "repository", "clone_url"),
            ref=ref,
            sha=sha,
            repository=_text(payload, "repository", "full_name"),
            branch=_branch(ref),
            skip=_deletion(ref) if deleted else None,
        )
    if name == "pull_request":
        number = _text(payload, "number")
        action = _text(payload, "action")
        base = _text(payload, "pull_request", "base", "ref")
        return GitEvent(
            event="pull_request",
            url=_text(payload, "repository", "clone_url"),
            ref=f"refs/pull/{number}/head",
            sha=_text(payload, "pull_request", "head", "sha"),
            repository=_text(payload, "repository", "full_name"),
            branch=base,
            pr_number=number,
            skip=None
            if action in GITHUB_PR_ACTIONS
            else f"pull request action '{action}' brings no new code",
            extra={"CO_GIT_BASE_REF": base, "CO_GIT_HEAD_REF": _text(payload, "pull_request", "head", "ref")},
        )
    return None


def gitlab_event(name: str, payload: Any) -> GitEvent | None:
    """The event of a GitLab delivery (``X-Gitlab-Event: Push Hook``...); None for other kinds."""
    if name == "Push Hook":
        ref = _text(payload, "ref")
        sha = _text(payload, "after")
        return GitEvent(
            event="push",
            url=_text(payload, "project", "git_http_url"),
            ref=ref,
            sha=sha,
            repository=_text(payload, "project", "path_with_namespace"),
            branch=_branch(ref),
            skip=_deletion(ref) if sha == _DELETED else None,
        )
    if name == "Merge Request Hook":
        number = _text(payload, "object_attributes", "iid")
        action = str(_get(payload, "object_attributes").get("action", "open"))
        target = _text(payload, "object_attributes", "target_branch")
        return GitEvent(
            event="merge_request",
            url=_text(payload, "project", "git_http_url"),
            ref=f"refs/merge-requests/{number}/head",
            sha=_text(payload, "object_attributes", "last_commit", "id"),
            repository=_text(payload, "project", "path_with_namespace"),
            branch=target,
            pr_number=number,
            skip=None
            if action in GITLAB_MR_ACTIONS
            else f"merge request action '{action}' brings no new code",
            extra={
                "CO_GIT_BASE_REF": target,
                "CO_GIT_HEAD_REF": _text(payload, "object_attributes", "source_branch"),
            },
        )
    return None


def why_ignored(trigger: GitTrigger, event: GitEvent) -> str | None:
    """None when ``trigger`` runs the flow for ``event``; else the reason it does not."""
    if event.event not in trigger.events:
        return f"event '{event.event}' is not one of the trigger's events ({', '.join(trigger.events)})"
    if event.skip:
        return event.skip
    if trigger.branches:
        if event.branch is None:
            return f"'{event.ref}' is not a branch; the trigger wants branches {', '.join(trigger.branches)}"
        if not any(fnmatchcase(event.branch, pattern) for pattern in trigger.branches):
            return f"branch '{event.branch}' matches none of {', '.join(trigger.branches)}"
    return None
