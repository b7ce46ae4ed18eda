"""The environment a job's container gets: the contract's input side."""

from __future__ import annotations

from collections.abc import Mapping

from containerops.contract.codata import encode_co_data, input_env_name
from containerops.engine.templating import Values
from containerops.model.flow import Job

CO_DATA = "CO_DATA"


def filled(
    job: Job, values: Values, subscribed: Mapping[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """The job's environments and inputs with their references filled in.

    ``env.NAME`` in the job's environments is a variable of the flow's (``values.env``:
    the flow's, with ``--set`` overrides and a trigger's) or of its subscriptions; in its
    inputs, of those and the job's own. ``inputs.NAME`` in the environments is the input
    filled in (an input never names another).
    """
    values = values.but(env={**values.env, **(subscribed or {})})
    environments = values.render_all(job.environments)
    inputs = values.but(env={**values.env, **environments}).render_all(job.inputs)
    if any("inputs." in text for text in job.environments.values()):
        environments = values.but(inputs=inputs).render_all(job.environments)
    return environments, inputs


def job_environment(
    job: Job, *, subscribed: Mapping[str, str], attempt: int, values: Values
) -> tuple[dict[str, str], dict[str, str]]:
    """The variables of one attempt of ``job``, and its inputs filled in.

    Later sources win: ``CO_<KEY>`` per input, then the flow's environments
    (``values.env``: the flow's, with the run's ``--set`` overrides), then the job's,
    then subscribed outputs; ``CO_DATA`` is the job's explicit one or its inputs
    encoded; the run's identity comes last so that nothing can forge it.
    """
    environments, inputs = filled(job, values, subscribed)
    env: dict[str, str] = {input_env_name(key): value for key, value in inputs.items()}
    env.update(values.env)
    env.update(environments)
    if CO_DATA not in environments and inputs:
        env[CO_DATA] = encode_co_data(inputs)
    env.update(subscribed)
    env["CO_RUN_ID"] = values.run["id"]
    env["CO_FLOW_URI"] = values.flow["uri"]
    env["CO_JOB_PATH"] = job.path
    env["CO_ATTEMPT"] = str(attempt)
    return env, inputs
