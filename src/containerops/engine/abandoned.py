"""Runs whose owner is gone: stop what they left, then settle them.

A ``coops run`` or server killed with -9 leaves its runs unfinished in the store and
its containers (or job processes) running. Whoever notices first (``coops cleanup``,
``coops logs -f`` on such a run, ``coops runs cancel``, a server starting) calls
:func:`settle_abandoned_runs`: everything the run left is stopped and removed, by its
labels (containers, the workspace volume; a Kubernetes run's Jobs, Secrets and claim) and
its environment mark (processes), and the run is failed with a reason saying what happened.
A server's run is not settled that way (only when someone cancels it): a server takes it
up again, and on workers its jobs go on meanwhile.
"""

from __future__ import annotations

import logging

from containerops.executors.base import ExecutorError
from containerops.executors.docker import stop_run as stop_containers
from containerops.executors.local import stop_run as stop_processes
from containerops.executors.swarm import stop_run as stop_services
from containerops.store import Store
from containerops.store.ownership import abandoned_runs, settle_abandoned
from containerops.store.runs import get_run

log = logging.getLogger("containerops.engine")

REASON = "abandoned: the process that ran it is gone (killed, or its machine stopped)"


def stop_leftovers(run_uid: str, *, keep_workspace: bool = False, kubernetes_flow: str | None = None) -> None:
    """Stop the processes and remove the containers (and workspace, unless the run goes on
    in another process: ``keep_workspace``) of one run, on this machine; for a run on
    Kubernetes (``kubernetes_flow``: its flow's uri, which names its namespace), its Jobs in
    the cluster too."""
    stop_processes(run_uid)
    if kubernetes_flow is not None:
        # The Kubernetes client takes ~0.3 s to import: only a run on Kubernetes pays for it,
        # not every `coops run` (bench/docker_chain.py's cli_ratio, tests/cli/test_cli.py).
        from containerops.executors.kubernetes import stop_run as stop_jobs

        try:
            stop_jobs(run_uid, kubernetes_flow, keep_workspace=keep_workspace)
        except ExecutorError as error:  # no cluster configured here, or it does not answer
            log.warning("Kubernetes Jobs of run %s not deleted: %s", run_uid, error)
    try:
        stop_containers(run_uid, keep_workspace=keep_workspace)
        # when the Engine is a swarm manager: the run's services and secrets (and workspace)
        stop_services(run_uid, keep_workspace=keep_workspace)
    except ExecutorError as error:  # no Docker here: a local run has no containers to remove
        log.info("containers of run %s not looked for: %s", run_uid, error)


def settle_abandoned_runs(store: Store, only: int | None = None, *, servers: bool = False) -> list[int]:
    """Stop what abandoned runs left and fail them (just run ``only``, when given); their ids.
    A server's run is left for a server to take up, unless ``servers`` (it is cancelled)."""
    candidates = abandoned_runs(store, servers=servers)
    found = [(run_id, uid) for run_id, uid, _ in candidates if only is None or run_id == only]
    for run_id, uid in found:
        run = get_run(store, run_id, with_jobs=False)
        stop_leftovers(uid, kubernetes_flow=run.uri if run.executor == "kubernetes" else None)
    settle_abandoned(store, [run_id for run_id, _ in found], REASON)
    return [run_id for run_id, _ in found]
