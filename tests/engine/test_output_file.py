"""Outputs from the file ``CO_OUTPUT`` names, on the executors that run commands."""

from __future__ import annotations

import pytest

from containerops.store import Store
from tests.engine.scenarios import Behaviour, action, job, run_flow, simple_flow, stage

EXECUTORS = [
    pytest.param("local", id="local"),
    pytest.param("docker", id="docker", marks=pytest.mark.docker),
]
WRITE = (
    'echo VERSION=1.2.3 >> "$CO_OUTPUT"; printf \'NOTES<<END\\nfixed a\\nfixed b\\nEND\\n\' >> "$CO_OUTPUT"'
)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_job_writes_outputs_to_its_file_and_a_later_job_subscribes(
    store: Store, executor: str, docker_ready: None
) -> None:
    reader = job(
        "read", executor, Behaviour(script='echo "got $V"'), subscriptions=[{"s.a.write[VERSION]": "V"}]
    )
    doc = simple_flow(
        [
            stage(
                "s",
                action("a", job("write", executor, Behaviour(script=WRITE), outputs=["VERSION", "NOTES"])),
            ),
            stage("t", action("b", reader)),
        ]
    )
    state = run_flow(store, executor, doc)
    assert state.status == "success", state.reason
    assert state.jobs["s.a.write"].outputs == {"VERSION": "1.2.3", "NOTES": "fixed a\nfixed b"}
    assert "got 1.2.3" in [line.line for line in store.log_lines(state.id)]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_failed_job_keeps_its_file_outputs_and_a_wrong_file_fails_the_job(
    store: Store, executor: str, docker_ready: None
) -> None:
    failing = job("failing", executor, Behaviour(script='echo "A=1" >> "$CO_OUTPUT"', exit_code=3))
    wrong = job(
        "wrong", executor, Behaviour(script='echo "not an output" >> "$CO_OUTPUT"'), allow_failure=True
    )
    state = run_flow(store, executor, simple_flow([stage("s", action("a", wrong), action("b", failing))]))
    assert (state.jobs["s.b.failing"].status, state.jobs["s.b.failing"].outputs) == ("failure", {"A": "1"})
    assert state.jobs["s.a.wrong"].status == "failure"
    assert (
        state.jobs["s.a.wrong"].reason
        == "CO_OUTPUT line 1: not KEY=value nor KEY<<DELIMITER: 'not an output'"
    )
