"""What a worker killed with -9 left running: the processes or containers of the attempts
it lost. Each attempt a worker runs carries its claim (``COOPS_CLAIM`` in a process's
environment, the ``containerops.claim`` label on a container), so that the worker, started
again under its name, stops exactly those and nothing of another worker's."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection

from containerops.executors.base import ExecutorError, JobSpec
from containerops.executors.docker.cleanup import stop_labelled
from containerops.executors.local.cleanup import stop_marked

log = logging.getLogger("containerops.worker")

CLAIM_ENV = "COOPS_CLAIM"
LABEL_CLAIM = "containerops.claim"
#: The worker's name, as a job sees it.
WORKER_ENV = "CO_WORKER"


def marked(spec: JobSpec, claim_id: int, worker: str) -> JobSpec:
    """``spec`` carrying the claim it runs under."""
    env = spec.env | {CLAIM_ENV: str(claim_id), WORKER_ENV: worker}
    labels = spec.labels | {LABEL_CLAIM: str(claim_id)}
    return dataclasses.replace(spec, env=env, labels=labels)


def stop_claims(executor: str, claim_ids: Collection[int]) -> None:
    """Stop what runs, on this machine, under any of ``claim_ids``."""
    if not claim_ids:
        return
    if executor == "local":
        killed = stop_marked(CLAIM_ENV, [str(claim_id) for claim_id in claim_ids])
    elif executor == "docker":
        killed = 0
        for claim_id in claim_ids:
            try:
                killed += stop_labelled(f"{LABEL_CLAIM}={claim_id}")
            except ExecutorError as error:
                log.warning("containers of lost job %d not looked for: %s", claim_id, error)
    else:
        return
    if killed:
        log.warning("stopped what lost jobs left running: %d", killed)
