"""A run's log rules at work on a server (the flow's ``logs:``, see ``model.logrules``).

The engine hands every batch of lines to :class:`LogRoutes` (an ``engine.LogSink``) on its
event loop; nothing here waits there: a ``match`` rule searches the batch (RE2, one scan of
the joined text; lines are looked at one by one only in a batch that matched) and starts a
notification task, and a ``forward`` rule appends the lines to its queue, which a task of
its own posts in batches. So neither a slow receiver nor a sink that is down slows the job
or the store.

- ``match``: each matching line (its job, attempt and text in the message's ``reason``)
  goes to the rule's receivers through ``Notifier.deliver`` (retried, recorded in
  ``notifications`` as event ``log``), at most ``at_most`` times per window; matches past
  it are counted and said in the next message.
- ``forward``: ``{"event": "run.logs", "run", "flow", "number", "dropped", "lines": [{job,
  attempt, stream, at, line}]}`` posted every ``every`` seconds or once ``batch`` lines
  wait, signed with the flow namespace's secret as the webhook receiver signs; a failed
  post keeps its lines and is tried again with backoff; past ``keep`` waiting lines, new
  ones are counted as dropped. When the run ends the queue is sent (for a few seconds at
  most) and what is left is dropped.
- ``otlp``: every line an OpenTelemetry log record (body: the line; attributes: the run's
  id, number and flow, the job, the attempt and the stream; stderr lines at severity
  ERROR), exported over OTLP/HTTP by the OpenTelemetry SDK's batch processor, in a thread
  of its own with a bounded queue (past it records are dropped, never waited for).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import re2
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from containerops.contract.signatures import sign
from containerops.engine.state import RunState
from containerops.model.flow import Flow
from containerops.model.hooks import Receiver
from containerops.model.logrules import ForwardRule, LogRule, MatchRule, OtlpRule, compile_rule_pattern
from containerops.notify.summary import RunSummary
from containerops.notify.webhook import SIGNATURE_HEADER
from containerops.timestamps import rfc3339

if TYPE_CHECKING:
    from containerops.notify.dispatch import Notifier

log = logging.getLogger("containerops.notify.logs")

#: Seconds a run's end waits for its forwarders to send what they hold.
CLOSE_WITHIN = 5.0
MAX_BACKOFF = 30.0
#: Characters of a matching line put in a notification.
LINE_IN_MESSAGE = 500


class _Match:
    """One ``match`` rule: its pattern, its receivers (with their index in the flow) and
    the times of its recent notifications."""

    def __init__(self, rule: MatchRule, receivers: list[tuple[int, Receiver]]) -> None:
        self.rule = rule
        self.pattern: re2._Regexp[str] = compile_rule_pattern(rule.pattern)
        #: For the scan of a batch's lines joined: ``^`` and ``$`` at each line's ends there too.
        self.in_batch: re2._Regexp[str] = compile_rule_pattern("(?m)" + rule.pattern)
        self.receivers = receivers
        self.sent: deque[float] = deque()
        self.suppressed = 0

    def allowed(self, now: float) -> bool:
        while self.sent and now - self.sent[0] >= self.rule.per:
            self.sent.popleft()
        if len(self.sent) >= self.rule.at_most:
            self.suppressed += 1
            return False
        self.sent.append(now)
        return True


class _Forward:
    """One ``forward`` rule: its queue of lines and the task posting them."""

    def __init__(self, routes: LogRoutes, rule: ForwardRule, secret: str | None) -> None:
        self.routes, self.rule, self.secret = routes, rule, secret
        self.queue: deque[tuple[str, int, str, datetime, str]] = deque()
        self.dropped = 0
        self.sent = 0
        self.full = asyncio.Event()
        self.closing = False
        self.task = asyncio.create_task(self._run(), name=f"log-forward-{routes.run_id}")

    def add(
        self, job: str, attempt: int, streams: Sequence[str], texts: Sequence[str], times: Sequence[datetime]
    ) -> None:
        room = self.rule.keep - len(self.queue)
        taken = min(room, len(texts))
        if taken < len(texts):
            self.dropped += len(texts) - taken
        self.queue.extend(
            zip([job] * taken, [attempt] * taken, streams[:taken], times[:taken], texts[:taken], strict=True)
        )
        if len(self.queue) >= self.rule.batch:
            self.full.set()

    async def _run(self) -> None:
        backoff = self.rule.every
        while True:
            if not self.closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.full.wait(), self.rule.every)
            self.full.clear()
            while self.queue:
                if await self._post():
                    backoff = self.rule.every
                    continue
                await asyncio.sleep(backoff)  # closing too: close() gives up after CLOSE_WITHIN
                backoff = min(backoff * 2, MAX_BACKOFF)
            if self.closing:
                return

    async def _post(self) -> bool:
        """Post the oldest batch; True when the sink took it (then the lines leave the queue)."""
        batch = [self.queue[index] for index in range(min(self.rule.batch, len(self.queue)))]
        routes = self.routes
        document = {
            "event": "run.logs",
            "run": routes.run_id,
            "flow": routes.flow,
            "number": routes.number,
            "dropped": self.dropped,
            "lines": [
                {"job": job, "attempt": attempt, "stream": stream, "at": rfc3339(at), "line": line}
                for job, attempt, stream, at, line in batch
            ],
        }
        content = json.dumps(document).encode()
        headers = {"Content-Type": "application/json", "X-ContainerOps-Event": "run.logs"}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, content)
        try:
            response = await routes.client.post(self.rule.url, content=content, headers=headers)
            response.raise_for_status()
        except httpx.HTTPError as error:
            log.warning("forwarding run %s's lines to %s: %s", routes.run_id, self.rule.url, error)
            return False
        for _ in batch:
            self.queue.popleft()
        self.sent += len(batch)
        return True

    async def close(self) -> None:
        self.closing = True
        self.full.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), CLOSE_WITHIN)
        except TimeoutError:
            self.task.cancel()
        if self.queue:
            self.dropped += len(self.queue)
            log.warning(
                "run %s: %d lines not forwarded to %s", self.routes.run_id, len(self.queue), self.rule.url
            )
            self.queue.clear()


#: Records an OTLP export keeps waiting at most (the SDK drops what comes past it).
OTLP_QUEUE = 100_000


class _Otlp:
    """One ``otlp`` rule: an SDK logger provider of the run exporting to the collector."""

    def __init__(self, routes: LogRoutes, rule: OtlpRule) -> None:
        self.provider = LoggerProvider(resource=Resource.create({"service.name": "containerops"}))
        exporter = OTLPLogExporter(endpoint=rule.endpoint, timeout=10)
        processor = BatchLogRecordProcessor(
            exporter, schedule_delay_millis=500, max_queue_size=OTLP_QUEUE, max_export_batch_size=1000
        )
        self.provider.add_log_record_processor(processor)
        self.logger = self.provider.get_logger("containerops.logs")
        self.run: dict[str, str | int] = {
            "coops.run.id": routes.run_id,
            "coops.run.number": routes.number,
            "coops.flow": routes.flow,
        }

    def add(
        self, job: str, attempt: int, streams: Sequence[str], texts: Sequence[str], times: Sequence[datetime]
    ) -> None:
        emit, run = self.logger.emit, self.run
        for stream, text, at in zip(streams, texts, times, strict=True):
            error = stream == "stderr"
            emit(
                timestamp=round(at.timestamp() * 1e6) * 1000,
                body=text,
                severity_number=SeverityNumber.ERROR if error else SeverityNumber.INFO,
                severity_text="ERROR" if error else "INFO",
                attributes={**run, "coops.job": job, "coops.attempt": attempt, "log.iostream": stream},
            )

    async def close(self) -> None:
        """Export what waits (the SDK's shutdown flushes), in a thread: the loop never waits."""
        await asyncio.to_thread(self.provider.shutdown)


def scoped_rules(flow: Flow) -> list[tuple[str | None, list[LogRule]]]:
    """The flow's log rules (for every job's lines: scope None) and each job's own (scope:
    the job's path), those that have any."""
    scoped: list[tuple[str | None, list[LogRule]]] = [(None, flow.logs)] if flow.logs else []
    paths = {job.path for job in flow.jobs() if job.logs}
    # (a matrix instance whose job is there too is seen through its job's scope: once)
    return scoped + [
        (path, job.logs)
        for job in flow.jobs()
        if (path := job.path) in paths and path.partition("[")[0] not in paths - {path}
    ]


def _of(scope: str | None, job_path: str) -> bool:
    """Whether a rule of ``scope`` sees a line of ``job_path`` (a matrix instance's path is
    its job's with ``[values]`` added)."""
    return scope is None or job_path == scope or (job_path.startswith(scope) and job_path[len(scope)] == "[")


class LogRoutes:
    """The ``logs:`` rules of one run, as an ``engine.LogSink``."""

    def __init__(self, notifier: Notifier, state: RunState, client: httpx.AsyncClient) -> None:
        self.notifier, self.client = notifier, client
        self.run_id, self.flow, self.number = state.id, state.flow.uri, state.number
        receivers = state.flow.receivers
        named = {
            receiver.name: (index, receiver) for index, receiver in enumerate(receivers) if receiver.name
        }
        namespace = state.flow.uri.split("/", 1)[0]
        #: (whose lines: None for every job's, else a job's path; the rule at work)
        self.matches: list[tuple[str | None, _Match]] = []
        self.forwards: list[tuple[str | None, _Forward]] = []
        self.exports: list[tuple[str | None, _Otlp]] = []
        for scope, rules in scoped_rules(state.flow):
            for rule in rules:
                if isinstance(rule, MatchRule):
                    told = [named[name] for name in rule.notify if name in named]
                    self.matches.append((scope, _Match(rule, told)))
                elif isinstance(rule, ForwardRule):
                    secret = notifier.secret(namespace, rule.secret) if rule.secret else None
                    self.forwards.append((scope, _Forward(self, rule, secret)))
                else:
                    self.exports.append((scope, _Otlp(self, rule)))
        self.tasks: set[asyncio.Task[Any]] = set()

    def lines(
        self,
        job_path: str,
        attempt: int,
        streams: Sequence[str],
        texts: Sequence[str],
        times: Sequence[datetime],
    ) -> None:
        for scope, forward in self.forwards:
            if _of(scope, job_path):
                forward.add(job_path, attempt, streams, texts, times)
        for scope, export in self.exports:
            if _of(scope, job_path):
                export.add(job_path, attempt, streams, texts, times)
        matches = [match for scope, match in self.matches if _of(scope, job_path)]
        if not matches:
            return
        joined = "\n".join(texts)
        for match in matches:
            if match.in_batch.search(joined) is None:
                continue
            for text in texts:
                if match.pattern.search(text) is not None and match.allowed(time.monotonic()):
                    self._tell(match, job_path, attempt, text)

    def _tell(self, match: _Match, job_path: str, attempt: int, text: str) -> None:
        more = f" ({match.suppressed} more matches not told)" if match.suppressed else ""
        match.suppressed = 0
        shown = text if len(text) <= LINE_IN_MESSAGE else text[:LINE_IN_MESSAGE] + "..."
        summary = RunSummary(
            run_id=self.run_id,
            flow=self.flow,
            number=self.number,
            status="running",
            reason=f"log line of {job_path}#{attempt} matched {match.rule.pattern!r}{more}: {shown}",
            link=f"{self.notifier.public_url}/api/v1/runs/{self.run_id}",
        )
        for index, receiver in match.receivers:
            task = asyncio.create_task(self.notifier.deliver(index, receiver, "log", summary))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        await asyncio.gather(*(forward.close() for _, forward in self.forwards))
        await asyncio.gather(*(export.close() for _, export in self.exports))
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=CLOSE_WITHIN)
