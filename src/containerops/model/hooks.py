"""What starts a flow (``triggers:``) and who hears how it ended (``receivers:``).

Both are read here, typed, with every mistake reported at the key that holds
it, so that a flow with a misspelt event or an impossible cron schedule is
refused when it is saved rather than silently never running. The server
(``containerops.server.triggers``) and the notifiers (``containerops.notify``)
only ever see these objects.

Secrets are never written in a flow: a trigger or receiver names a secret of
the flow's namespace (``secret: GITHUB_HOOK``) and the server reads it when it
needs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.nodes import Node

from containerops.model.flow import Position
from containerops.model.names import ENV_NAME, ENV_RULE
from containerops.model.reading import NULL_TAG, Reader

#: Secret names: what ``secrets.NAME`` accepts (environment-variable-like).

GITHUB_EVENTS = ("push", "pull_request")
GITLAB_EVENTS = ("push", "merge_request")
RUN_OUTCOMES = ("success", "failure", "always")

TRIGGER_TYPES = ("github", "gitlab", "webhook", "cron")
RECEIVER_TYPES = ("slack", "webhook", "email", "mail", "github")

Outcome = Literal["success", "failure", "always"]


@dataclass(frozen=True, slots=True)
class GitTrigger:
    """A push or pull/merge request on a GitHub or GitLab repository."""

    type: Literal["github", "gitlab"]
    secret: str  # GitHub: the HMAC key; GitLab: the X-Gitlab-Token value
    events: tuple[str, ...]
    branches: tuple[str, ...] = ()  # fnmatch patterns; empty = every branch
    position: Position | None = None


@dataclass(frozen=True, slots=True)
class WebhookTrigger:
    """Any other sender, authenticated by a shared token."""

    token: str  # the secret's name
    type: Literal["webhook"] = "webhook"
    position: Position | None = None


@dataclass(frozen=True, slots=True)
class CronTrigger:
    schedule: str
    timezone: str = "UTC"
    type: Literal["cron"] = "cron"
    position: Position | None = None


Trigger = GitTrigger | WebhookTrigger | CronTrigger


@dataclass(frozen=True, slots=True)
class Receiver:
    """Where a run's outcome goes, and for which outcomes (``on``).

    ``type`` is ``slack``, ``webhook``, ``email`` (the original ``mail`` is read
    as ``email``) or ``github``. ``url`` is the Slack incoming webhook or the
    webhook receiver's address, or GitHub's API base URL; ``secret`` names the
    secret holding the Slack URL, the webhook's HMAC key or the GitHub token.
    """

    type: Literal["slack", "webhook", "email", "github"]
    on: tuple[Outcome, ...] = ("always",)
    url: str | None = None
    secret: str | None = None
    to: tuple[str, ...] = ()  # email addresses
    sender: str | None = None  # email From; the server's default when None
    host: str | None = None  # SMTP host; the server's default when None
    port: int | None = None
    context: str | None = None  # GitHub status context
    repository: str | None = None  # GitHub owner/name; from the triggering event when None
    position: Position | None = None
    name: str | None = None  # what a log rule's ``notify`` calls it

    def wants(self, status: str) -> bool:
        """Whether a run that ended ``status`` is reported here."""
        return "always" in self.on or status in self.on


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
GITHUB_API = "https://api.github.com"


def _position(r: Reader, node: Node) -> Position:
    return Position(*r.doc.position(node))


class _Item:
    """One trigger or receiver mapping: its fields, read with positions."""

    def __init__(self, r: Reader, node: Node, where: str, what: str, known: tuple[str, ...]) -> None:
        self.r = r
        self.node = node
        self.where = where
        self.what = what
        fields = r.mapping(node, where, what, known)
        self.ok = fields is not None
        self.values = {k: v for k, (_, v) in (fields or {}).items() if v.tag != NULL_TAG}

    def text(self, key: str, *, required: bool = False) -> str | None:
        node = self.values.get(key)
        if node is None:
            if required:
                self.r.error(self.node, f"{self.where}.{key}", f"{self.what} needs '{key}'")
                self.ok = False
            return None
        text = self.r.text(node, f"{self.where}.{key}", key)
        if text is None:
            self.ok = False
        return text

    def secret(self, key: str, *, required: bool = False) -> str | None:
        node = self.values.get(key)
        if node is None:
            return self.text(key, required=required)
        name = self.r.name(node, f"{self.where}.{key}", f"secret name in '{key}'", ENV_NAME, ENV_RULE)
        if name is None:
            self.ok = False
        return name

    def words(self, key: str, choices: tuple[str, ...] | None = None) -> tuple[str, ...] | None:
        """A list of text (one text is read as a list of one); None when absent."""
        node = self.values.get(key)
        if node is None:
            return None
        where = f"{self.where}.{key}"
        items = [node] if node.tag == "tag:yaml.org,2002:str" else self.r.sequence(node, where, key)
        if items is None:
            self.ok = False
            return None
        found: list[str] = []
        for index, item in enumerate(items):
            item_where = f"{where}[{index}]"
            text = (
                self.r.choice(item, item_where, f"'{key}'", choices)
                if choices
                else self.r.text(item, item_where, f"'{key}'")
            )
            if not text:
                if text == "":
                    self.r.error(item, item_where, f"'{key}' has an empty item")
                self.ok = False
                continue
            found.append(text)
        return tuple(found)


def read_triggers(r: Reader, node: Node, where: str) -> list[Trigger]:
    triggers: list[Trigger] = []
    for index, item in enumerate(r.sequence(node, where, "triggers") or []):
        trigger = _trigger(r, item, f"{where}[{index}]")
        if trigger is not None:
            triggers.append(trigger)
    return triggers


def _kind(r: Reader, node: Node, where: str, what: str, choices: tuple[str, ...]) -> str | None:
    fields = r.mapping(node, where, what, (), any_key=True)
    if fields is None:
        return None
    kind = fields.get("type")
    if kind is None or kind[1].tag == NULL_TAG:
        r.error(node, f"{where}.type", f"{what} needs a 'type' ({', '.join(choices)})")
        return None
    return r.choice(kind[1], f"{where}.type", f"the type of {what}", choices)


TRIGGER_KEYS: dict[str, tuple[str, ...]] = {
    "github": ("type", "events", "branches", "secret"),
    "gitlab": ("type", "events", "branches", "secret"),
    "webhook": ("type", "token"),
    "cron": ("type", "schedule", "timezone"),
}


def _trigger(r: Reader, node: Node, where: str) -> Trigger | None:
    kind = _kind(r, node, where, "a trigger", TRIGGER_TYPES)
    if kind is None:
        return None
    position = _position(r, node)
    if kind in ("github", "gitlab"):
        events = GITHUB_EVENTS if kind == "github" else GITLAB_EVENTS
        item = _Item(r, node, where, f"a {kind} trigger", TRIGGER_KEYS[kind])
        chosen = item.words("events", events)
        branches = item.words("branches")
        secret = item.secret("secret", required=True)
        if chosen == ():
            r.error(
                item.values["events"], f"{where}.events", "'events' is empty: nothing would start the flow"
            )
            item.ok = False
        if not item.ok or secret is None:
            return None
        return GitTrigger(kind, secret, chosen or events, branches or (), position)  # type: ignore[arg-type]
    if kind == "webhook":
        item = _Item(r, node, where, "a webhook trigger", TRIGGER_KEYS[kind])
        token = item.secret("token", required=True)
        return WebhookTrigger(token, position=position) if item.ok and token else None
    item = _Item(r, node, where, "a cron trigger", TRIGGER_KEYS["cron"])
    schedule = item.text("schedule", required=True)
    timezone = item.text("timezone") or "UTC"
    from croniter import croniter  # here, not at import: it brings dateutil (coops validate is faster)

    if schedule is not None and not croniter.is_valid(schedule):
        r.error(
            item.values["schedule"],
            f"{where}.schedule",
            f"'{schedule}' is not a cron schedule (five fields: minute hour day-of-month month "
            "day-of-week, e.g. '*/5 * * * *')",
        )
        item.ok = False
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        r.error(
            item.values.get("timezone", node),
            f"{where}.timezone",
            f"unknown timezone '{timezone}' (use an IANA name such as 'UTC' or 'Europe/Paris')",
        )
        item.ok = False
    if not item.ok or schedule is None:
        return None
    return CronTrigger(schedule, timezone, position=position)


RECEIVER_KEYS: dict[str, tuple[str, ...]] = {
    "slack": ("type", "name", "on", "url", "secret"),
    "webhook": ("type", "name", "on", "url", "secret"),
    "email": ("type", "name", "on", "to", "address", "from", "host", "port"),
    "github": ("type", "name", "on", "url", "secret", "context", "repository"),
}


def read_receivers(r: Reader, node: Node, where: str) -> list[Receiver]:
    receivers: list[Receiver] = []
    for index, item in enumerate(r.sequence(node, where, "receivers") or []):
        receiver = _receiver(r, item, f"{where}[{index}]")
        if receiver is not None:
            receivers.append(receiver)
    return receivers


def _receiver(r: Reader, node: Node, where: str) -> Receiver | None:
    kind = _kind(r, node, where, "a receiver", RECEIVER_TYPES)
    if kind is None:
        return None
    kind = "email" if kind == "mail" else kind  # the original pilotage spelling
    item = _Item(r, node, where, f"a {kind} receiver", RECEIVER_KEYS[kind])
    on = item.words("on", RUN_OUTCOMES) or ("always",)
    url = item.text("url", required=kind in ("slack", "webhook") and "secret" not in item.values)
    secret = item.secret("secret", required=kind == "github")
    if url is not None and not url.startswith(("http://", "https://")):
        r.error(
            item.values["url"], f"{where}.url", f"'url' must be an http:// or https:// address, got '{url}'"
        )
        item.ok = False
    name = item.text("name")
    receiver = Receiver(kind, on, url, secret, position=_position(r, node), name=name)  # type: ignore[arg-type]
    if kind == "email":
        return _email(item, receiver)
    if kind == "github":
        repository = item.text("repository")
        if repository is not None and not _REPOSITORY.fullmatch(repository):
            r.error(item.values["repository"], f"{where}.repository", "'repository' must be owner/name")
            item.ok = False
        receiver = replace(
            receiver, url=url or GITHUB_API, context=item.text("context"), repository=repository
        )
    return receiver if item.ok else None


def _email(item: _Item, receiver: Receiver) -> Receiver | None:
    r, where = item.r, item.where
    to = (item.words("to") or ()) + (item.words("address") or ())
    if not to and item.ok:
        r.error(item.node, f"{where}.to", "an email receiver needs 'to' (or 'address'): who gets the mail")
        return None
    for address in to:
        if not _EMAIL.fullmatch(address):
            r.error(item.node, f"{where}.to", f"'{address}' is not an email address")
            item.ok = False
    port: int | None = None
    if (node := item.values.get("port")) is not None:
        port = r.integer(node, f"{where}.port", "port", 1, 65535)
        item.ok = item.ok and port is not None
    result = replace(receiver, to=to, sender=item.text("from"), host=item.text("host"), port=port)
    return result if item.ok else None
