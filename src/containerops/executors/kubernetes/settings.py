"""The Kubernetes executor's settings, from the environment (so that ``coops run``, the
server and the workers read them alike, and a Deployment sets them in its pod spec).

- ``COOPS_K8S_NAMESPACE``: the namespace jobs run in. A name (one namespace for every
  run), or a pattern with ``{namespace}`` (``coops-{namespace}``: one per coops namespace,
  the flow's first part). Unset: the kubeconfig context's, or the service account's.
- ``COOPS_K8S_STORAGE_CLASS``: the storage class of the runs' ReadWriteMany workspaces
  (unset: the cluster's default class).
- ``COOPS_K8S_WORKSPACE_SIZE``: each run's workspace claim (default ``1Gi``).
- ``COOPS_K8S_PULL_SECRET``: an existing ``kubernetes.io/dockerconfigjson`` Secret in the
  namespace, for a registry that needs credentials (``imagePullSecrets``).
- ``COOPS_K8S_TTL``: seconds a finished Job is kept should coops not remove it (default 3600).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from containerops.executors.base import ExecutorError

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Settings:
    #: A namespace, or a pattern with ``{namespace}``; None: the configuration's.
    namespace: str | None = None
    storage_class: str | None = None
    workspace_size: str = "1Gi"
    pull_secret: str | None = None
    ttl_seconds: int = 3600

    @classmethod
    def from_environment(cls) -> Settings:
        ttl = os.environ.get("COOPS_K8S_TTL", "").strip()
        if ttl and not ttl.isdigit():
            raise ExecutorError(f"COOPS_K8S_TTL must be a number of seconds, not {ttl!r}")
        return cls(
            namespace=os.environ.get("COOPS_K8S_NAMESPACE") or None,
            storage_class=os.environ.get("COOPS_K8S_STORAGE_CLASS") or None,
            workspace_size=os.environ.get("COOPS_K8S_WORKSPACE_SIZE") or "1Gi",
            pull_secret=os.environ.get("COOPS_K8S_PULL_SECRET") or None,
            ttl_seconds=int(ttl) if ttl else 3600,
        )

    def namespace_for(self, flow_uri: str, configured: str) -> str:
        """The Kubernetes namespace of a run of ``flow_uri`` (``configured``: the
        kubeconfig's or service account's, when no setting names one)."""
        pattern = self.namespace or configured
        coops_namespace = flow_uri.split("/", 1)[0].lower().replace("_", "-").replace(".", "-")
        name = pattern.replace("{namespace}", coops_namespace)
        if not _DNS_LABEL.match(name):
            raise ExecutorError(
                f"Kubernetes namespace {name!r} (COOPS_K8S_NAMESPACE={pattern!r}, flow {flow_uri}) is not "
                "a DNS label: lower-case letters, digits and '-', at most 63"
            )
        return name
