"""The environment a job's container gets: the contract's input side."""

from __future__ import annotations

from collections.abc import Mapping

from containerops.contract.codata import encode_co_data, input_env_name
from containerops.model.flow import Flow, Job

CO_DATA = "CO_DATA"


def job_environment(
    flow: Flow,
    job: Job,
    *,
    subscribed: Mapping[str, str],
    run_id: int,
    attempt: int,
    flow_env: Mapping[str, str],
) -> dict[str, str]:
    """Build the variables for one attempt of ``job``.

    Later sources win: ``CO_<KEY>`` per input, then the flow's environments
    (``flow_env``: the flow's, with the run's ``--set`` overrides), then the job's,
    then subscribed outputs; ``CO_DATA`` is the job's explicit one or its inputs
    encoded; the run's identity comes last so that nothing can forge it.
    """
    env: dict[str, str] = {input_env_name(key): value for key, value in job.inputs.items()}
    env.update(flow_env)
    env.update(job.environments)
    if CO_DATA not in job.environments and job.inputs:
        env[CO_DATA] = encode_co_data(job.inputs)
    env.update(subscribed)
    env["CO_RUN_ID"] = str(run_id)
    env["CO_FLOW_URI"] = flow.uri
    env["CO_JOB_PATH"] = job.path
    env["CO_ATTEMPT"] = str(attempt)
    return env
