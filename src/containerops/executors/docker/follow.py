"""Following a container's log stream from worker threads, ending it when the Engine does not.

Lines cross from the reader thread to the engine's event loop in batches (one per read
of up to 256 KiB) through a bounded queue, so a job printing hundreds of thousands of
lines costs one loop wake-up per read, and a slow consumer stops the reader instead of
making memory grow. Decoding the stream is :mod:`.logs`.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import docker.errors
import requests.exceptions

from containerops.executors.base import ExecutorError, LogLine
from containerops.executors.docker.attach import Attachment, pump_attached
from containerops.executors.docker.handle import DockerJobHandle
from containerops.executors.docker.logs import READ_SIZE, ChunkedBody, parse_timestamp, pump
from containerops.executors.docker_client import ENGINE_ERRORS, WAIT_POLL_SECONDS, explain

#: Log batches (one per read from the Engine) that may wait for the consumer; past
#: that the reader thread stops reading, so a slow consumer never makes memory grow.
LOG_QUEUE_BATCHES = 64
#: Seconds a followed log stream may stay silent after its container exited before
#: the executor stops waiting for the Engine to end it (see ``_LogFollower``).
LOG_IDLE_AFTER_EXIT = 0.1
#: How long the final log read waits for the container to stop after its stream ended.
CATCH_UP_WAIT_SECONDS = 10.0

Put = Callable[[list[LogLine] | BaseException | None], bool]


class Batches:
    """Line batches crossing from a reader thread to the event loop, at most
    :data:`LOG_QUEUE_BATCHES` waiting: past that the thread waits (``put``) until the
    consumer catches up, or gives up once ``stop`` is set."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[list[LogLine] | BaseException | None] = asyncio.Queue()
        self._credits = threading.BoundedSemaphore(LOG_QUEUE_BATCHES)
        self.stop = threading.Event()

    def put(self, item: list[LogLine] | BaseException | None) -> bool:
        """From the thread: hand over a batch, an error, or None (the end); False when
        nobody listens any more."""
        while not self._credits.acquire(timeout=0.5):
            if self.stop.is_set():
                return False
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the event loop is closed: nobody listens
            return False
        return True

    async def batches(self) -> AsyncIterator[list[LogLine]]:
        """Every batch handed over, until the end (an error handed over is raised)."""
        while True:
            item = await self._queue.get()
            self._credits.release()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            if item:
                yield item


async def read_attached(job: DockerJobHandle, attachment: Attachment) -> AsyncIterator[list[LogLine]]:
    """Every line of ``job``'s container, in batches, through the attach opened before it
    started (see :mod:`.attach`), until the Engine ends the connection."""
    batches = Batches()

    def read_all() -> None:
        try:
            pump_attached(attachment.read, batches.put, batches.stop)
        except Exception as exc:
            if not batches.stop.is_set():
                batches.put(ExecutorError(f"reading the output of job {job.spec.path} failed: {exc}"))
        finally:
            attachment.close()
            if not batches.stop.is_set():
                batches.put(None)

    threading.Thread(target=read_all, name=f"coops-attach-{job.name}", daemon=True).start()
    try:
        async for batch in batches.batches():
            yield batch
    finally:
        batches.stop.set()
        attachment.close()


async def follow_logs(api: Any, job: DockerJobHandle) -> AsyncIterator[list[LogLine]]:
    """Every line of ``job``'s container, in batches, as the Engine logs them, until it
    ends: for a container this executor did not attach to before it started."""
    stream = follow_stream(
        lambda: open_log_stream(api, job),
        lambda response, put, stop: LogFollower(
            response,
            put,
            stop,
            name=job.name,
            path=job.spec.path,
            until_ended=lambda ended: _until_exited(api, job, ended),
            catch_up=lambda newest: catch_up(api, job, newest),
            idle=LOG_IDLE_AFTER_EXIT,
        ),
    )
    async for batch in stream:
        yield batch


async def follow_stream(
    opener: Callable[[], Any], make: Callable[[Any, Put, threading.Event], LogFollower]
) -> AsyncIterator[list[LogLine]]:
    """The batches of a log stream that ``opener`` opens (in a thread) and a follower that
    ``make`` makes reads, until the follower ends it; leaving early shuts it down."""
    opening = asyncio.ensure_future(asyncio.to_thread(opener))
    try:
        response = await asyncio.shield(opening)
    except asyncio.CancelledError:
        # An opened stream nobody reads would stay open as long as the job runs.
        opening.add_done_callback(_close_opened_stream)
        raise
    batches = Batches()
    follower = make(response, batches.put, batches.stop)
    follower.start()
    try:
        async for batch in batches.batches():
            yield batch
    finally:
        batches.stop.set()
        shutdown_stream(response)
        follower.ended.set()


def open_log_stream(api: Any, job: DockerJobHandle, since: str | None = None) -> Any:
    """Start ``GET /containers/{id}/logs`` (both streams, timestamped; followed
    unless ``since`` is given).

    The SDK's own ``logs()`` would drop the stream id of each frame (or need one
    connection per stream, losing their order) and read frame by frame; this uses
    the same request helpers but returns the raw response to be read in large blocks.
    """
    return open_stream(
        api, api._url("/containers/{0}/logs", job.container_id), since, f"container of job {job.spec.path}"
    )


def open_stream(api: Any, url: str, since: str | None, what: str) -> Any:
    """``GET url`` of a logs endpoint: both streams, timestamped; followed unless ``since``."""
    params: dict[str, str | int] = {"stdout": 1, "stderr": 1, "timestamps": 1, "tail": "all"}
    if since is None:
        params["follow"] = 1
    else:
        params["since"] = since
    try:
        response = api._get(url, params=params, stream=since is None, timeout=None)
        api._raise_for_status(response)
    except docker.errors.NotFound as exc:
        raise ExecutorError(f"the {what} disappeared") from exc
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        raise ExecutorError(f"cannot read the logs of the {what}: {explain(exc)}") from exc
    return response


def since_parameter(newest: bytes) -> str | None:
    """The ``since`` of a catch-up read from timestamp ``newest`` ("0": from the start);
    None when ``newest`` cannot be read (nothing to catch up on then)."""
    if not newest:
        return "0"
    try:
        moment = parse_timestamp(newest)
    except ValueError:
        return None
    return f"{calendar.timegm(moment.timetuple())}.{moment.microsecond * 1000:09d}"


def catch_up(api: Any, job: DockerJobHandle, newest: bytes) -> bytes:
    """The entries from timestamp ``newest`` on, read once the container has stopped.

    Docker 20.10 may end a followed log stream before its last entry; by the time
    the container is no longer running, its logger is closed and every entry is in
    the log file, so an unfollowed read finds it (see :mod:`.logs`).
    """
    with contextlib.suppress(*ENGINE_ERRORS):
        api.wait(job.container_id, timeout=CATCH_UP_WAIT_SECONDS)
    since = since_parameter(newest)
    if since is None:
        return b""
    try:
        return bytes(open_log_stream(api, job, since=since).content)
    except (ExecutorError, *ENGINE_ERRORS):
        return b""  # the container is gone: what was read is all there is


def _until_exited(api: Any, job: DockerJobHandle, ended: threading.Event) -> None:
    """Return once the container has stopped (or ``ended`` is set)."""
    while not ended.is_set():
        try:
            api.wait(job.container_id, timeout=WAIT_POLL_SECONDS)
            return
        except docker.errors.NotFound:
            return
        except ENGINE_ERRORS:
            if not ended.wait(0.5):
                continue


class LogFollower:
    """The threads behind one followed log stream: a reader, and a watcher that ends a
    stream the Engine forgets to end.

    Docker 20.10 sometimes keeps a followed container log stream open after the container
    has exited (always, it seems, when the container exits as the request arrives; about
    one job in ten otherwise), and sometimes ends it before the last entry; a swarm
    service's stream never ends by itself. The watcher waits until the job has ended
    (``until_ended``); once the reader has then waited for data for ``idle`` seconds it
    shuts the socket down. Either way the reader finishes with an unfollowed catch-up
    read (``catch_up``), so no line is lost or repeated; cutting too early costs only a
    larger catch-up read, which is why the delay can be short.
    """

    def __init__(
        self,
        response: Any,
        put: Put,
        stop: threading.Event,
        *,
        name: str,
        path: str,
        until_ended: Callable[[threading.Event], None],
        catch_up: Callable[[bytes], bytes],
        idle: float,
    ) -> None:
        self._response = response
        self._body = body_reader(response)
        self._put = put
        self._stop = stop
        self._name = name
        self._path = path
        self._until_ended = until_ended
        self._catch_up = catch_up
        self._idle = idle
        self._cut = threading.Event()
        #: Set when the reader is done (or the consumer left): the watcher may stop.
        self.ended = threading.Event()
        #: When the reader entered its current blocking read (None: not reading).
        self._reading_since: float | None = None

    def start(self) -> None:
        threading.Thread(target=self._read_all, name=f"coops-logs-{self._name}", daemon=True).start()
        threading.Thread(target=self._watch, name=f"coops-logwatch-{self._name}", daemon=True).start()

    def _read(self) -> bytes:
        self._reading_since = time.monotonic()
        try:
            return self._body()
        except Exception:
            if self._cut.is_set() or self._stop.is_set():
                return b""
            raise
        finally:
            self._reading_since = None

    def _read_all(self) -> None:
        stop = self._stop
        try:
            pump(self._read, self._put, stop, self._catch_up)
        except Exception as exc:
            if not stop.is_set():
                self._put(ExecutorError(f"reading the logs of job {self._path} failed: {exc}"))
        finally:
            self.ended.set()
            self._response.close()
            if not stop.is_set():
                self._put(None)

    def _watch(self) -> None:
        self._until_ended(self.ended)
        while not self.ended.wait(self._idle / 4):
            since = self._reading_since  # a reader held up by a slow consumer is not idle
            if since is not None and time.monotonic() - since > self._idle:
                self._cut.set()
                shutdown_stream(self._response)
                return


def body_reader(response: Any) -> Callable[[], bytes]:
    """Read the streamed body in large blocks (see :class:`.logs.ChunkedBody`).

    Reaches under ``requests``/``urllib3`` to the ``http.client`` response, as the
    Docker SDK itself does for attach; falls back to urllib3's ``read1`` if the layout
    ever differs.
    """
    inner = getattr(response.raw, "_fp", None)
    fp = getattr(inner, "fp", None)
    chunked = getattr(inner, "chunked", None)
    if fp is not None and hasattr(fp, "read1") and isinstance(chunked, bool):
        return ChunkedBody(fp, chunked=chunked).read
    return lambda: bytes(response.raw.read1(READ_SIZE))


def _close_opened_stream(opening: asyncio.Future[Any]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        shutdown_stream(opening.result())


def shutdown_stream(response: Any) -> None:
    """Wake the log reader thread if it still blocks on the socket."""
    try:
        response.raw.shutdown()
    except Exception:
        with contextlib.suppress(Exception):
            response.close()
