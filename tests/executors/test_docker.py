"""The Docker executor against a real Docker Engine (no mocks), and its log decoding.

The ``docker``-marked tests need the Engine and build the busybox base image if it
is missing; the others exercise the pure log-stream decoding on made-up bytes.
"""

from __future__ import annotations

import asyncio
import random
import struct
import threading
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import docker
import docker.errors
import pytest

from containerops.executors.base import (
    LABEL_ATTEMPT,
    LABEL_HOME,
    LABEL_JOB,
    LABEL_MANAGED,
    LABEL_RUN,
    ExecutorError,
    ExitStatus,
    JobSpec,
    LogLine,
    RunContext,
)
from containerops.executors.docker import (
    DockerExecutor,
    DockerJobHandle,
    cleanup_all,
    container_name,
    home_label,
)
from containerops.executors.docker.attach import FrameSplitter
from containerops.executors.docker.logs import ChunkedBody, FrameDecoder, parse_timestamp
from containerops.executors.docker_client import WAIT_POLL_SECONDS

T = TypeVar("T")
MiB = 2**20


def run(awaitable: Awaitable[T]) -> T:
    async def main() -> T:
        return await awaitable

    return asyncio.run(main())


def job(run_id: str, command: list[str] | None, **fields: object) -> JobSpec:
    values: dict[str, object] = {
        "run_id": run_id,
        "path": "build.compile.unit",
        "attempt": 1,
        "image": "containerops/base:busybox",
        "command": command,
        "env": {},
    }
    values.update(fields)
    return JobSpec(**values)  # type: ignore[arg-type]


async def run_job(executor: DockerExecutor, spec: JobSpec) -> tuple[list[LogLine], ExitStatus]:
    """Start, read logs and wait at the same time (as the engine does), then destroy."""
    handle = await executor.start(spec)
    try:
        lines, status = await asyncio.gather(_collect(executor, handle), executor.wait(handle))
    finally:
        await executor.destroy(handle)
    return lines, status


async def _collect(executor: DockerExecutor, handle: DockerJobHandle | object) -> list[LogLine]:
    return [line async for line in executor.logs(handle)]  # type: ignore[arg-type]


def texts(lines: list[LogLine]) -> list[tuple[str, str]]:
    return [(line.stream, line.text) for line in lines]


def containers_of(client: docker.DockerClient, run_id: str) -> list[str]:
    return [c.name for c in client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={run_id}"})]


def left_after_removal(client: docker.DockerClient, run_id: str, seconds: float = 30) -> list[str]:
    """The run's containers once the removals ``destroy`` started have had time to end
    (destroy starts a removal and returns; nothing here calls the run's teardown)."""
    deadline = time.monotonic() + seconds
    while (left := containers_of(client, run_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def wait_threads_gone(marker: str, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while True:
        alive = [t.name for t in threading.enumerate() if marker in t.name]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


@pytest.fixture
def executor() -> DockerExecutor:
    return DockerExecutor(network_mode="host")


# --- against the Docker Engine ---------------------------------------------------------


@pytest.mark.docker
def test_stdout_and_stderr_in_order_with_their_streams(
    busybox: str, run_id: str, executor: DockerExecutor
) -> None:
    # Docker reads stdout and stderr through two pipes in two goroutines: lines printed
    # within microseconds of each other on different streams may swap (even `docker logs`
    # shows that), so the job pauses between streams.
    script = "echo one; usleep 30000; echo two >&2; usleep 30000; echo three; usleep 30000; echo four >&2"
    before = datetime.now(UTC) - timedelta(seconds=5)
    lines, status = run(run_job(executor, job(run_id, ["sh", "-c", script])))
    assert status == ExitStatus(exit_code=0, oom_killed=False)
    assert texts(lines) == [("stdout", "one"), ("stderr", "two"), ("stdout", "three"), ("stderr", "four")]
    times = [line.time for line in lines]
    assert times == sorted(times)
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)
    assert before < times[0] < datetime.now(UTC) + timedelta(seconds=5)


@pytest.mark.docker
def test_last_line_without_newline_and_crlf(busybox: str, run_id: str, executor: DockerExecutor) -> None:
    for attempt in range(1, 6):  # the Engine's race at exit is intermittent: try several times
        script = r"printf 'windows\r\n'; printf 'middle\n'; printf 'no newline at the end'"
        lines, _ = run(run_job(executor, job(run_id, ["sh", "-c", script], attempt=attempt)))
        assert texts(lines) == [
            ("stdout", "windows"),
            ("stdout", "middle"),
            ("stdout", "no newline at the end"),
        ]


@pytest.mark.docker
def test_lines_longer_than_16_kib_are_joined(busybox: str, run_id: str, executor: DockerExecutor) -> None:
    long_utf8 = "a" + "é" * 20_000  # 40,001 bytes: the Engine's 16 KiB cuts fall inside characters
    script = (
        "head -c 70000 /dev/zero | tr '\\0' x; echo; usleep 30000;"
        "head -c 20000 /dev/zero | tr '\\0' y >&2; echo >&2; usleep 30000;"
        'printf "%s\\n" "$LONG"; echo done'
    )
    lines, status = run(run_job(executor, job(run_id, ["sh", "-c", script], env={"LONG": long_utf8})))
    assert status.exit_code == 0
    assert texts(lines[:2]) == [("stdout", "x" * 70_000), ("stderr", "y" * 20_000)]
    assert texts(lines[3:]) == [("stdout", "done")]
    # One line again; but the json-file driver stores each 16 KiB piece as a JSON string,
    # so the two halves of a character it cut come back as U+FFFD (an Engine limitation).
    rejoined = lines[2].text
    assert rejoined.startswith("aé") and rejoined.endswith("é")
    assert set(rejoined[1:]) <= {"é", "\ufffd"} and rejoined.count("\ufffd") <= 4
    assert rejoined.replace("\ufffd", "").count("é") >= 20_000 - 2


@pytest.mark.docker
@pytest.mark.timeout(180)
def test_two_hundred_thousand_lines_all_arrive(busybox: str, run_id: str, executor: DockerExecutor) -> None:
    started = time.monotonic()
    lines, status = run(run_job(executor, job(run_id, ["seq", "1", "200000"])))
    elapsed = time.monotonic() - started
    print(f"200,000 lines read in {elapsed:.2f} s")
    assert status.exit_code == 0
    assert len(lines) == 200_000
    assert [line.text for line in lines] == [str(n) for n in range(1, 200_001)]
    assert {line.stream for line in lines} == {"stdout"}


@pytest.mark.docker
@pytest.mark.timeout(180)
def test_two_hundred_thousand_lines_on_both_streams_keep_their_order(
    busybox: str, run_id: str, executor: DockerExecutor
) -> None:
    """Read through the attach opened before the start: none lost or repeated, each stream
    in order, each line timed when read (never earlier than the line before)."""
    script = "seq 1 100000 & seq 100001 200000 >&2; wait"
    before = datetime.now(UTC)
    lines, status = run(run_job(executor, job(run_id, ["sh", "-c", script])))
    assert status.exit_code == 0
    out = [line.text for line in lines if line.stream == "stdout"]
    err = [line.text for line in lines if line.stream == "stderr"]
    assert out == [str(n) for n in range(1, 100_001)]
    assert err == [str(n) for n in range(100_001, 200_001)]
    times = [line.time for line in lines]
    assert times == sorted(times) and before <= times[0] <= times[-1] <= datetime.now(UTC)


@pytest.mark.docker
def test_logs_are_followed_when_the_container_was_not_attached(
    busybox: str, run_id: str, executor: DockerExecutor
) -> None:
    """A handle without its attach (taken, or never made) reads the container's log file."""

    async def scenario() -> list[LogLine]:
        handle = await executor.start(job(run_id, ["sh", "-c", "echo a; echo b >&2; printf c"]))
        assert isinstance(handle, DockerJobHandle) and handle.attachment is not None
        handle.take_attachment().close()  # type: ignore[union-attr]
        try:
            lines, _ = await asyncio.gather(_collect(executor, handle), executor.wait(handle))
            return lines
        finally:
            await executor.destroy(handle)

    lines = run(scenario())
    assert sorted(texts(lines)) == [("stderr", "b"), ("stdout", "a"), ("stdout", "c")]


@pytest.mark.docker
def test_adopting_a_container_whose_worker_died_before_starting_it_starts_it(
    busybox: str, run_id: str, executor: DockerExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed between creating a container and starting it leaves it "created":
    the job never ran, so the worker that adopts the attempt starts it (the Engine's wait
    would say exit code 0 at once for a container never started)."""
    spec = job(run_id, ["sh", "-c", "echo ran; exit 4"])

    def killed_here(*_: object) -> DockerJobHandle:
        raise RuntimeError("the worker was killed here")

    async def scenario() -> tuple[list[LogLine], ExitStatus]:
        with monkeypatch.context() as patched:
            patched.setattr(executor, "_attach_and_start", killed_here)
            with pytest.raises(RuntimeError, match="killed here"):
                await executor.start(spec)
        handle = await executor.adopt(spec, [])
        assert handle is not None
        try:
            lines, status = await asyncio.gather(_collect(executor, handle), executor.wait(handle))
        finally:
            await executor.destroy(handle)
        return lines, status

    lines, status = run(scenario())
    assert texts(lines) == [("stdout", "ran")]
    assert status.exit_code == 4


@pytest.mark.docker
def test_logs_read_after_the_job_ended(busybox: str, run_id: str, executor: DockerExecutor) -> None:
    async def scenario() -> tuple[ExitStatus, list[LogLine]]:
        handle = await executor.start(job(run_id, ["sh", "-c", "echo a; usleep 30000; echo b >&2; exit 3"]))
        try:
            status = await executor.wait(handle)
            return status, await _collect(executor, handle)
        finally:
            await executor.destroy(handle)

    status, lines = run(scenario())
    assert status.exit_code == 3
    assert texts(lines) == [("stdout", "a"), ("stderr", "b")]


@pytest.mark.docker
@pytest.mark.parametrize("code", [0, 3])
def test_exit_codes(busybox: str, run_id: str, executor: DockerExecutor, code: int) -> None:
    _, status = run(run_job(executor, job(run_id, ["sh", "-c", f"exit {code}"])))
    assert status == ExitStatus(exit_code=code, oom_killed=False, reason=None)


@pytest.mark.docker
def test_environment_is_passed(busybox: str, run_id: str, executor: DockerExecutor) -> None:
    env = {"GREETING": "hello world", "CO_DATA": "git-url=https://x/y.git branch=main", "EMPTY": ""}
    script = 'echo "$GREETING|$CO_DATA|${EMPTY-unset}|"'
    lines, _ = run(run_job(executor, job(run_id, ["sh", "-c", script], env=env)))
    assert texts(lines) == [("stdout", "hello world|git-url=https://x/y.git branch=main||")]


@pytest.mark.docker
def test_command_overrides_the_image_cmd(busybox: str, run_id: str, executor: DockerExecutor) -> None:
    lines, status = run(run_job(executor, job(run_id, ["echo", "overridden"])))
    assert (texts(lines), status.exit_code) == ([("stdout", "overridden")], 0)
    # Without a command the image's CMD runs: `sh` with no input ends at once.
    lines, status = run(run_job(executor, job(run_id, None, attempt=2)))
    assert (lines, status.exit_code) == ([], 0)


@pytest.mark.docker
def test_memory_limit_kills_a_memory_hog(busybox: str, run_id: str, executor: DockerExecutor) -> None:
    hog = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]  # a 64 MiB buffer
    _, status = run(run_job(executor, job(run_id, hog, memory=32 * MiB)))
    assert status.exit_code == 137
    assert status.oom_killed
    assert status.reason == "out of memory (limit 32 MiB)"


@pytest.mark.docker
def test_cpu_limit_is_accepted(
    busybox: str, run_id: str, executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    async def scenario() -> tuple[int, ExitStatus]:
        handle = await executor.start(job(run_id, ["sh", "-c", "echo busy"], cpu=0.5))
        try:
            assert isinstance(handle, DockerJobHandle)
            nano_cpus = docker_client.api.inspect_container(handle.container_id)["HostConfig"]["NanoCpus"]
            return nano_cpus, await executor.wait(handle)
        finally:
            await executor.destroy(handle)

    nano_cpus, status = run(scenario())
    assert nano_cpus == 500_000_000
    assert status.exit_code == 0


@pytest.mark.docker
def test_labels_name_and_confinement(
    busybox: str, run_id: str, executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    spec = job(run_id, ["sleep", "30"], attempt=2, labels={"team": "ci"}, memory=64 * MiB)

    async def scenario() -> dict[str, object]:
        handle = await executor.start(spec)
        try:
            assert isinstance(handle, DockerJobHandle)
            info: dict[str, object] = docker_client.api.inspect_container(handle.container_id)
            return info
        finally:
            await executor.destroy(handle)

    info = run(scenario())
    config, host = info["Config"], info["HostConfig"]
    assert isinstance(config, dict) and isinstance(host, dict)
    ours = {
        "team": "ci",
        LABEL_MANAGED: "true",
        LABEL_RUN: run_id,
        LABEL_JOB: "build.compile.unit",
        LABEL_ATTEMPT: "2",
    }
    assert ours.items() <= config["Labels"].items()  # the image's own labels come along
    assert info["Name"] == f"/coops-{run_id}-build-compile-unit-2"
    assert host["Memory"] == host["MemorySwap"] == 64 * MiB
    assert host["Privileged"] is False
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["PidsLimit"] == 4096
    assert host["NetworkMode"] == "host"
    assert host["AutoRemove"] is False
    assert host["LogConfig"]["Type"] == "json-file"
    assert left_after_removal(docker_client, run_id) == []


@pytest.mark.docker
def test_destroy_removes_a_running_container_and_is_idempotent(
    busybox: str, run_id: str, executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    async def scenario() -> None:
        handle = await executor.start(job(run_id, ["sleep", "300"]))
        assert containers_of(docker_client, run_id) == [container_name(handle.spec)]
        # `sleep` ignores SIGTERM as PID 1: destroy must kill, not wait for it; the
        # test's timeout catches a destroy that waits out the stop grace period.
        await asyncio.wait_for(executor.destroy(handle), timeout=30)
        await executor.destroy(handle)  # being removed or gone already: no error

    run(scenario())
    assert left_after_removal(docker_client, run_id) == []


@pytest.mark.docker
def test_teardown_removes_every_container_of_the_run(
    busybox: str, run_id: str, executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    other = f"t{uuid.uuid4().hex[:12]}"

    async def scenario() -> None:
        await executor.setup(RunContext(run_id=run_id, flow_uri="test/flow"))
        ended = await executor.start(job(run_id, ["true"], path="a.b.c"))
        await executor.wait(ended)
        await executor.start(job(run_id, ["sleep", "300"], path="a.b.d"))
        await executor.start(job(run_id, ["sleep", "300"], path="a.b.e", attempt=3))
        await executor.start(job(other, ["sleep", "300"]))
        assert len(containers_of(docker_client, run_id)) == 3
        await executor.teardown(RunContext(run_id=run_id, flow_uri="test/flow"))

    try:
        run(scenario())
        assert containers_of(docker_client, run_id) == []
        assert len(containers_of(docker_client, other)) == 1  # another run is left alone
    finally:
        for container in docker_client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={other}"}):
            container.remove(force=True)


@pytest.mark.docker
def test_missing_image_is_a_clear_error(busybox: str, run_id: str, executor: DockerExecutor) -> None:
    with pytest.raises(ExecutorError) as caught:
        run(executor.start(job(run_id, ["true"], image="coops-test/no-such-image:1")))
    message = str(caught.value)
    assert "image coops-test/no-such-image:1 not found locally" in message
    assert "coops images build-base" in message


@pytest.mark.docker
def test_missing_image_from_a_named_registry_is_pulled(
    busybox: str, run_id: str, executor: DockerExecutor
) -> None:
    # Nothing listens on that local port: the pull is attempted and its failure explained.
    with pytest.raises(ExecutorError, match=r"not found locally and pulling it failed"):
        run(executor.start(job(run_id, ["true"], image="localhost:5999/coops-test/none:1")))


@pytest.mark.docker
def test_unstartable_command_fails_cleanly(
    busybox: str, run_id: str, executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    with pytest.raises(ExecutorError, match=r"cannot start job build.compile.unit"):
        run(executor.start(job(run_id, ["/no/such/program"])))
    assert containers_of(docker_client, run_id) == []


@pytest.mark.docker
def test_cancelled_wait_then_destroy_leaves_nothing(
    busybox: str, run_id: str, executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    async def scenario() -> tuple[str, float]:
        handle = await executor.start(job(run_id, ["sleep", "300"]))
        assert isinstance(handle, DockerJobHandle)
        waiting = asyncio.create_task(executor.wait(handle))
        reading = asyncio.create_task(_collect(executor, handle))
        await asyncio.sleep(0.5)
        waiting.cancel()
        reading.cancel()
        for task in (waiting, reading):
            with pytest.raises(asyncio.CancelledError):
                await task
        started = time.monotonic()
        await executor.destroy(handle)
        return handle.name, time.monotonic() - started

    name, elapsed = run(scenario())
    assert elapsed < 10
    assert left_after_removal(docker_client, run_id) == []
    assert wait_threads_gone(name, WAIT_POLL_SECONDS + 5) == []


@pytest.mark.docker
def test_a_start_cancelled_midway_removes_the_container_it_still_made(
    busybox: str, run_id: str, executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    """Cancelled while the Engine creates the container: nobody will hold its handle, so
    the executor removes it when the creation ends."""

    async def scenario() -> None:
        starting = asyncio.create_task(executor.start(job(run_id, ["sleep", "300"])))
        await asyncio.sleep(0.05)  # the creation is under way in the call threads
        starting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await starting

    run(scenario())
    assert left_after_removal(docker_client, run_id) == []


@pytest.mark.docker
def test_consumer_that_stops_reading_releases_the_stream(
    busybox: str, run_id: str, executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    async def scenario() -> tuple[str, list[str]]:
        handle = await executor.start(
            job(run_id, ["sh", "-c", "while true; do echo tick; usleep 20000; done"])
        )
        assert isinstance(handle, DockerJobHandle)
        got: list[str] = []
        try:
            async for line in executor.logs(handle):
                got.append(line.text)
                if len(got) == 3:
                    break
        finally:
            await executor.destroy(handle)
        return handle.name, got

    name, got = run(scenario())
    assert got == ["tick"] * 3
    assert wait_threads_gone(name, 10) == []


@pytest.mark.docker
def test_parallel_jobs_do_not_starve(busybox: str, run_id: str, executor: DockerExecutor) -> None:
    """More jobs than the loop's default thread pool has threads, all waiting at once."""

    async def scenario() -> list[tuple[list[LogLine], ExitStatus]]:
        specs = [
            job(run_id, ["sh", "-c", f"sleep 1; seq 1 1000; exit {n}"], attempt=n + 1) for n in range(10)
        ]
        return await asyncio.gather(*(run_job(executor, spec) for spec in specs))

    results = run(asyncio.wait_for(scenario(), timeout=90))
    for n, (lines, status) in enumerate(results):
        assert status.exit_code == n
        assert [line.text for line in lines] == [str(i) for i in range(1, 1001)]


@pytest.mark.docker
def test_cleanup_all_removes_managed_containers(
    busybox: str, run_id: str, executor: DockerExecutor, docker_client: docker.DockerClient
) -> None:
    """Only this home's containers: another home's, running at the same time, stay."""
    mine = {"label": [f"{LABEL_MANAGED}=true", f"{LABEL_HOME}={home_label()}"]}
    run(executor.start(job(run_id, ["sleep", "300"])))
    other = docker_client.containers.run(
        busybox, ["sleep", "300"], detach=True, labels={LABEL_MANAGED: "true", LABEL_HOME: "/elsewhere"}
    )
    try:
        assert cleanup_all() == 1
        assert docker_client.containers.list(all=True, filters=mine) == []
        assert other.id in {
            c.id for c in docker_client.containers.list(filters={"label": f"{LABEL_HOME}=/elsewhere"})
        }
    finally:
        other.remove(force=True)


def test_unreachable_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(ExecutorError) as caught:
        run(DockerExecutor().start(job("r", ["true"])))
    message = str(caught.value)
    assert message.startswith("cannot reach the Docker Engine at unix:///nonexistent/docker.sock: ")
    assert "start dockerd" in message


def test_network_mode_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COOPS_DOCKER_NETWORK", raising=False)
    assert DockerExecutor().network_mode == "bridge"
    monkeypatch.setenv("COOPS_DOCKER_NETWORK", "none")
    assert DockerExecutor().network_mode == "none"
    assert DockerExecutor(network_mode="host").network_mode == "host"


def test_container_names_use_allowed_characters() -> None:
    spec = job("r1", None, path="build.unit test.job/ü", attempt=2)
    assert container_name(spec) == "coops-r1-build-unit-test-job--2"
    long_a, long_b = (container_name(job("r", None, path="x" * 300 + tail)) for tail in "ab")
    assert len(long_a) <= 200 and long_a != long_b


# --- log decoding, on made-up bytes ----------------------------------------------------

STAMP = "2026-01-02T03:04:05.123456789Z"


def frame(stream: int, text: bytes, stamp: str = STAMP) -> bytes:
    payload = stamp.encode() + b" " + text
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def decode(data: bytes, sizes: list[int] | None = None) -> list[LogLine]:
    decoder, lines, pos = FrameDecoder(), [], 0
    for size in sizes or [len(data)]:
        lines += decoder.feed(data[pos : pos + size])
        pos += size
    return lines + decoder.feed(data[pos:]) + decoder.close()


def test_timestamps_parse_to_utc() -> None:
    assert parse_timestamp(STAMP.encode()) == datetime(2026, 1, 2, 3, 4, 5, 123456, UTC)
    assert parse_timestamp(b"2026-01-02T03:04:05Z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_timestamp(b"2026-01-02T05:04:05.5+02:00") == datetime(2026, 1, 2, 3, 4, 5, 500000, UTC)


def test_decoder_whatever_the_read_boundaries() -> None:
    data = (
        frame(1, b"first\n")
        + frame(2, b"an error\r\n")
        + frame(1, b"piece one, ", "2026-01-02T03:04:06.000000001Z")  # cut by the Engine
        + frame(1, b"piece two\n", "2026-01-02T03:04:07.000000000Z")
        + frame(1, "ünïcödé\n".encode())
        + frame(2, b"no newline at the end")
    )
    expected = [
        ("stdout", "first"),
        ("stderr", "an error"),
        ("stdout", "piece one, piece two"),
        ("stdout", "ünïcödé"),
        ("stderr", "no newline at the end"),
    ]
    whole = decode(data)
    assert texts(whole) == expected
    assert whole[2].time == datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)  # its first piece's time
    rng = random.Random(7)
    for _ in range(50):
        cuts = [rng.randint(0, 9) for _ in range(len(data) // 3)]
        assert texts(decode(data, cuts)) == expected
    assert texts(decode(data, [1] * len(data))) == expected


def attach_frame(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", kind, len(payload)) + payload


def test_attach_frames_whatever_the_read_boundaries() -> None:
    data = (
        attach_frame(1, b"first\nsecond\r\nhalf of ")
        + attach_frame(2, b"an error\n")
        + attach_frame(1, b"a line\n" + "ünï".encode()[:3])  # a character cut between frames
        + attach_frame(1, "ünï".encode()[3:] + b"\n")
        + attach_frame(2, b"no newline at the end")
    )
    expected = [
        ("stdout", "first"),
        ("stdout", "second"),
        ("stderr", "an error"),
        ("stdout", "half of a line"),
        ("stdout", "ünï"),
        ("stderr", "no newline at the end"),
    ]
    now = datetime.now(UTC)

    def split(cuts: list[int]) -> list[LogLine]:
        frames, got, pos = FrameSplitter(), [], 0
        for size in cuts:
            got += frames.feed(data[pos : pos + size], now)
            pos += size
        return got + frames.feed(data[pos:], now) + frames.close(now)

    assert texts(split([])) == expected
    rng = random.Random(11)
    for _ in range(50):
        got = split([rng.randint(0, 9) for _ in range(len(data) // 3)])
        # each stream's lines in order; across streams, as the frames that end them came
        assert [t for t in texts(got) if t[0] == "stdout"] == [t for t in expected if t[0] == "stdout"]
        assert [t for t in texts(got) if t[0] == "stderr"] == [t for t in expected if t[0] == "stderr"]
    assert texts(split([1] * len(data))) == expected


def test_decoder_resume_skips_what_was_seen() -> None:
    early, late = "2026-01-02T03:04:05.000000001Z", "2026-01-02T03:04:05.000000002Z"
    decoder = FrameDecoder()
    first = decoder.feed(frame(1, b"a\n", early) + frame(1, b"b\n", late) + frame(2, b"c\n", late))
    assert decoder.newest == late.encode()
    again = frame(1, b"b\n", late) + frame(2, b"c\n", late) + frame(2, b"d\n", late) + frame(1, b"e")
    rest = decoder.resume(again) + decoder.close()
    assert texts(first + rest) == [
        ("stdout", "a"),
        ("stdout", "b"),
        ("stderr", "c"),
        ("stderr", "d"),
        ("stdout", "e"),
    ]


class _Pieces:
    """A file-like object whose read1 hands out the data in the given piece sizes."""

    def __init__(self, data: bytes, rng: random.Random) -> None:
        self._data, self._rng = data, rng

    def read1(self, limit: int) -> bytes:
        size = min(limit, self._rng.randint(1, 40))
        piece, self._data = self._data[:size], self._data[size:]
        return piece


def test_chunked_body() -> None:
    body = b"".join(frame(1, f"line {n}\n".encode()) for n in range(100))
    encoded, pos, rng = b"", 0, random.Random(3)
    while pos < len(body):
        size = min(rng.randint(1, 300), len(body) - pos)
        encoded += f"{size:x};ext=1\r\n".encode() + body[pos : pos + size] + b"\r\n"
        pos += size
    encoded += b"0\r\n\r\n"
    for seed in range(20):
        reader = ChunkedBody(_Pieces(encoded, random.Random(seed)), chunked=True)
        got = b""
        while chunk := reader.read():
            got += chunk
        assert got == body
    plain = ChunkedBody(_Pieces(body, random.Random(1)), chunked=False)
    got = b""
    while chunk := plain.read():
        got += chunk
    assert got == body
