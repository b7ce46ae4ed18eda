"""Pause stages: the decision that ends a run's wait, and how it is said.

A run that reaches a ``type: pause`` stage gets a pause row (``containerops.store.pauses``:
its stage, when it began to wait, its deadline) and the state ``paused``. ``decide`` (the
API's approve/reject route, ``coops runs approve|reject``) checks who decides and why, has
the store write it once (the first decision wins, later ones are refused), and wakes the
engine waiting on the run in this process (``containerops.engine.notify``); an engine in
another process sees it at its next poll of the store.
"""

from __future__ import annotations

from containerops.engine.notify import notify
from containerops.store import Store
from containerops.store.pauses import DecisionError, Pause, record_decision

#: The notify kind for pause decisions (keyed by run id).
KIND = "pause"
#: Decisions that let the run go on.
GOES_ON = frozenset({"approved", "elapsed"})
MAX_COMMENT = 4000
MAX_NAME = 255


def decide(store: Store, run_id: int, approved: bool, by: str, comment: str | None = None) -> Pause:
    """Approve or reject the pause ``run_id`` waits at; the first decision wins.

    Raises ``DecisionError`` (its message says why) when who decides is not named, the
    comment is too long, the run does not exist, is not paused, or was decided meanwhile.
    Safe to call from any thread.
    """
    by = by.strip()
    if not by or len(by) > MAX_NAME:
        raise DecisionError(f"who decides must be named, in at most {MAX_NAME} characters")
    if comment is not None and len(comment) > MAX_COMMENT:
        raise DecisionError(f"the comment is longer than {MAX_COMMENT} characters")
    decided = record_decision(store, run_id, approved, by, comment)
    notify(KIND, run_id)
    return decided


def describe(pause: Pause) -> str:
    """The decision in words, as the run's history and reason give it."""
    if pause.decision == "elapsed":
        after = (pause.deadline - pause.started_at).total_seconds() if pause.deadline else 0.0
        return f"stage {pause.stage}: went on by itself after {after:g} s (pause duration)"
    if pause.decision == "timeout":
        waited = ""
        if pause.deadline is not None:
            waited = f" within {(pause.deadline - pause.started_at).total_seconds():g} s"
        return f"stage {pause.stage}: nobody approved or rejected it{waited} (pause timeout)"
    said = f": {pause.comment}" if pause.comment else ""
    return f"stage {pause.stage} {pause.decision} by {pause.decided_by}{said}"
