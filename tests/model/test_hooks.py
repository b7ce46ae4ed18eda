"""Triggers and receivers: what they read as, and where each mistake is reported."""

from __future__ import annotations

import textwrap

import pytest

from containerops.model.diagnostics import FlowInvalid
from containerops.model.flow import Position
from containerops.model.hooks import CronTrigger, GitTrigger, Receiver, WebhookTrigger
from containerops.model.loader import parse_flow

STAGES = "stages:\n  - {type: start, name: start}\n  - {type: end, name: end}\n"


def flow(extra: str) -> str:
    return "uri: demo/hello/ci\n" + textwrap.dedent(extra) + STAGES


def errors(text: str) -> list[str]:
    with pytest.raises(FlowInvalid) as caught:
        parse_flow(text, "flow.yml")
    return [str(d) for d in caught.value.diagnostics if d.severity == "error"]


def test_triggers_are_typed_with_defaults_and_positions() -> None:
    text = flow(
        """\
        triggers:
          - {type: github, events: [push, pull_request], branches: [main, "release/*"], secret: GH}
          - {type: gitlab, secret: GL}
          - {type: webhook, token: HOOK}
          - {type: cron, schedule: "*/5 * * * *", timezone: Europe/Paris}
          - {type: cron, schedule: "0 3 * * 1"}
        """
    )
    triggers = parse_flow(text).flow.triggers
    assert triggers == [
        GitTrigger("github", "GH", ("push", "pull_request"), ("main", "release/*"), Position(3, 5)),
        GitTrigger("gitlab", "GL", ("push", "merge_request"), (), Position(4, 5)),
        WebhookTrigger("HOOK", position=Position(5, 5)),
        CronTrigger("*/5 * * * *", "Europe/Paris", position=Position(6, 5)),
        CronTrigger("0 3 * * 1", "UTC", position=Position(7, 5)),
    ]


def test_receivers_are_typed_and_the_original_mail_form_is_an_email_receiver() -> None:
    text = flow(
        """\
        receivers:
          - {type: mail, address: ops@example.com}
          - {type: slack, url: "https://hooks.slack.com/services/T/B/X", on: [failure]}
          - {type: slack, secret: SLACK_URL}
          - {type: webhook, url: "http://127.0.0.1:9/x", secret: SIGNING_KEY, on: [success, failure]}
          - {type: email, to: [a@example.com, b@example.com], from: ci@example.com, host: smtp, port: 2525}
          - {type: github, secret: GH_TOKEN, url: "http://127.0.0.1:1/api/v3", context: ci/tests}
        """
    )
    mail, slack, slack_secret, hook, email, github = parse_flow(text).flow.receivers
    assert (mail.type, mail.to, mail.on, mail.position) == (
        "email",
        ("ops@example.com",),
        ("always",),
        Position(3, 5),
    )
    assert (slack.url, slack.on) == ("https://hooks.slack.com/services/T/B/X", ("failure",))
    assert (slack_secret.url, slack_secret.secret) == (None, "SLACK_URL")
    assert (hook.secret, hook.on) == ("SIGNING_KEY", ("success", "failure"))
    assert (email.to, email.sender, email.host, email.port) == (
        ("a@example.com", "b@example.com"),
        "ci@example.com",
        "smtp",
        2525,
    )
    assert (github.url, github.secret, github.context, github.repository) == (
        "http://127.0.0.1:1/api/v3",
        "GH_TOKEN",
        "ci/tests",
        None,
    )
    assert parse_flow(flow("receivers:\n  - {type: github, secret: T}\n")).flow.receivers[0].url == (
        "https://api.github.com"
    )


def test_receiver_outcomes() -> None:
    assert Receiver("slack", on=("always",)).wants("cancelled")
    only_failures = Receiver("slack", on=("failure",))
    assert only_failures.wants("failure")
    assert not only_failures.wants("success")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "triggers:\n  - {type: github, events: [push, pul_request], secret: GH}\n",
            "flow.yml:3:35: error: 'events' must be 'push' or 'pull_request', got 'pul_request'; "
            "did you mean 'pull_request'?",
        ),
        ("triggers:\n  - {type: github}\n", "flow.yml:3:5: error: a github trigger needs 'secret'"),
        (
            "triggers:\n  - {type: github, secret: my-secret}\n",
            "flow.yml:3:28: error: secret name in 'secret' 'my-secret' is not valid: "
            "use letters, digits and '_', not starting with a digit",
        ),
        (
            "triggers:\n  - {type: github, secret: S, events: []}\n",
            "flow.yml:3:39: error: 'events' is empty: nothing would start the flow",
        ),
        (
            "triggers:\n  - {type: cron, schedule: '*/5 * * *'}\n",
            "flow.yml:3:28: error: '*/5 * * *' is not a cron schedule (five fields: minute hour "
            "day-of-month month day-of-week, e.g. '*/5 * * * *')",
        ),
        (
            "triggers:\n  - {type: cron, schedule: '@daily', timezone: Mars/Olympus}\n",
            "flow.yml:3:48: error: unknown timezone 'Mars/Olympus' (use an IANA name such as 'UTC' or "
            "'Europe/Paris')",
        ),
        (
            "triggers:\n  - {type: cron, schedule: '@daily', tz: UTC}\n",
            "flow.yml:3:38: error: unknown key 'tz' in a cron trigger (known keys: type, schedule, timezone)",
        ),
        (
            "triggers:\n  - {type: svn}\n",
            "flow.yml:3:12: error: the type of a trigger must be 'github', 'gitlab', 'webhook' or 'cron', "
            "got 'svn'",
        ),
        ("triggers:\n  - {type: webhook}\n", "flow.yml:3:5: error: a webhook trigger needs 'token'"),
        ("receivers:\n  - {type: slack}\n", "flow.yml:3:5: error: a slack receiver needs 'url'"),
        (
            "receivers:\n  - {type: slack, url: 'ftp://x'}\n",
            "flow.yml:3:24: error: 'url' must be an http:// or https:// address, got 'ftp://x'",
        ),
        (
            "receivers:\n  - {type: mail, address: nobody}\n",
            "flow.yml:3:5: error: 'nobody' is not an email address",
        ),
        (
            "receivers:\n  - {type: email}\n",
            "flow.yml:3:5: error: an email receiver needs 'to' (or 'address'): who gets the mail",
        ),
        (
            "receivers:\n  - {type: slack, url: 'http://x', on: [sucess]}\n",
            "flow.yml:3:41: error: 'on' must be 'success', 'failure' or 'always', got 'sucess'; "
            "did you mean 'success'?",
        ),
        (
            "receivers:\n  - {type: github, secret: T, repository: nope}\n",
            "flow.yml:3:43: error: 'repository' must be owner/name",
        ),
        (
            "receivers:\n  - {type: email, to: a@b.c, port: 0}\n",
            "flow.yml:3:36: error: port must be an integer from 1 to 65535, got '0'",
        ),
    ],
)
def test_mistakes_are_reported_where_they_are(extra: str, expected: str) -> None:
    assert errors(flow(extra)) == [expected]
