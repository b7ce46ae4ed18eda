"""``retries:`` of a job: how many more attempts, and how long to wait before each.

The plain integer (``retries: 2``, as the original files write it) retries at once. The
mapping form adds a backoff, as Argo Workflows' ``retryStrategy`` and Tekton's retries do::

    retries: {limit: 4, backoff: 1s, factor: 2, max_backoff: 1m, on_exit_codes: [1, 137]}

waits 1 s, 2 s, 4 s, 8 s before attempts 2 to 5 (never more than a minute), and retries
only an attempt that exited with 1 or 137 (any failure when ``on_exit_codes`` is absent).
"""

from __future__ import annotations

from dataclasses import dataclass

from yaml.nodes import MappingNode, Node

from containerops.model.quantities import parse_duration
from containerops.model.reading import NULL_TAG, Reader

#: Most attempts after the first.
MAX_RETRIES = 100
MAX_FACTOR = 10.0
RETRY_KEYS = ("limit", "backoff", "factor", "max_backoff", "on_exit_codes")


@dataclass(frozen=True, slots=True)
class Backoff:
    delay: float = 0.0  # seconds before the first retry
    factor: float = 1.0  # each later wait is this many times the one before
    max_delay: float | None = None  # no wait longer than this
    #: Retry only attempts that exited with one of these (None: any failure).
    on_exit_codes: tuple[int, ...] | None = None

    def wait_before(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the second attempt)."""
        wait = self.delay * self.factor ** (retry - 1)
        return min(wait, self.max_delay) if self.max_delay is not None else wait

    def retries_exit(self, exit_code: int | None) -> bool:
        """Whether an attempt that ended with ``exit_code`` (None: no exit code) is retried."""
        return self.on_exit_codes is None or exit_code in self.on_exit_codes


def read_retries(r: Reader, node: Node, where: str) -> tuple[int, Backoff | None]:
    """``retries:`` as written: (the retry limit, its backoff or None to retry at once)."""
    if not isinstance(node, MappingNode):
        return r.integer(node, where, "retries", 0, MAX_RETRIES) or 0, None
    fields = r.mapping(node, where, "retries", RETRY_KEYS)
    if fields is None:
        return 0, None
    values = {key: value for key, (_, value) in fields.items() if value.tag != NULL_TAG}
    if "limit" not in values:
        r.error(node, f"{where}.limit", "retries needs 'limit': how many more attempts at most")
    limit = r.integer(values["limit"], f"{where}.limit", "limit", 0, MAX_RETRIES) if "limit" in values else 0
    delay = _seconds(r, values.get("backoff"), f"{where}.backoff", "backoff")
    most = _seconds(r, values.get("max_backoff"), f"{where}.max_backoff", "max_backoff")
    factor = 1.0
    if (value := values.get("factor")) is not None:
        ok, read = r.value(value, f"{where}.factor", "factor")
        if ok and isinstance(read, int | float) and not isinstance(read, bool) and 1 <= read <= MAX_FACTOR:
            factor = float(read)
        elif ok:
            r.error(
                value, f"{where}.factor", f"factor must be a number from 1 to {MAX_FACTOR:g}, got {read!r}"
            )
    codes: tuple[int, ...] | None = None
    if (value := values.get("on_exit_codes")) is not None:
        items = r.sequence(value, f"{where}.on_exit_codes", "on_exit_codes") or []
        read_codes = [
            r.integer(item, f"{where}.on_exit_codes[{i}]", "an exit code", 0, 255)
            for i, item in enumerate(items)
        ]
        codes = tuple(code for code in read_codes if code is not None)
    return limit or 0, Backoff(delay or 0.0, factor, most, codes)


def _seconds(r: Reader, node: Node | None, where: str, what: str) -> float | None:
    return None if node is None else r.quantity(node, where, what, parse_duration)[1]
