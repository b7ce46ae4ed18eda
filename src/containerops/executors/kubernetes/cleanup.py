"""Deleting what a killed coops left in the cluster: the Jobs of one run (their pods with
them, foreground propagation), its Secrets and its workspace claim, found by the run's label.

A ``coops run`` killed with -9 never tears its run down, and the Jobs it created go on
running unowned; whoever settles the abandoned run (the next coops command or server)
calls :func:`stop_run`, as it removes the containers of a Docker run.
"""

from __future__ import annotations

from containerops.executors.base import LABEL_MANAGED, LABEL_RUN
from containerops.executors.kubernetes.client import Api, connect, explained, path
from containerops.executors.kubernetes.convert import label_value
from containerops.executors.kubernetes.settings import Settings

#: (connect, read) seconds for each call: a cluster that does not answer must not hold up
#: the settling of the run (and the command that settles it) for long.
TIMEOUT = (5.0, 30.0)


def stop_run(run_id: str, flow_uri: str, *, keep_workspace: bool = False) -> int:
    """Delete the Jobs (foreground: their pods first), the Secrets and (unless
    ``keep_workspace``) the workspace claim of run ``run_id`` of ``flow_uri``, in the namespace
    its runs use (COOPS_K8S_NAMESPACE, as the executor chose it); how many Jobs. Raises
    ``ExecutorError`` when no cluster is configured or it cannot be reached."""
    client, configured = connect()
    try:
        api = Api(client)
        namespace = Settings.from_environment().namespace_for(flow_uri, configured)
        query = [("labelSelector", f"{LABEL_MANAGED}=true,{LABEL_RUN}={label_value(run_id)}")]
        resources = ["jobs", "secrets"] + ([] if keep_workspace else ["persistentvolumeclaims"])
        with explained(f"cannot delete the Kubernetes objects of run {run_id} in namespace {namespace}"):
            jobs = api.call("GET", path("jobs", namespace), query=query, timeout=TIMEOUT).get("items") or []
            for resource in resources:
                options = [*query, ("propagationPolicy", "Foreground")]
                api.call("DELETE", path(resource, namespace), query=options, timeout=TIMEOUT)
        return len(jobs)
    finally:
        client.close()  # type: ignore[no-untyped-call]  # the generated client has no hints
