"""The last step of starting a run: the engine prepared with what the earlier steps found.

The CLI (``coops run``), the server (``RunManager.submit``) and component tests
(``coops component test``) all end here, so that a run's resolved components are
recorded with its parameters and their secret inputs masked the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from containerops.engine.concurrency import group_key
from containerops.engine.prepared import PreparedRun
from containerops.engine.runner import Engine
from containerops.model.flow import Flow

if TYPE_CHECKING:
    from containerops.repository.usage import Resolution


def prepare_run(
    engine: Engine,
    flow: Flow,
    *,
    source: str,
    fmt: str,
    components: Resolution | None = None,
    params: Mapping[str, Any] | None = None,
    secrets: Iterable[str] = (),
    secret_values: Mapping[str, str] | None = None,
    flow_version: tuple[int, int] | None = None,
    reuse_from: int | None = None,
    run_columns: Mapping[str, Any] | None = None,
) -> PreparedRun:
    """Record a pending run of ``flow`` and prepare ``engine`` for it (see ``Engine.prepare``).

    ``components`` is what :func:`.resolve_flow_components` gave (None: the flow has no
    component jobs): the versions its jobs resolved to are recorded in the run's
    parameters (``components``), and its secret inputs are masked with ``secrets``.
    Raises what ``Engine.prepare`` raises (``MissingSecret``...), recording nothing.
    """
    run_params = dict(params or {})
    masked = list(secrets)
    columns = dict(run_columns or {})
    # its group is known from the start: its place in the group's queue is its id
    columns["concurrency_group"] = group_key(flow, run_params.get("set") or {})
    if components is not None:
        run_params["components"] = components.components
        masked += components.secrets
    return engine.prepare(
        flow,
        source=source,
        fmt=fmt,
        params=run_params,
        secrets=masked,
        secret_values=secret_values,
        flow_version=flow_version,
        reuse_from=reuse_from,
        run_columns=columns,
    )
