"""What the local and dummy executors make of a job spec, without running anything."""

from __future__ import annotations

import pytest

from containerops.executors.base import WORKSPACE_ENV, ExecutorError, JobSpec
from containerops.executors.dummy.convert import behaviour_of
from containerops.executors.local.convert import RUN_ENV, process_config


def spec(**fields: object) -> JobSpec:
    values: dict[str, object] = {
        "run_id": "r1",
        "path": "build.unit.test",
        "attempt": 1,
        "image": None,
        "command": ["make"],
        "env": {},
    }
    values.update(fields)
    return JobSpec(**values)  # type: ignore[arg-type]


def test_a_local_job_gets_the_machine_environment_under_its_own_and_the_run_label() -> None:
    config = process_config(
        spec(env={"PATH": "/job/bin", "CO_X": "1"}, memory=2**20),
        workspace="/tmp/ws",
        environ={"PATH": "/usr/bin", "HOME": "/root"},
    )
    assert config.argv == ("make",)
    assert config.env == {
        "PATH": "/job/bin",
        "HOME": "/root",
        "CO_X": "1",
        RUN_ENV: "r1",
        WORKSPACE_ENV: "/tmp/ws",
    }
    assert config.memory == 2**20
    assert process_config(spec(memory=0), workspace=None, environ={}).memory is None


def test_a_local_job_needs_a_command() -> None:
    with pytest.raises(ExecutorError, match=r"build\.unit\.test has none; add `command:`"):
        process_config(spec(command=None), workspace=None, environ={})


def test_the_dummy_reads_what_to_pretend_from_the_environment() -> None:
    assert behaviour_of(spec()) == behaviour_of(spec(env={}))
    plain = behaviour_of(spec())
    assert (plain.exit_code, plain.sleep, plain.outputs, plain.lines, plain.oom) == (0, 0.0, {}, 0, False)
    said = behaviour_of(
        spec(env={"CO_DUMMY_EXIT_CODE": "3", "CO_DUMMY_OUTPUTS": "A=1 B=two", "CO_DUMMY_LINES": "5"})
    )
    assert (said.exit_code, said.outputs, said.lines) == (3, {"A": "1", "B": "two"}, 5)
    assert behaviour_of(spec(env={"CO_DUMMY_OOM": "true"})).exit_code == 137
    assert behaviour_of(spec(env={"CO_DUMMY_OOM": "true", "CO_DUMMY_EXIT_CODE": "0"})).exit_code == 0
    retried = {"CO_DUMMY_PASS_ON_ATTEMPT": "3"}
    assert [behaviour_of(spec(env=retried, attempt=n)).exit_code for n in (1, 2, 3)] == [1, 1, 0]
