"""From a job spec to what the dummy executor pretends the job does: pure, unit-tested
without running anything (as ``executors.docker.convert`` is for containers).

The job's environment drives it:
- ``CO_DUMMY_EXIT_CODE``: the exit code (default 0);
- ``CO_DUMMY_SLEEP``: seconds the "job" takes (default 0);
- ``CO_DUMMY_OUTPUTS``: outputs to report, as ``KEY=value`` pairs in the
  ``CO_DATA`` encoding (``CO_RESULT=false`` works too);
- ``CO_DUMMY_LINES``: how many plain log lines to print first (default 0);
- ``CO_DUMMY_OOM``: ``true`` to end as if killed by the memory limit (exit code 137,
  or ``CO_DUMMY_EXIT_CODE`` when given: a child was killed, the job went on);
- ``CO_DUMMY_PASS_ON_ATTEMPT``: fail with exit code 1 before this attempt
  (``CO_ATTEMPT``), for testing retries.
"""

from __future__ import annotations

from dataclasses import dataclass

from containerops.contract.codata import decode_co_data
from containerops.executors.base import JobSpec


@dataclass(frozen=True, slots=True)
class Behaviour:
    exit_code: int
    sleep: float
    outputs: dict[str, str]
    lines: int
    oom: bool


def behaviour_of(spec: JobSpec) -> Behaviour:
    env = spec.env
    exit_code = int(env.get("CO_DUMMY_EXIT_CODE", "0") or 0)
    oom = env.get("CO_DUMMY_OOM", "").lower() == "true"
    if oom and not env.get("CO_DUMMY_EXIT_CODE"):
        exit_code = 137
    pass_on = int(env.get("CO_DUMMY_PASS_ON_ATTEMPT", "0") or 0)
    if pass_on and spec.attempt < pass_on:
        exit_code = 1
    return Behaviour(
        exit_code=exit_code,
        sleep=float(env.get("CO_DUMMY_SLEEP", "0") or 0),
        outputs=decode_co_data(env.get("CO_DUMMY_OUTPUTS", "")),
        lines=int(env.get("CO_DUMMY_LINES", "0") or 0),
        oom=oom,
    )
