"""``concurrency:`` of a flow: runs that share a group run one at a time.

As GitHub Actions' ``concurrency`` and Argo's mutex: the group is a template resolved
when a run starts, so that runs of one branch queue while other branches go on::

    concurrency: {group: "deploy-${{ env.CO_GIT_REF }}", cancel_in_progress: true}
    concurrency: "deploy-${{ trigger.ref }}"    # the short form: a group, queued

A newer run of the group waits until the older ones have ended; with
``cancel_in_progress`` it cancels them instead (their exit handlers still run). The
engine (``containerops.engine.concurrency``) does it across every process on the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from yaml.nodes import MappingNode, Node

from containerops.model.reading import NULL_TAG, Reader
from containerops.model.references import EXPRESSION, parse_reference

CONCURRENCY_KEYS = ("group", "cancel_in_progress")
#: What a group may name: all known when a run is created.
GROUP_SPACES = ("env", "trigger", "flow")
#: The longest group a flow may write (a resolved one longer than the store keeps is shortened).
MAX_GROUP = 200


@dataclass(frozen=True, slots=True)
class Concurrency:
    #: The group as written: ``${{ env.NAME }}`` references are resolved when a run starts.
    group: str
    #: A newer run cancels the older unfinished runs of its group instead of waiting for them.
    cancel_in_progress: bool = False


#: Called with (node, where, text) for each text that may hold ``${{ env.NAME }}`` references.
References = Callable[[Node, str, str], None]


def read_concurrency(r: Reader, node: Node, where: str, references: References) -> Concurrency | None:
    """``concurrency:`` as written: a group, or ``{group, cancel_in_progress}``."""
    if not isinstance(node, MappingNode):
        group = _group(r, node, where, references)
        return None if group is None else Concurrency(group)
    fields = r.mapping(node, where, "concurrency", CONCURRENCY_KEYS)
    if fields is None:
        return None
    values = {key: value for key, (_, value) in fields.items() if value.tag != NULL_TAG}
    cancels = False
    if (value := values.get("cancel_in_progress")) is not None:
        cancels = bool(r.boolean(value, f"{where}.cancel_in_progress", "cancel_in_progress"))
    if "group" not in values:
        r.error(node, f"{where}.group", "concurrency needs a 'group': the runs of a group run one at a time")
        return None
    group = _group(r, values["group"], f"{where}.group", references)
    return None if group is None else Concurrency(group, cancels)


def _group(r: Reader, node: Node, where: str, references: References) -> str | None:
    text = r.text(node, where, "a concurrency group")
    if text is None:
        return None
    if not text.strip():
        r.error(node, where, "a concurrency group cannot be empty")
        return None
    if len(text) > MAX_GROUP:
        r.error(node, where, f"a concurrency group is at most {MAX_GROUP} characters, got {len(text)}")
        return None
    for match in EXPRESSION.finditer(text):
        reference = parse_reference(match["body"])
        if reference is None or reference.space in GROUP_SPACES:
            continue  # not a reference at all: said by ``references`` below
        if reference.space == "secrets":
            why = "it is stored and shown with the run"
        else:  # inputs, matrix, jobs, run: a run has none of them when its group is resolved
            why = "a group is resolved when a run is created"
        r.error(
            node,
            where,
            f"a concurrency group can use ${{{{ env.NAME }}}}, ${{{{ trigger.* }}}} and "
            f"${{{{ flow.* }}}}, not '{match[0]}': {why}",
        )
        return None
    references(node, where, text)
    return text
