"""Runs of one ``concurrency:`` group take turns, across every process on the store.

When a run is created its group is resolved (``${{ env.NAME }}`` of the flow's
environments, ``--set`` values and a trigger's variables) and recorded with it, scoped
by the flow's namespace. Before its stages start, :func:`take_turn` waits, showing the
run ``pending`` "waiting for run 12 of group deploy-main", until no older run of the
group is unfinished, then takes the group (``containerops.store.concurrency``). With
``cancel_in_progress`` it first asks the older runs to stop ("cancelled by run 13
(concurrency group deploy-main)"); their owners, whichever process they are, read that
request while they run (``containerops.engine.cancelling``) and cancel, exit handlers
included. A run whose owner is gone blocks nobody: it is settled as abandoned.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass

from containerops.engine.abandoned import settle_abandoned_runs
from containerops.engine.prepared import PreparedRun
from containerops.engine.templating import Values
from containerops.model.flow import Flow
from containerops.model.references import TRIGGER_FIELDS
from containerops.store import Store
from containerops.store import concurrency as groups
from containerops.store.ownership import HEARTBEAT_EVERY
from containerops.store.values import utcnow

#: How often a waiting run looks at its group (and for a request to cancel it).
POLL = 0.5
#: The longest group the store keeps (``runs.concurrency_group``).
STORED_GROUP = 255


def group_key(flow: Flow, overrides: Mapping[str, str]) -> str | None:
    """The group a new run of ``flow`` belongs to (``namespace/group``), or None.

    ``overrides`` are the run's ``--set`` values and a trigger's variables (``trigger.ref``
    is its CO_GIT_REF); a name the run does not have resolves to nothing, as in a job's
    inputs. Filled by the engine's own templating (``engine.templating``).
    """
    if flow.concurrency is None:
        return None
    merged = {**flow.environments, **overrides}
    values = Values(env=merged, secrets={}, flow={"uri": flow.uri, "namespace": flow.namespace})
    env = values.render_all(merged)  # (a secret in them stays as written: never in a group)
    trigger = {name: env[name] for name in TRIGGER_FIELDS.values() if name in env}
    group = values.but(env=env, trigger=trigger).render(flow.concurrency.group)
    key = f"{flow.namespace}/{group}"
    if len(key) > STORED_GROUP:  # a long branch name: still one group per value
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        key = f"{key[: STORED_GROUP - len(digest) - 1]}~{digest}"
    return key


def shown(key: str) -> str:
    """A group as people wrote it: without its namespace."""
    return key.split("/", 1)[1]


async def take_turn(run: PreparedRun, store: Store, poll: float = POLL) -> bool:
    """Wait until the run holds its group (at once without one); False when the run was
    cancelled while it waited (``run.interrupt`` says why): nothing of it has run."""
    state = run.state
    if state.flow.concurrency is None:
        return True
    key = groups.group_of(store, state.id)
    if key is None:  # prepared without launch.prepare_run, which records the group
        return True
    group = shown(key)
    cancels = f"cancelled by run {state.id} (concurrency group {group})"
    said: str | None = None
    beat = time.monotonic()
    while run.interrupt is None:
        look = await asyncio.to_thread(
            _look, store, key, state.id, cancels if state.flow.concurrency.cancel_in_progress else None
        )
        if look.request is not None:
            run.interrupt = ("cancelled", look.request)
            break
        if look.taken:
            return True
        if look.blocking is not None and said != (
            reason := f"waiting for run {look.blocking} of group {group}"
        ):
            said = state.reason = reason
            run.reporter.run("pending", utcnow(), reason)
            run.reporter.flush()
            run.changed()
        if time.monotonic() - beat >= HEARTBEAT_EVERY:  # the owner is alive while it waits
            beat = time.monotonic()
            run.reporter.heartbeat(utcnow())
            run.reporter.flush()
        if look.blocking is not None:
            await asyncio.sleep(poll)
    return False


@dataclass(frozen=True, slots=True)
class _Look:
    """What one look at the group found."""

    #: Why another process asked this run to stop, if one did.
    request: str | None = None
    #: The run it waits for, or None.
    blocking: int | None = None
    taken: bool = False


def _look(store: Store, key: str, me: int, cancels: str | None) -> _Look:
    """One look at the group (in a thread: it queries, and may settle abandoned runs): ask
    the older runs to cancel (``cancels``: the reason) and take the group once it is free."""
    if (request := groups.cancel_request(store, me)) is not None:
        return _Look(request=request)
    others = [m for m in groups.members(store, key) if m.id != me]
    for member in others:
        if not member.live:  # its owner was killed: it would block the group forever
            settle_abandoned_runs(store, member.id)
    older = [m for m in others if m.live and m.id < me]
    if cancels is not None:
        groups.request_cancel(store, [m.id for m in older if m.cancel_request is None], cancels)
    seen = groups.holder(store, key)
    live = {m.id for m in others if m.live}
    blocking = seen.run_id if seen.run_id in live else (older[0].id if older else None)
    if seen.run_id == me or (blocking is None and groups.take(store, key, me, seen)):
        return _Look(taken=True)
    return _Look(blocking=blocking)
