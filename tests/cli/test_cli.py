"""The ``coops`` command as a user runs it: a real process, real files, real store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

PILOTAGE = ROOT.parent / "shared" / "compat" / "pilotage"
COOPS = [sys.executable, "-m", "containerops.cli.main"]
BUSYBOX = "containerops/base:busybox"


def coops(
    *args: str, home: Path, check: int | None = None, extra_env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COOPS_HOME": str(home), "COLUMNS": "200"}
    # The test's database: COOPS_DATABASE_URL when its store is on a server, else the home's.
    env.update(extra_env or {})
    result = subprocess.run([*COOPS, *args], env=env, capture_output=True, text=True, timeout=180, **kwargs)
    if check is not None:
        assert result.returncode == check, (
            f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def write(tmp_path: Path, text: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


LOCAL_FLOW = """\
uri: test/cli/local
environments: {GREETING: hi}
stages:
  - {type: start, name: start}
  - name: build
    sequencing: parallel
    actions:
      - name: one
        jobs:
          - name: say
            command: [sh, -c, 'echo "$GREETING $CO_MSG"; echo oops >&2; echo "[COUT] CO_OUT = a b=c"']
            inputs: {msg: "two words"}
            outputs: [CO_OUT]
      - name: two
        jobs:
          - {name: other, command: [sh, -c, 'echo two']}
  - name: use
    actions:
      - name: read
        jobs:
          - name: echo
            command: [sh, -c, 'echo "got $OUT"']
            subscriptions:
              - build.one.say[CO_OUT]: OUT
  - {type: end, name: end}
"""


def test_help_teaches(tmp_path: Path) -> None:
    result = coops("--help", home=tmp_path, check=0)
    for word in ("run", "validate", "runs", "logs", "images"):
        assert word in result.stdout
    run_help = coops("run", "--help", home=tmp_path, check=0).stdout
    assert (
        "--executor" in run_help and "--json" in run_help and "--set" in run_help and "Examples" in run_help
    )


def test_the_top_level_help_builds_no_group_commands_yet_shows_and_completes_them(tmp_path: Path) -> None:
    """`coops --help` and a mistyped name build the groups without their commands (start-up);
    the groups' help still shows, their commands still run and shell completion reaches them."""
    top = coops("--help", home=tmp_path, check=0).stdout
    assert "List and inspect past and current runs." in top and "registry" in top
    assert "Did you mean" in coops("runz", home=tmp_path, check=2).stderr
    assert "approve" in coops("runs", "--help", home=tmp_path, check=0).stdout
    completed = subprocess.run(  # as the shell calls it: the installed script, named coops
        [str(Path(sys.executable).with_name("coops"))],
        env={
            **os.environ,
            "_COOPS_COMPLETE": "complete_bash",
            "COMP_WORDS": "coops runs ",
            "COMP_CWORD": "2",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert set(completed.stdout.split()) >= {"approve", "reject", "list", "show", "cancel"}


def _probe(script: str, arguments: list[str], **environment: str) -> subprocess.CompletedProcess[str]:
    """``script`` run by a fresh Python with ``arguments``, as the CLI's start-up is measured."""
    return subprocess.run(
        [sys.executable, "-c", script, *arguments],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **environment},
    )


_HELP_PROBE = """
import sys
from containerops.cli.main import main
sys.argv = ["coops", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("loaded:", sorted(m for m in ("markdown_it", "rich.markdown", "rich.traceback") if m in sys.modules))
import rich.markdown, rich.traceback
print("later:", rich.markdown.Markdown.__module__, hasattr(rich.traceback.Traceback, "from_exception"))
"""


@pytest.mark.parametrize("arguments", [["--help"], ["run", "--help"], ["runs"]])
def test_help_screens_leave_out_the_unused_parts_of_rich(arguments: list[str]) -> None:
    """Help is rendered by typer's rich panels without importing rich.markdown and
    rich.traceback (~85 ms of start-up); a later import still gets the real modules."""
    done = _probe(_HELP_PROBE, arguments, COLUMNS="100")
    assert "Usage: coops" in done.stdout and "╭─ Options" in done.stdout
    assert "loaded: []" in done.stdout
    assert "later: rich.markdown True" in done.stdout


_HEAVY_PROBE = """
import sys
from containerops.cli.main import main
sys.argv = ["coops", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
heavy = ("sqlalchemy", "docker", "containerops.engine.runner", "asyncio")
print("heavy:", sorted(m for m in heavy if m in sys.modules))
"""


@pytest.mark.parametrize("command", ["--help", "validate"])
def test_help_and_validate_load_neither_the_store_nor_docker(command: str, tmp_path: Path) -> None:
    """SQLAlchemy, the Docker SDK, the engine and asyncio are most of the CLI's start-up (item
    21 of the hardening issue): the commands that need none of them must not import them."""
    arguments = ["--help"] if command == "--help" else ["validate", str(write(tmp_path, LOCAL_FLOW))]
    done = _probe(_HEAVY_PROBE, arguments, COOPS_HOME=str(tmp_path / "home"))
    assert "heavy: []" in done.stdout, done.stdout + done.stderr


_BUILT_PROBE = """
import sys
from containerops.cli import main as cli
sys.argv = ["coops", *sys.argv[1:]]
root = cli.app_for(sys.argv[1:2])
try:
    cli.main()
except SystemExit:
    pass
group = next(g for g in root.registered_groups if g.name == "component").typer_instance
print("built:", sorted(c.name or c.callback.__name__ for c in group.registered_commands))
"""


@pytest.mark.parametrize(
    ("arguments", "built"),
    [
        (["component", "pull", "--help"], ["pull"]),
        (["component", "--help"], None),  # the group's help lists every command
        (["component", "pul"], None),  # and a mistyped one gets its did-you-mean
    ],
)
def test_a_call_builds_only_the_command_it_reaches_in_a_group(
    arguments: list[str], built: list[str] | None
) -> None:
    """Typer builds every command of a group it builds (their type hints: start-up a pull
    through a server pays, bench/component_transfer.py); a call naming one builds that one."""
    done = _probe(_BUILT_PROBE, arguments, COLUMNS="100")
    names = done.stdout.rpartition("built: ")[2].strip()
    if built is not None:
        assert names == repr(built), done.stdout
        assert "Pull a component's image" in done.stdout
    else:
        assert names.count(",") >= 8, done.stdout
        assert ("Did you mean 'pull'" in done.stderr) == ("pul" in arguments), done.stderr


def test_a_local_run_does_not_load_the_kubernetes_client(tmp_path: Path) -> None:
    """A run pays only for what it uses: the Kubernetes client (~0.3 s of imports) is for runs
    on Kubernetes (and settling them), not for every `coops run`."""
    probe = _HEAVY_PROBE.replace(
        'heavy = ("sqlalchemy", "docker", "containerops.engine.runner", "asyncio")',
        'heavy = ("kubernetes",)',
    )
    arguments = ["run", "--executor", "local", str(write(tmp_path, LOCAL_FLOW))]
    done = _probe(probe, arguments, COOPS_HOME=str(tmp_path / "home"))
    assert "heavy: []" in done.stdout, done.stdout + done.stderr


def test_run_json_then_inspect(tmp_path: Path) -> None:
    flow = write(tmp_path, LOCAL_FLOW)
    result = coops(
        "run", str(flow), "--executor", "local", "--json", "--set", "GREETING=hello", home=tmp_path, check=0
    )
    document = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert document["uri"] == "test/cli/local" and document["number"] == 1 and document["status"] == "success"
    assert document["reason"] is None
    jobs = {j["path"]: j for j in document["jobs"]}
    assert list(jobs) == ["build.one.say", "build.two.other", "use.read.echo"]
    say = jobs["build.one.say"]
    assert say["status"] == "success" and say["exit_code"] == 0 and say["attempts"] == 1
    assert say["outputs"] == {"CO_OUT": "a b=c"}
    assert set(say) == {
        "path",
        "status",
        "exit_code",
        "attempts",
        "outputs",
        "reason",
        "image",
        "started_at",
        "finished_at",
    }
    assert say["image"] is None  # the local executor runs commands, not images
    run_id = str(document["id"])

    logs = coops("logs", run_id, home=tmp_path, check=0).stdout.splitlines()
    assert "[build.one.say] hello two words" in logs
    assert "[build.one.say] ! oops" in logs
    assert "[use.read.echo] got a b=c" in logs
    only = coops("logs", "test/cli/local#1", "--job", "use.read.echo", home=tmp_path, check=0).stdout
    assert only == "got a b=c\n"
    bad_job = coops("logs", run_id, "--job", "no.such.job", home=tmp_path, check=2)
    assert "has no job 'no.such.job'" in bad_job.stderr

    listed = json.loads(coops("runs", "list", "--json", home=tmp_path, check=0).stdout)
    assert [(r["id"], r["status"], r["executor"]) for r in listed] == [(int(run_id), "success", "local")]
    shown = json.loads(coops("runs", "show", run_id, "--json", home=tmp_path, check=0).stdout)
    assert [j["status"] for j in shown["jobs"]] == ["success"] * 3
    assert shown["attempts"][0]["exit_code"] == 0
    assert shown["history"][0]["status"] == "pending" and shown["history"][-1]["status"] == "success"
    table = coops("runs", "show", run_id, home=tmp_path, check=0).stdout
    assert "build.one.say" in table and "CO_OUT=a b=c" in table
    assert "test/cli/local" in coops("runs", "list", home=tmp_path, check=0).stdout
    assert coops("runs", "show", run_id, "--flow", home=tmp_path, check=0).stdout == LOCAL_FLOW
    missing = coops("runs", "show", "4242", home=tmp_path, check=2)
    assert "no run 4242" in missing.stderr


def test_failure_exits_1_and_says_why(tmp_path: Path) -> None:
    flow = write(
        tmp_path,
        "uri: test/cli/fail\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n"
        "          - {name: bad, command: [sh, -c, 'exit 7']}\n          - {name: next, command: [true]}\n",
    )
    result = coops("run", str(flow), "--executor", "local", home=tmp_path, check=1)
    assert "s.a.bad failed: exit code 7" in result.stdout
    assert "coops logs 1 --job s.a.bad" in result.stdout
    document = json.loads(
        coops("run", str(flow), "--executor", "local", "--json", home=tmp_path, check=1).stdout
    )
    assert document["status"] == "failure" and document["number"] == 2
    assert [(j["path"], j["status"]) for j in document["jobs"]] == [
        ("s.a.bad", "failure"),
        ("s.a.next", "skipped"),
    ]


def test_invalid_flow_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    flow = write(
        tmp_path,
        "uri: test/cli/bad\nstages:\n  - name: s\n    sequencng: parallel\n    actions:\n"
        "      - name: a\n        jobs:\n          - {name: j, command: [true], timeout: soon}\n",
    )
    result = coops("run", str(flow), "--executor", "local", home=tmp_path, check=2)
    assert f"{flow}:4:5" in result.stderr and "did you mean 'sequencing'" in result.stderr
    assert f"{flow}:8:" in result.stderr and "timeout" in result.stderr
    assert "nothing was started" in result.stderr
    assert json.loads(coops("runs", "list", "--json", home=tmp_path, check=0).stdout) == []
    validated = coops("validate", str(flow), home=tmp_path, check=2)
    assert "invalid" in validated.stderr
    assert coops("run", str(tmp_path / "absent.yaml"), home=tmp_path).returncode == 2
    assert coops("run", str(flow), "--executor", "nope", home=tmp_path).returncode == 2


def test_bad_set_and_callback_service_are_refused(tmp_path: Path) -> None:
    flow = write(tmp_path, LOCAL_FLOW)
    bad = coops("run", str(flow), "--executor", "local", "--set", "1BAD=x", home=tmp_path, check=2)
    assert "--set '1BAD=x'" in bad.stderr
    waiting = write(
        tmp_path,
        "uri: test/cli/callback\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n"
        "          - {name: j, type: service, service: {url: 'http://127.0.0.1:9/', callback: true}}\n",
        "callback.yaml",
    )
    result = coops("run", str(waiting), "--executor", "local", home=tmp_path, check=2)
    assert "waits for a callback" in result.stderr and "server" in result.stderr
    assert json.loads(coops("runs", "list", "--json", home=tmp_path, check=0).stdout) == []
    coops("validate", str(waiting), home=tmp_path, check=0)


def test_every_pilotage_flow_validates(tmp_path: Path) -> None:
    files = sorted(PILOTAGE.glob("*.yml"))
    assert len(files) == 80, f"expected the 80 original flows in {PILOTAGE}"
    result = coops("validate", "--json", *map(str, files), home=tmp_path, check=0)
    report = json.loads(result.stdout)
    assert len(report) == 80 and all(entry["valid"] for entry in report)


def test_logs_follow_sees_lines_while_the_run_goes_on(tmp_path: Path) -> None:
    flow = write(
        tmp_path,
        "uri: test/cli/follow\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n"
        "          - name: slow\n"
        "            command: [sh, -c, 'for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done']\n",
    )
    env = {**os.environ, "COOPS_HOME": str(tmp_path)}
    runner = subprocess.Popen(
        [*COOPS, "run", str(flow), "--executor", "local"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until the run exists
            listed = json.loads(coops("runs", "list", "--json", home=tmp_path, check=0).stdout)
            if listed and listed[0]["status"] == "running":
                break
            time.sleep(0.05)
        followed = coops("logs", "1", "-f", home=tmp_path, check=0)
        assert followed.stdout.splitlines() == [f"[s.a.slow] line {i}" for i in range(1, 6)]
    finally:
        assert runner.wait(timeout=60) == 0


@pytest.mark.docker
def test_sigint_cancels_and_leaves_no_container(tmp_path: Path, docker_ready: None) -> None:
    import docker

    flow = write(
        tmp_path,
        "uri: test/cli/cancel\nstages:\n  - name: s\n    sequencing: parallel\n    actions:\n"
        "      - name: a\n        jobs:\n"
        f"          - {{name: sleepy, endpoint: '{BUSYBOX}', command: [sleep, '99']}}\n"
        "      - name: b\n        jobs:\n"
        f"          - {{name: sleepy, endpoint: '{BUSYBOX}', command: [sleep, '99']}}\n"
        f"          - {{name: never, endpoint: '{BUSYBOX}', command: ['true']}}\n",
    )
    env = {**os.environ, "COOPS_HOME": str(tmp_path)}
    runner = subprocess.Popen(
        [*COOPS, "run", str(flow), "--json", "--network", "host"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = docker.from_env()
    label = {"label": ["containerops.managed=true", f"containerops.home={tmp_path.resolve()}"]}
    before = {c.id for c in client.containers.list(all=True, filters=label)}

    def started() -> list[str]:
        return [c.id for c in client.containers.list(filters=label) if c.id not in before]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(started()) < 2:
        time.sleep(0.1)
    ours = started()
    assert len(ours) == 2, "the two jobs never started"
    runner.send_signal(signal.SIGINT)
    stdout, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 130, stderr
    document = json.loads(stdout)
    assert document["status"] == "cancelled" and document["reason"] == "cancelled by SIGINT"
    assert [j["status"] for j in document["jobs"]] == ["cancelled", "cancelled", "skipped"]
    assert [c.id for c in client.containers.list(all=True, filters=label) if c.id in ours] == []
    shown = json.loads(coops("runs", "show", "1", "--json", home=tmp_path, check=0).stdout)
    assert shown["status"] == "cancelled"


@pytest.mark.docker
def test_cleanup_removes_what_a_killed_run_left(tmp_path: Path, docker_ready: None) -> None:
    import docker

    client = docker.from_env()
    home = str(tmp_path.resolve())
    ours = {"label": ["containerops.managed=true", f"containerops.home={home}"]}
    labels = {"containerops.managed": "true", "containerops.home": home}
    left = client.containers.create(BUSYBOX, ["sleep", "60"], labels=labels)
    left.start()
    result = coops("cleanup", home=tmp_path, check=0)
    assert "removed 1 container" in result.stderr
    assert client.containers.list(all=True, filters=ours) == []


def test_sigterm_cancels_local_jobs_and_their_children(tmp_path: Path) -> None:
    marker = f"coops-sigterm-{os.getpid()}"
    flow = write(
        tmp_path,
        "uri: test/cli/term\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n"
        f"          - {{name: slow, command: [sh, -c, 'sleep 97 & echo {marker}; wait']}}\n"
        "          - {name: next, command: ['true']}\n",
    )
    env = {**os.environ, "COOPS_HOME": str(tmp_path)}
    runner = subprocess.Popen(
        [*COOPS, "run", str(flow), "--executor", "local", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = json.loads(coops("runs", "list", "--json", home=tmp_path, check=0).stdout)
        if listed and listed[0]["status"] == "running":
            logs = coops("logs", str(listed[0]["id"]), home=tmp_path, check=0).stdout
            if marker in logs:
                break
        time.sleep(0.1)
    runner.send_signal(signal.SIGTERM)
    stdout, stderr = runner.communicate(timeout=30)
    assert runner.returncode == 130, stderr
    document = json.loads(stdout)
    assert (document["status"], document["reason"]) == ("cancelled", "cancelled by SIGTERM")
    assert [j["status"] for j in document["jobs"]] == ["cancelled", "skipped"]
    leftover = subprocess.run(["pgrep", "-f", "sleep 97"], capture_output=True, text=True).stdout
    assert leftover == "", "the job's child process outlived the cancel"


def test_docker_engine_down_fails_the_run_with_a_clear_reason(tmp_path: Path) -> None:
    flow = write(
        tmp_path,
        "uri: test/cli/nodocker\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n"
        f"          - {{name: j, endpoint: '{BUSYBOX}', command: ['true']}}\n",
    )
    result = coops(
        "run",
        str(flow),
        "--json",
        home=tmp_path,
        extra_env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"},
    )
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "failure"
    assert document["reason"].startswith("cannot reach the Docker Engine")
    assert [(j["status"], j["reason"]) for j in document["jobs"]] == [
        ("skipped", f"skipped: {document['reason']}")
    ]


def test_run_json_on_an_invalid_flow_prints_the_problems_as_json(tmp_path: Path) -> None:
    flow = write(
        tmp_path,
        "uri: a/b/c\nstages:\n  - name: s\n    actions: [{name: a, jobs: [{name: j, retries: x}]}]\n",
    )
    result = coops("run", str(flow), "--json", home=tmp_path / "home", check=2)
    document = json.loads(result.stdout)
    assert document["file"] == str(flow) and document["valid"] is False
    problem = next(d for d in document["diagnostics"] if "retries" in d["message"])
    assert (problem["severity"], problem["file"], problem["line"]) == ("error", str(flow), 4)


def test_when_takes_lua_literals_as_written(tmp_path: Path) -> None:
    """`when: "false"` is a Lua expression (never run), not a mistyped on_success."""
    flow = write(
        tmp_path,
        "uri: a/b/c\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n"
        "          - {name: never, command: [echo, hi], when: 'false'}\n"
        "          - {name: always, command: [echo, hi], when: 'true'}\n",
    )
    coops("validate", str(flow), home=tmp_path / "home", check=0)
    ran = json.loads(
        coops("run", str(flow), "--executor", "local", "--json", home=tmp_path / "home", check=0).stdout
    )
    assert [(job["path"], job["status"]) for job in ran["jobs"]] == [
        ("s.a.never", "skipped"),
        ("s.a.always", "success"),
    ]


def test_validate_applies_the_checks_run_applies(tmp_path: Path) -> None:
    """What `coops run` would refuse, `coops validate` says: a job with no image for the
    docker executor (a warning, an error with --executor), a script reading a job that does
    not exist, component inputs that do not match the component's spec."""
    from containerops.component.spec import parse_spec
    from containerops.repository.catalog import Catalog
    from containerops.store import Store
    from containerops.store.components import PushRecord

    home = tmp_path / "home"
    head = "uri: a/b/c\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n"
    no_image = write(tmp_path, head + "          - {name: j, command: [echo, hi]}\n", "noimage.yaml")
    warned = coops("validate", str(no_image), home=home, check=0)
    assert (
        "has no endpoint image for the docker executor" in warned.stderr
        and "coops run refuses it" in warned.stderr
    )
    refused = coops("validate", str(no_image), "--executor", "docker", home=home, check=2)
    assert f"{no_image}:7:13: error: job 's.a.j' has no endpoint image" in refused.stderr.replace("\n", " ")
    coops("validate", str(no_image), "--executor", "local", home=home, check=0)

    script = write(
        tmp_path,
        head + '          - {name: j, command: [echo], when: \'jobs["s.a.x"].status == "success"\'}\n',
        "s.yaml",
    )
    assert 'reads jobs["s.a.x"], which is no job' in coops("validate", str(script), home=home, check=2).stderr

    home.mkdir(exist_ok=True)
    store = Store.open(f"sqlite:///{home / 'containerops.db'}")
    spec = parse_spec(
        "namespace: acme\nname: tool\nversion: 1.0.0\ninputs:\n  - {name: level, type: integer}\n"
    )
    Catalog(store).record(
        PushRecord(
            "acme",
            "tool",
            "1.0.0",
            "sha256:" + "1" * 64,
            "sha256:i",
            spec.model_dump(mode="json", exclude_none=True),
            "",
        )
    )
    store.close()
    used = write(
        tmp_path, head + "          - {name: j, component: acme/tool, inputs: {level: high}}\n", "uses.yaml"
    )
    invalid = coops("validate", str(used), home=home, check=2).stderr.replace("\n", " ")
    assert f"{used}:7:" in invalid and "input 'level'" in invalid
    good = write(
        tmp_path, head + "          - {name: j, component: acme/tool, inputs: {level: 3}}\n", "good.yaml"
    )
    coops("validate", str(good), home=home, check=0)


MATRIX_FLOW = """\
uri: test/cli/matrix
stages:
  - name: test
    actions:
      - name: fan
        jobs:
          - name: shard
            matrix: {n: {count: 40}}
            strategy: {max_parallel: 8}
            command: [sh, -c, 'echo "shard $CO_MATRIX_N"; [ "$CO_MATRIX_N" != 7 ]']
            allow_failure: true
"""


def test_coops_run_shows_a_matrix_as_one_group(tmp_path: Path) -> None:
    """Plain output (not a terminal) tells the group and only the instances that failed;
    --json holds every instance, each naming its group, and the group its counts."""
    flow = write(tmp_path, MATRIX_FLOW)
    plain = coops("run", str(flow), "-e", "local", home=tmp_path / "home", check=0)
    lines = [line for line in plain.stdout.splitlines() if "test.fan.shard" in line]
    assert any("✘ failure   test.fan.shard[n=7]" in line for line in lines), plain.stdout
    assert not any("shard[n=3]" in line for line in lines)  # successes are counted, not listed
    assert any("1 of 40 instances failed (1 failure, 39 success)" in line for line in lines), plain.stdout
    assert "40 instances: 1 failure, 39 success" in plain.stdout  # the closing tree
    ran = coops("run", str(flow), "-e", "local", "--json", home=tmp_path / "home", check=0)
    document = json.loads(ran.stdout)
    group, *instances = document["jobs"]
    assert group["matrix"] == {"instances": 40, "counts": {"failure": 1, "success": 39}}
    assert len(instances) == 40 and {job["group"] for job in instances} == {"test.fan.shard"}
    one = "test.fan.shard[n=12]"
    logs = coops("logs", str(document["id"]), "--job", one, home=tmp_path / "home", check=0)
    assert logs.stdout == "shard 12\n"
