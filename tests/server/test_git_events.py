"""From GitHub and GitLab payloads to what a run gets, and which events a trigger wants."""

from __future__ import annotations

from typing import Any

import pytest

from containerops.contract.signatures import sign, signature_ok, token_ok
from containerops.model.hooks import GitTrigger
from containerops.server.triggers.git import PayloadError, github_event, gitlab_event, why_ignored

GITLAB_PROJECT = {"path_with_namespace": "group/app", "git_http_url": "https://gitlab.example/group/app.git"}


def mr(action: str = "open", target: str = "main") -> dict[str, Any]:
    return {
        "project": GITLAB_PROJECT,
        "object_attributes": {
            "iid": 12,
            "action": action,
            "target_branch": target,
            "source_branch": "topic",
            "last_commit": {"id": "e" * 40},
        },
    }


def test_a_gitlab_merge_request() -> None:
    event = gitlab_event("Merge Request Hook", mr())
    assert event is not None
    assert event.env() == {
        "CO_GIT_URL": "https://gitlab.example/group/app.git",
        "CO_GIT_REF": "refs/merge-requests/12/head",
        "CO_GIT_SHA": "e" * 40,
        "CO_EVENT": "merge_request",
        "CO_PR_NUMBER": "12",
        "CO_GIT_REPOSITORY": "group/app",
        "CO_GIT_BASE_REF": "main",
        "CO_GIT_HEAD_REF": "topic",
    }
    trigger = GitTrigger("gitlab", "S", ("push", "merge_request"))
    assert why_ignored(trigger, event) is None
    closed = gitlab_event("Merge Request Hook", mr(action="close"))
    assert closed is not None
    assert why_ignored(trigger, closed) == "merge request action 'close' brings no new code"
    assert gitlab_event("Note Hook", {}) is None


def test_pushes_that_delete_or_tag_are_not_branch_pushes() -> None:
    trigger = GitTrigger("github", "S", ("push",), ("main",))
    deleted = github_event(
        "push",
        {
            "ref": "refs/heads/main",
            "after": "0" * 40,
            "deleted": True,
            "repository": {"full_name": "a/b", "clone_url": "u"},
        },
    )
    assert deleted is not None and why_ignored(trigger, deleted) == "the push deletes the branch main"
    untagged = github_event(
        "push",
        {
            "ref": "refs/tags/v1.2",
            "after": "0" * 40,
            "deleted": True,
            "repository": {"full_name": "a/b", "clone_url": "u"},
        },
    )
    assert untagged is not None
    assert why_ignored(GitTrigger("github", "S", ("push",)), untagged) == "the push deletes the tag v1.2"
    gitlab_untag = gitlab_event(
        "Push Hook",
        {
            "ref": "refs/tags/v2",
            "after": "0" * 40,
            "project": {"path_with_namespace": "a/b", "git_http_url": "u"},
        },
    )
    assert gitlab_untag is not None
    assert why_ignored(GitTrigger("gitlab", "S", ("push",)), gitlab_untag) == "the push deletes the tag v2"
    tag = github_event(
        "push",
        {"ref": "refs/tags/v1", "after": "1" * 40, "repository": {"full_name": "a/b", "clone_url": "u"}},
    )
    assert tag is not None and tag.branch is None
    assert why_ignored(trigger, tag) == "'refs/tags/v1' is not a branch; the trigger wants branches main"
    assert why_ignored(GitTrigger("github", "S", ("push",)), tag) is None  # no branch filter: tags run too
    only_prs = GitTrigger("github", "S", ("pull_request",))
    assert why_ignored(only_prs, tag) == "event 'push' is not one of the trigger's events (pull_request)"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "the payload has no 'ref'"),
        ({"ref": "refs/heads/x", "after": ["list"]}, "'after' in the payload must be text"),
        (
            {"ref": "refs/heads/x", "after": "1", "repository": "nope"},
            "the payload has no 'repository.clone_url'",
        ),
    ],
)
def test_malformed_payloads_say_what_is_missing(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(PayloadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        github_event("push", payload)


def test_signatures_and_tokens() -> None:
    body = b'{"zen": "Design for failure."}'
    good = sign("secret", body)
    assert good.startswith("sha256=") and len(good) == 71
    assert signature_ok("secret", body, good)
    assert not signature_ok("secret", body + b" ", good)
    assert not signature_ok("other", body, good)
    assert not signature_ok("secret", body, None)
    assert not signature_ok("secret", body, good.replace("sha256=", "sha1="))
    assert token_ok("t0ken", "t0ken")
    assert not token_ok("t0ken", "t0ke")
    assert not token_ok("t0ken", None)
