"""A flow's log rules (``logs:``): what a server does with the lines its runs print.

.. code-block:: yaml

    receivers:
      - {type: slack, name: oncall, secret: SLACK_URL}
    logs:
      - match: "(?i)panic|data race"     # RE2; refused if invalid or too costly
        notify: [oncall]                 # receivers of the flow, by name
        at_most: 1/5m                    # notifications of this rule, at most (default 1/5m)
      - forward: {webhook: "https://logs.example/ingest", secret: HOOK_KEY, batch: 1000, every: 2s}
      - otlp: {endpoint: "http://collector:4318/v1/logs"}

A ``match`` rule tells its receivers of a matching line, at most ``at_most``; a
``forward`` rule posts every line in JSON batches to a webhook (signed as the webhook
receiver signs, when it names a ``secret``), keeping at most ``keep`` unsent lines; an
``otlp`` rule exports every line as an OpenTelemetry log record to a collector.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from yaml.nodes import Node

from containerops.model.flow import Position
from containerops.model.hooks import Receiver
from containerops.model.names import ENV_NAME, ENV_RULE
from containerops.model.quantities import parse_duration
from containerops.model.reading import NULL_TAG, Reader

if TYPE_CHECKING:
    import re2

#: Memory RE2 may use for a rule's pattern: one that needs more is refused.
MAX_PATTERN_MEMORY = 8 << 20
_AT_MOST = re.compile(r"\s*(\d+)\s*/\s*(\S+)\s*")
MATCH_KEYS = ("match", "notify", "at_most")
FORWARD_KEYS = ("webhook", "secret", "batch", "every", "keep")
OTLP_KEYS = ("endpoint",)


@dataclass(frozen=True, slots=True)
class MatchRule:
    pattern: str
    notify: tuple[str, ...]
    at_most: int = 1
    per: float = 300.0  # seconds
    position: Position | None = None


@dataclass(frozen=True, slots=True)
class ForwardRule:
    url: str
    secret: str | None = None
    batch: int = 1000
    every: float = 2.0
    keep: int = 100_000
    position: Position | None = None


@dataclass(frozen=True, slots=True)
class OtlpRule:
    """Every line exported as an OpenTelemetry log record (OTLP over HTTP) to ``endpoint``
    (a collector's logs address, e.g. http://collector:4318/v1/logs)."""

    endpoint: str
    position: Position | None = None


LogRule = MatchRule | ForwardRule | OtlpRule


def compile_rule_pattern(pattern: str) -> re2._Regexp[str]:
    """A rule's pattern as RE2 takes it; ValueError saying why when refused."""
    import re2  # here, not at import: only flows with log rules need it (coops validate starts faster)

    options = re2.Options()
    options.never_nl = True
    options.log_errors = False
    options.max_mem = MAX_PATTERN_MEMORY
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        detail = error.args[0] if error.args else error
        raise ValueError(
            detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        ) from None


def read_log_rules(r: Reader, node: Node, where: str) -> list[LogRule]:
    rules: list[LogRule] = []
    for index, item in enumerate(r.sequence(node, where, "logs") or []):
        rule = _rule(r, item, f"{where}[{index}]")
        if rule is not None:
            rules.append(rule)
    return rules


def _rule(r: Reader, node: Node, where: str) -> LogRule | None:
    fields = r.mapping(node, where, "a log rule", (*MATCH_KEYS, "forward", "otlp"))
    if fields is None:
        return None
    position = Position(*r.doc.position(node))
    for kind in ("forward", "otlp"):
        if kind in fields:
            if len(fields) > 1:
                r.error(node, where, f"a {kind} rule has only '{kind}' (its settings go inside it)")
                return None
            if kind == "otlp":
                return _otlp(r, fields[kind][1], f"{where}.otlp", position)
            return _forward(r, fields[kind][1], f"{where}.forward", position)
    values = {key: value for key, (_, value) in fields.items() if value.tag != NULL_TAG}
    if "match" not in values:
        r.error(node, f"{where}.match", "a log rule needs 'match' (a pattern) or 'forward'")
        return None
    pattern = r.text(values["match"], f"{where}.match", "match")
    ok = pattern is not None
    if pattern is not None:
        try:
            compile_rule_pattern(pattern)
        except ValueError as error:
            r.error(values["match"], f"{where}.match", f"'match' is not a pattern RE2 takes: {error}")
            ok = False
    notify: list[str] = []
    if "notify" not in values:
        r.error(node, f"{where}.notify", "a match rule needs 'notify': the receivers it tells")
        ok = False
    else:
        notify_node = values["notify"]
        items = (
            [notify_node]
            if notify_node.tag == "tag:yaml.org,2002:str"
            else r.sequence(notify_node, f"{where}.notify", "notify")
        )
        for index, item in enumerate(items or []):
            name = r.text(item, f"{where}.notify[{index}]", "a receiver name")
            if name:
                notify.append(name)
            else:
                ok = False
        ok = ok and items is not None
    at_most, per = 1, 300.0
    if "at_most" in values:
        text = r.text(values["at_most"], f"{where}.at_most", "at_most")
        found = _AT_MOST.fullmatch(text or "")
        seconds = None
        if found is not None:
            try:
                seconds = parse_duration(found.group(2))
            except ValueError:
                seconds = None
        if found is None or not seconds or int(found.group(1)) < 1:
            r.error(values["at_most"], f"{where}.at_most", "'at_most' is COUNT/DURATION, e.g. 1/5m or 10/1h")
            ok = False
        else:
            at_most, per = int(found.group(1)), seconds
    if not ok or pattern is None:
        return None
    return MatchRule(pattern, tuple(notify), at_most, per, position)


def _forward(r: Reader, node: Node, where: str, position: Position) -> ForwardRule | None:
    fields = r.mapping(node, where, "a forward rule", FORWARD_KEYS)
    if fields is None:
        return None
    values = {key: value for key, (_, value) in fields.items() if value.tag != NULL_TAG}
    if "webhook" not in values:
        r.error(node, f"{where}.webhook", "a forward rule needs 'webhook': the address lines are posted to")
        return None
    url = r.text(values["webhook"], f"{where}.webhook", "webhook")
    ok = url is not None
    if url is not None and not url.startswith(("http://", "https://")):
        r.error(
            values["webhook"],
            f"{where}.webhook",
            f"'webhook' must be an http:// or https:// address, got '{url}'",
        )
        ok = False
    secret = None
    if "secret" in values:
        secret = r.name(values["secret"], f"{where}.secret", "secret name in 'secret'", ENV_NAME, ENV_RULE)
        ok = ok and secret is not None
    batch = r.integer(values["batch"], f"{where}.batch", "batch", 1, 10_000) if "batch" in values else 1000
    keep = r.integer(values["keep"], f"{where}.keep", "keep", 1, 10_000_000) if "keep" in values else 100_000
    every: float | None = 2.0
    if "every" in values:
        _, every = r.quantity(values["every"], f"{where}.every", "every", parse_duration)
        if every is None:
            r.error(values["every"], f"{where}.every", "'every' must be a duration above zero, e.g. 2s")
    if not ok or url is None or batch is None or keep is None or every is None:
        return None
    return ForwardRule(url, secret, batch, every, keep, position)


def _otlp(r: Reader, node: Node, where: str, position: Position) -> OtlpRule | None:
    fields = r.mapping(node, where, "an otlp rule", OTLP_KEYS)
    if fields is None:
        return None
    if "endpoint" not in fields or fields["endpoint"][1].tag == NULL_TAG:
        r.error(node, f"{where}.endpoint", "an otlp rule needs 'endpoint': the collector's logs address")
        return None
    value = fields["endpoint"][1]
    endpoint = r.text(value, f"{where}.endpoint", "endpoint")
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        r.error(
            value, f"{where}.endpoint", f"'endpoint' must be an http:// or https:// address, got '{endpoint}'"
        )
        return None
    return OtlpRule(endpoint, position) if endpoint else None


def check_notify_names(
    r: Reader, node: Node, rules: list[LogRule], receivers: list[Receiver], where: str = "logs"
) -> None:
    """Every name a ``notify`` gives is a receiver's of the flow (said at the rule's line);
    ``where`` the rules are (``logs``, or a job's ``stages[0].actions[0].jobs[0].logs``)."""
    names = [receiver.name for receiver in receivers if receiver.name]
    for index, rule in enumerate(rules):
        if not isinstance(rule, MatchRule):
            continue
        for name in rule.notify:
            if name not in names:
                known = (
                    f"the flow's named receivers: {', '.join(names)}" if names else "no receiver has a name"
                )
                r.error(
                    _rule_node(node, index) or node,
                    f"{where}[{index}].notify",
                    f"'notify' names '{name}', not a receiver ({known})",
                )


def _rule_node(node: Node, index: int) -> Node | None:
    items = getattr(node, "value", None)
    return (
        items[index]
        if isinstance(items, list) and index < len(items) and isinstance(items[index], Node)
        else None
    )
