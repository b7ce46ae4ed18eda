"""The environment a job's container gets: the contract's input side."""

from __future__ import annotations

from collections.abc import Mapping

from containerops.contract.codata import encode_co_data, input_env_name
from containerops.engine.secrets import substitute_all
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
    secrets: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Build the variables for one attempt of ``job``.

    Later sources win: ``CO_<KEY>`` per input, then the flow's environments
    (``flow_env``: the flow's, with the run's ``--set`` overrides), then the job's,
    then subscribed outputs; ``CO_DATA`` is the job's explicit one or its inputs
    encoded; the run's identity comes last so that nothing can forge it.
    ``${{ secrets.NAME }}`` in inputs and environments becomes its value in ``secrets``,
    and ``${{ env.NAME }}`` the variable's (the flow's for the job's environments, the
    flow's and the job's for inputs), before ``CO_DATA`` is encoded (``flow_env`` comes
    already substituted).
    """
    environments = substitute_all(job.environments, secrets or {}, flow_env)
    inputs = substitute_all(job.inputs, secrets or {}, {**flow_env, **environments})
    env: dict[str, str] = {input_env_name(key): value for key, value in inputs.items()}
    env.update(flow_env)
    env.update(environments)
    if CO_DATA not in environments and inputs:
        env[CO_DATA] = encode_co_data(inputs)
    env.update(subscribed)
    env["CO_RUN_ID"] = str(run_id)
    env["CO_FLOW_URI"] = flow.uri
    env["CO_JOB_PATH"] = job.path
    env["CO_ATTEMPT"] = str(attempt)
    return env
