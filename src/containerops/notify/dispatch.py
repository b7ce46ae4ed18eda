"""From run events to messages: which receivers, with what, how many tries, and the record.

``Notifier.on_event`` is subscribed to the run manager. When a run starts, each
``github`` receiver gets a ``pending`` commit status; when it ends, every
receiver whose ``on`` covers the outcome gets the summary (a ``github``
receiver always reports the final state, or its commit would stay pending).
Each message is tried up to ``attempts`` times with exponential backoff
(tenacity); client errors other than 408/429 are not retried. Every message is
a row in ``notifications`` (receiver, attempts, status, error). Nothing here
can change a run: failures are recorded and logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from containerops.engine import RunState
from containerops.engine.events import RunEvent
from containerops.model.flow import Flow
from containerops.model.hooks import Receiver
from containerops.model.loader import parse_flow
from containerops.notify import email, github, slack, webhook
from containerops.notify.email import SmtpSettings
from containerops.notify.logroutes import LogRoutes, scoped_rules
from containerops.notify.summary import RunSummary
from containerops.store import Store
from containerops.store.notifications import finish_notification, start_notification
from containerops.store.runs import run_origin

log = logging.getLogger("containerops.notify")

SecretLookup = Callable[[str, str], str | None]


class Unsendable(Exception):
    """A message that cannot be sent at all (a missing secret or commit): recorded, not retried."""


class NothingToReport(Unsendable):
    """A commit status for a run no commit started (cron, API): recorded as skipped."""


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, Unsendable):
        return False
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        return code >= 500 or code in (408, 429)
    return True


class Notifier:
    """Sends a server's notifications; one per server process."""

    def __init__(
        self,
        store: Store,
        *,
        secret: SecretLookup,
        public_url: str | None = None,
        smtp: SmtpSettings | None = None,
        attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        timeout: float = 10.0,
    ) -> None:
        self.store = store
        self.secret = secret
        self.public_url = (public_url or "").rstrip("/")
        self.smtp = smtp or SmtpSettings.from_env()
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        #: Runs whose start is being reported: their end waits, so that GitHub never
        #: gets ``pending`` after the final state of a quick run.
        self._starting: dict[int, asyncio.Event] = {}

    async def close(self) -> None:
        await self.client.aclose()

    def log_routes(self, state: RunState) -> LogRoutes | None:
        """The ``engine.LogSink`` of a run whose flow has ``logs:`` rules (None for others)."""
        return LogRoutes(self, state, self.client) if scoped_rules(state.flow) else None

    async def on_event(self, event: RunEvent) -> None:
        if event.kind == "started":
            # Registered before the first await: the manager creates the listener tasks in
            # event order, so the "finished" task of the same run always finds this.
            reported = self._starting[event.run_id] = asyncio.Event()
            try:
                await self._notify(event)
            finally:
                reported.set()
                if self._starting.get(event.run_id) is reported:
                    del self._starting[event.run_id]
        elif event.kind == "finished":
            started = self._starting.get(event.run_id)
            if started is not None:
                await started.wait()
            await self._notify(event)

    async def _notify(self, event: RunEvent) -> None:
        flow = self._flow(event)
        if flow is None or not flow.receivers:
            return
        summary = self.summary(event.run_id, flow, event.state)
        chosen = [
            (index, receiver)
            for index, receiver in enumerate(flow.receivers)
            if (receiver.type == "github") or (event.kind == "finished" and receiver.wants(summary.status))
        ]
        await asyncio.gather(*(self.deliver(index, r, event.kind, summary) for index, r in chosen))

    # -- one message ------------------------------------------------------------
    async def deliver(self, index: int, receiver: Receiver, event: str, summary: RunSummary) -> str:
        """Send one message with retries and record it; its final status (sent | failed | skipped)."""
        namespace = summary.flow.split("/", 1)[0]
        secret = self.secret(namespace, receiver.secret) if receiver.secret else None
        target = self._target(receiver, summary)
        row = start_notification(self.store, summary.run_id, index, receiver.type, event, target)
        attempts = 0
        error: str | None = None
        status = "sent"
        try:
            send = self._sender(receiver, event, summary, namespace, secret)
            retrying = AsyncRetrying(
                stop=stop_after_attempt(self.attempts),
                wait=wait_exponential(multiplier=self.backoff, max=self.max_backoff),
                retry=retry_if_exception(_retryable),
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    await send()
        except NothingToReport as exc:
            status, error = "skipped", str(exc)
        except Exception as exc:
            status, error = "failed", _describe(exc, secret)
            log.warning(
                "%s receiver of run %s: %s (after %s attempts)",
                receiver.type,
                summary.run_id,
                error,
                attempts,
            )
        finish_notification(self.store, row, status, attempts, error)
        return status

    def _sender(
        self, receiver: Receiver, event: str, summary: RunSummary, namespace: str, secret: str | None
    ) -> Callable[[], Awaitable[None]]:
        if receiver.secret and secret is None and receiver.type != "email":
            raise Unsendable(f"secret {receiver.secret} is not set in namespace {namespace}")
        if receiver.type == "slack":
            hook_url: str = (secret if receiver.secret else receiver.url) or ""
            return lambda: slack.send(self.client, hook_url, summary)
        if receiver.type == "webhook":
            assert receiver.url is not None
            url = receiver.url
            return lambda: webhook.send(self.client, url, secret, summary, event)
        if receiver.type == "email":
            return lambda: email.send(receiver, self.smtp, summary)
        repository = summary.trigger.get("repository") or receiver.repository
        sha = summary.trigger.get("sha")
        if not repository or not sha:
            raise NothingToReport(
                "the run has no commit to report on: it was not started by a push or pull request"
            )
        assert secret is not None and receiver.url is not None
        api = receiver.url
        return lambda: github.send(
            self.client,
            api=api,
            token=secret,
            repository=str(repository),
            sha=str(sha),
            context=receiver.context,
            summary=summary,
        )

    def _target(self, receiver: Receiver, summary: RunSummary) -> str:
        """Where the message goes, without secrets (no URL path of a Slack hook, no token)."""
        if receiver.type == "email":
            return email.target(receiver, self.smtp)[:255]
        if receiver.secret and receiver.type == "slack":
            return f"slack (URL in secret {receiver.secret})"
        host = urlsplit(receiver.url or "").netloc
        if receiver.type == "github":
            repository = summary.trigger.get("repository") or receiver.repository
            where = f"{repository}@{str(summary.trigger.get('sha'))[:12]}"
            return f"github {where} via {host}"[:255]
        if receiver.type == "webhook":
            return f"webhook {urlsplit(receiver.url or '')._replace(query='', fragment='').geturl()}"[:255]
        return f"slack {host}"

    # -- the run ----------------------------------------------------------------
    def _flow(self, event: RunEvent) -> Flow | None:
        if event.state is not None:
            return event.state.flow
        try:
            return parse_flow(self.store.flow_source(event.run_id)).flow
        except Exception as exc:
            log.warning("run %s: cannot read its flow for notifications: %s", event.run_id, exc)
            return None

    def summary(self, run_id: int, flow: Flow, state: RunState | None) -> RunSummary:
        trigger, _ = run_origin(self.store, run_id)
        if state is not None:
            status, reason, number = str(state.status), state.reason, state.number
            started, finished = state.started_at, state.finished_at
            failed = tuple(js.path for js in state.jobs.values() if js.status == "failure")
        else:
            run = self.store.get_run(run_id)
            status, reason, number = run.status, run.reason, run.number
            started, finished = run.started_at, run.finished_at
            failed = tuple(job.path for job in run.jobs if job.status == "failure")
        return RunSummary(
            run_id=run_id,
            flow=flow.uri,
            number=number,
            status=status,
            reason=reason,
            duration=_seconds(started, finished),
            failed_jobs=failed,
            link=f"{self.public_url}/api/v1/runs/{run_id}",
            trigger=dict(trigger or {}),
        )


def _seconds(started: datetime | None, finished: datetime | None) -> float | None:
    if started is None or finished is None:
        return None
    aware = [value if value.tzinfo else value.replace(tzinfo=UTC) for value in (started, finished)]
    return (aware[1] - aware[0]).total_seconds()


def _describe(exc: BaseException, secret: str | None) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        text = f"HTTP {exc.response.status_code} from {exc.request.url.host}"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text.replace(secret, "***") if secret else text
