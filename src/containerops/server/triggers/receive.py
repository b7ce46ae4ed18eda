"""One webhook request, from the bytes received to a verdict and maybe a queued run.

The order matters: the sender is first authenticated against the flow's triggers;
until it has proved itself, every refusal (no such flow, another tag, no trigger
of that kind, no or a wrong signature or token, a secret not set) gives the same
answer, so that an anonymous caller learns nothing about what exists. A refusal
for a flow that exists is recorded (its reason, for the flow's owners, but never
the body an unauthenticated caller sent); one for a flow that does not is not
recorded at all. Then the request is recorded whole, the event is read and
matched (an event or branch the flow does not want: recorded as ``ignored`` with
the reason), the delivery claims its id (a redelivery starts nothing twice), and
only then is a run queued. The run is not awaited: the answer goes back as soon
as it is recorded.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_delay, wait_fixed

from containerops.contract.signatures import signature_ok, token_ok
from containerops.engine.masking import MASK
from containerops.model.flow import Flow
from containerops.model.hooks import GitTrigger, WebhookTrigger
from containerops.model.loader import parse_flow
from containerops.server.manager import RunManager
from containerops.server.triggers.git import GitEvent, PayloadError, github_event, gitlab_event, why_ignored
from containerops.server.triggers.secrets import namespace_secret
from containerops.store import Store, StoreError, deliveries, flows

HookKind = Literal["github", "gitlab", "webhook"]
#: Generic webhooks give the run their body in this variable, up to the contract's value limit.
PAYLOAD_ENV = "CO_WEBHOOK_PAYLOAD"
MAX_PAYLOAD_ENV = 64 * 1024
FLOW_CACHE_SIZE = 256
#: How long a redelivery waits for the first copy's run to be recorded (seconds).
FIRST_RUN_WAIT = 10.0
#: The headers that prove a sender, by kind of trigger.
PROOF_HEADER: dict[str, str] = {
    "github": "X-Hub-Signature-256",
    "gitlab": "X-Gitlab-Token",
    "webhook": "X-ContainerOps-Token",
}


INACTIVE = "the flow is inactive (active: false): no trigger starts it"


#: The request headers a delivery keeps (lowercase), and those whose value is a secret (kept
#: as ``***``); signatures are kept, they are digests, not secrets.
KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "x-github-event",
    "x-github-delivery",
    "x-github-hook-id",
    "x-hub-signature-256",
    "x-gitlab-event",
    "x-gitlab-event-uuid",
    "x-gitlab-token",
    "x-containerops-event",
    "x-containerops-delivery",
    "x-containerops-token",
)
SECRET_HEADERS = frozenset({"x-gitlab-token", "x-containerops-token"})


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """What a delivery keeps of a request's headers: enough to debug a sender, no token."""
    lowered = {key.lower(): value for key, value in headers.items()}
    return {
        name: (MASK if name in SECRET_HEADERS else lowered[name])[:1024]
        for name in KEPT_HEADERS
        if name in lowered
    }


def not_accepted(kind: HookKind, uri: str) -> Verdict:
    """The one answer to a request that has not proved itself, whatever the reason."""
    return Verdict(
        401,
        "refused",
        f"not accepted: no flow {uri} has a {kind} trigger that this request's "
        f"{PROOF_HEADER[kind]} header proves (check the URL, the flow's triggers and their secret)",
    )


@dataclass(slots=True)
class Verdict:
    """What the route answers: a status and a JSON body (``verdict`` is always in it)."""

    status: int
    verdict: str
    reason: str | None = None
    delivery: int | None = None
    run: dict[str, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        if self.delivery is None:  # refused before recording: say nothing that tells what exists
            return {"error": self.reason, "verdict": self.verdict}
        body: dict[str, Any] = {"verdict": self.verdict, "delivery": self.delivery}
        if self.reason:
            body["reason"] = self.reason
        if self.run is not None:
            body["run"] = self.run
        return {**body, **self.extra}


@dataclass(frozen=True, slots=True)
class Hook:
    """A request as the route hands it over."""

    kind: HookKind
    flow_uri: str
    headers: Mapping[str, str]
    body: bytes
    tag: str | None = None  # the pilotage route names the flow's tag too

    def header(self, name: str) -> str | None:
        """A header by name, whatever its case (ASGI servers hand them over lowercase)."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


class HookReceiver:
    """Turns webhook requests into runs for one server (keeps parsed flows by version)."""

    def __init__(self, store: Store, manager: RunManager) -> None:
        self.store = store
        self.manager = manager
        self._flows: OrderedDict[int, Flow] = OrderedDict()

    async def receive(self, hook: Hook) -> Verdict:
        delivery_id, event_name = _identity(hook)
        found = self._flow(hook.flow_uri)
        if found is None:  # nothing to record it against, and nobody who could read it
            return not_accepted(hook.kind, hook.flow_uri)
        flow_id, flow = found
        trigger, problem = self._authenticate(hook, flow)
        delivery = deliveries.record(
            self.store,
            flow_uri=hook.flow_uri,
            kind=hook.kind,
            headers=kept_headers(hook.headers),
            body=hook.body if trigger is not None else b"",  # an anonymous body is never kept
            delivery_id=delivery_id,
            event=event_name,
        )
        if trigger is None:  # answered as if the flow did not exist: no delivery id either
            refused = not_accepted(hook.kind, hook.flow_uri)
            deliveries.decide(self.store, delivery, "refused", refused.status, f"{refused.reason}: {problem}")
            deliveries.prune_unproved(self.store, hook.flow_uri)
            return refused
        try:
            if flow.active:
                verdict = await self._decide(hook, flow_id, trigger, delivery, delivery_id, event_name)
            else:  # the sender is authenticated: it may learn why nothing starts
                verdict = Verdict(200, "ignored", INACTIVE)
        except Exception as exc:
            deliveries.decide(self.store, delivery, "failed", 500, f"internal error: {type(exc).__name__}")
            raise
        verdict.delivery = delivery
        deliveries.decide(self.store, delivery, verdict.verdict, verdict.status, verdict.reason)
        return verdict

    async def _decide(
        self,
        hook: Hook,
        flow_id: int,
        trigger: GitTrigger | WebhookTrigger,
        delivery: int,
        delivery_id: str | None,
        event_name: str | None,
    ) -> Verdict:
        if hook.kind == "github" and event_name == "ping":
            return Verdict(200, "ignored", "ping: the hook reaches this server")
        try:
            payload = _payload(hook)
        except ValueError as exc:
            return Verdict(400, "refused", str(exc))
        env: dict[str, str]
        about: dict[str, Any] = {"type": hook.kind, "delivery": delivery, "delivery_id": delivery_id}
        if isinstance(trigger, GitTrigger):
            if not event_name:
                header = "X-GitHub-Event" if hook.kind == "github" else "X-Gitlab-Event"
                return Verdict(400, "refused", f"the request has no {header} header")
            try:
                reader = github_event if hook.kind == "github" else gitlab_event
                event = reader(event_name, payload)
            except PayloadError as exc:
                return Verdict(400, "refused", f"{event_name} payload: {exc}")
            if event is None:
                return Verdict(200, "ignored", f"event '{event_name}' does not start flows")
            reason = why_ignored(trigger, event)
            if reason is not None:
                return Verdict(200, "ignored", reason)
            env = event.env()
            about.update(_about(event))
        else:
            env = {"CO_EVENT": event_name or "webhook"}
            if hook.body and len(hook.body) <= MAX_PAYLOAD_ENV:
                env[PAYLOAD_ENV] = hook.body.decode("utf-8", errors="replace")
        if delivery_id:
            first = deliveries.claim(self.store, delivery, f"{hook.kind}:{hook.flow_uri}:{delivery_id}")
            if first is not None:
                return Verdict(
                    200,
                    "duplicate",
                    f"delivery {delivery_id} was received before",
                    extra=await _first(self.store, first),
                )
        try:
            submitted = await self.manager.submit(flow_id, env=env, trigger=about)
        except (StoreError, RuntimeError, ValueError) as exc:
            # ValueError: the flow cannot run as it is (a secret it names is not set); else
            # the server cannot take runs now. Either way a redelivery may try again.
            deliveries.release(self.store, delivery)
            status = 422 if isinstance(exc, ValueError) else 503
            return Verdict(status, "failed", f"the run could not be started: {exc}")
        deliveries.attach_run(self.store, delivery, submitted.id)
        return Verdict(202, "accepted", run={"id": submitted.id, "number": submitted.number})

    def _authenticate(self, hook: Hook, flow: Flow) -> tuple[GitTrigger | WebhookTrigger | None, str]:
        """The first trigger whose secret the request proves it knows; else why none (for the
        record only: the caller gets :func:`not_accepted`)."""
        if hook.tag is not None and hook.tag != flow.tag:
            return None, f"the flow has tag '{flow.tag}', not '{hook.tag}'"
        candidates = [
            tr
            for tr in flow.triggers
            if (isinstance(tr, GitTrigger) and tr.type == hook.kind)
            or (isinstance(tr, WebhookTrigger) and hook.kind == "webhook")
        ]
        if not candidates:
            return None, f"the flow has no {hook.kind} trigger"
        header = PROOF_HEADER[hook.kind]
        given = hook.header(header)
        if not given:
            return None, f"the request has no {header} header"
        missing: list[str] = []
        for trigger in candidates:
            name = trigger.secret if isinstance(trigger, GitTrigger) else trigger.token
            secret = namespace_secret(self.store, flow.namespace, name)
            if secret is None:
                missing.append(name)
                continue
            proved = (
                signature_ok(secret, hook.body, given) if hook.kind == "github" else token_ok(secret, given)
            )
            if proved:
                return trigger, ""
        if missing and len(missing) == len(candidates):
            unset = f"secret {missing[0]} is not set in namespace {flow.namespace}"
            return None, f"{unset}: nothing can be verified"
        return None, f"{header} does not match"

    def _flow(self, uri: str) -> tuple[int, Flow] | None:
        """The flow's id and newest version, parsed (cached per version)."""
        try:
            flow_id, version_id = flows.find_version(self.store, uri, None)
        except StoreError:  # no such flow, or it was deleted
            return None
        flow = self._flows.get(version_id)
        if flow is None:
            source, _ = flows.version_source(self.store, version_id)
            flow = parse_flow(source, f"flow version {version_id}").flow
            self._flows[version_id] = flow
            if len(self._flows) > FLOW_CACHE_SIZE:
                self._flows.popitem(last=False)
        return int(flow_id), flow


def _payload(hook: Hook) -> Any:
    """The event's JSON: the body itself, or the ``payload`` field of a form (GitHub's default
    content type, ``application/x-www-form-urlencoded``). The signature covers the raw body."""
    body = hook.body
    content_type = (hook.header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        try:
            fields = parse_qs(body.decode("ascii"), strict_parsing=True, max_num_fields=100)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"the form body cannot be read: {exc}") from None
        if len(fields.get("payload", ())) != 1:
            raise ValueError("the form body has no single 'payload' field holding the event's JSON")
        text = fields["payload"][0]
        what = "the form's payload field"
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"the body is not JSON: {exc}") from None
        what = "the body"
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply to read") from None
    except ValueError as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from None


def _identity(hook: Hook) -> tuple[str | None, str | None]:
    """The sender's delivery id and event name, from the headers of its kind."""
    if hook.kind == "github":
        return hook.header("X-GitHub-Delivery"), hook.header("X-GitHub-Event")
    if hook.kind == "gitlab":
        return hook.header("X-Gitlab-Event-UUID"), hook.header("X-Gitlab-Event")
    return hook.header("X-ContainerOps-Delivery"), hook.header("X-ContainerOps-Event")


def _about(event: GitEvent) -> dict[str, Any]:
    """What the run records about its trigger: enough to report back (commit statuses)."""
    return {
        "event": event.event,
        "repository": event.repository,
        "sha": event.sha,
        "ref": event.ref,
        "pr_number": event.pr_number or None,
    }


async def _first(store: Store, delivery: int) -> dict[str, Any]:
    """The delivery that claimed the id first, and its run. A copy sent at the same moment
    may get here before the first has recorded its run: wait (at most ``FIRST_RUN_WAIT``
    seconds) until it has, or has been decided without one."""

    async def read() -> dict[str, Any]:
        return deliveries.get_delivery(store, delivery)

    def undecided(found: dict[str, Any]) -> bool:
        return found["run_id"] is None and found["verdict"] == "received"

    def last_read(state: RetryCallState) -> dict[str, Any]:
        assert state.outcome is not None
        result: dict[str, Any] = state.outcome.result()
        return result

    retrying = AsyncRetrying(
        retry=retry_if_result(undecided),
        stop=stop_after_delay(FIRST_RUN_WAIT),
        wait=wait_fixed(0.05),
        retry_error_callback=last_read,
    )
    found: dict[str, Any] = await retrying(read)
    return {"first_delivery": delivery, "run_id": found["run_id"]}
