"""A flow's log rules (``logs:``): what they read as, and where each mistake is reported."""

from __future__ import annotations

import pytest

from containerops.model.flow import Position
from containerops.model.loader import parse_flow
from containerops.model.logrules import ForwardRule, MatchRule, OtlpRule
from tests.model.test_hooks import errors, flow

RECEIVERS = """\
receivers:
  - {type: webhook, name: oncall, url: "http://127.0.0.1:9/hook"}
  - {type: slack, name: team, secret: SLACK}
"""


def test_rules_read_with_defaults_and_positions() -> None:
    text = flow(
        RECEIVERS
        + """\
logs:
  - match: "(?i)panic|data race"
    notify: [oncall, team]
    at_most: 3/10m
  - {match: "^ERROR", notify: oncall}
  - forward: {webhook: "https://logs.example/ingest", secret: HOOK_KEY, batch: 500, every: 500ms, keep: 10}
  - forward: {webhook: "http://127.0.0.1:9/in"}
  - otlp: {endpoint: "http://127.0.0.1:4318/v1/logs"}
"""
    )
    rules = parse_flow(text).flow.logs
    assert rules == [
        MatchRule("(?i)panic|data race", ("oncall", "team"), 3, 600.0, Position(6, 5)),
        MatchRule("^ERROR", ("oncall",), 1, 300.0, Position(9, 5)),
        ForwardRule("https://logs.example/ingest", "HOOK_KEY", 500, 0.5, 10, Position(10, 5)),
        ForwardRule("http://127.0.0.1:9/in", None, 1000, 2.0, 100_000, Position(11, 5)),
        OtlpRule("http://127.0.0.1:4318/v1/logs", Position(12, 5)),
    ]
    assert [r.name for r in parse_flow(text).flow.receivers] == ["oncall", "team"]


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            '  - {match: "(unclosed", notify: oncall}\n',
            "flow.yml:6:13: error: 'match' is not a pattern RE2",
        ),
        ('  - {match: "((a{100}){100}){100}", notify: oncall}\n', "'match' is not a pattern"),
        ("  - {match: x, notify: [nobody]}\n", "flow.yml:6:5: error: 'notify' names 'nobody'"),
        ("  - {match: x}\n", "a match rule needs 'notify'"),
        ("  - {notify: oncall}\n", "a log rule needs 'match'"),
        ("  - {match: x, notify: oncall, at_most: often}\n", "'at_most' is COUNT/DURATION"),
        ("  - {match: x, notify: oncall, at_most: 0/5m}\n", "'at_most' is COUNT/DURATION"),
        ("  - {match: x, notify: oncall, when: now}\n", "unknown key 'when' in a log rule"),
        ("  - forward: {batch: 3}\n", "a forward rule needs 'webhook'"),
        ("  - forward: {webhook: ftp://x}\n", "'webhook' must be an http:// or https:// address"),
        ("  - forward: {webhook: 'http://x', batch: 0}\n", "batch"),
        ("  - forward: {webhook: 'http://x', secret: 'no such'}\n", "secret name in 'secret'"),
        ("  - {forward: {webhook: 'http://x'}, match: x}\n", "a forward rule has only 'forward'"),
        ("  - otlp: {}\n", "an otlp rule needs 'endpoint'"),
        ("  - otlp: {endpoint: grpc://x}\n", "'endpoint' must be an http:// or https:// address"),
        ("  - otlp: {url: 'http://x'}\n", "unknown key 'url' in an otlp rule"),
    ],
)
def test_each_mistake_is_said_where_it_is(rules: str, expected: str) -> None:
    found = errors(flow(RECEIVERS + "logs:\n" + rules))
    assert any(expected in error for error in found), found


JOB_STAGES = """\
stages:
  - {type: start, name: start}
  - type: normal
    name: build
    actions:
      - name: a
        jobs:
          - name: chatty
            endpoint: alpine
            logs:
{rules}          - {name: quiet, endpoint: alpine}
  - {type: end, name: end}
"""


def _job_flow(rules: str) -> str:
    return "uri: demo/hello/ci\n" + RECEIVERS + JOB_STAGES.replace("{rules}", rules)


def test_a_job_s_own_rules_are_read_on_that_job_only() -> None:
    rules = (
        '              - {match: "(?i)panic", notify: oncall, at_most: 2/1m}\n'
        '              - forward: {webhook: "http://127.0.0.1:9/in", batch: 10}\n'
    )
    read = parse_flow(_job_flow(rules)).flow
    chatty, quiet = read.jobs()
    assert read.logs == [] and quiet.logs == []
    match, forward = chatty.logs
    assert isinstance(match, MatchRule) and (match.pattern, match.notify, match.at_most) == (
        "(?i)panic",
        ("oncall",),
        2,
    )
    assert isinstance(forward, ForwardRule) and (forward.url, forward.batch) == ("http://127.0.0.1:9/in", 10)


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            "              - {match: x, notify: [nobody]}\n",
            "flow.yml:15:17: error: 'notify' names 'nobody', not a receiver",
        ),
        ('              - {match: "(x", notify: oncall}\n', "flow.yml:15:25: error: 'match' is not a"),
        (
            "              - forward: {webhook: ftp://x}\n",
            "flow.yml:15:36: error: 'webhook' must be an http://",
        ),
        ("              - 3\n", "flow.yml:15:17: error: "),
    ],
)
def test_a_job_s_rule_mistakes_are_said_where_they_are(rules: str, expected: str) -> None:
    found = errors(_job_flow(rules))
    assert any(expected in error for error in found), found
