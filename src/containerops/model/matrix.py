"""``matrix:`` and ``strategy:`` on a job: one job fanned out over many values.

::

    matrix:
      shard: {count: 1000}            # 0..999; or a list: [a, b]; several keys = their product
      engine: [tikv, unistore]
      include: [{shard: 0, engine: mock}]
      exclude: [{engine: unistore, shard: 999}]
      # or: from: "plan.split.list[CO_SHARDS]"  (a JSON list printed by an earlier job)
    strategy: {max_parallel: 64, fail_fast: false, max_instances: 20000}

Each instance is an ordinary job whose path ends with its values
(``test.mysql.shard[shard=3,engine=tikv]``), with ``CO_MATRIX_<KEY>`` (and
``CO_MATRIX_INDEX``, ``CO_MATRIX_COUNT``) in its environment and ``${{ matrix.KEY }}``
filled in its environments, inputs, command, endpoint and service fields. The job
written in the flow stays as the group: its status sums up its instances', and its
outputs are JSON lists of theirs, in instance order.

Argo Workflows' ``withItems``/``withParam`` and GitHub Actions' ``strategy.matrix`` are
the models: the product of the axes, minus ``exclude`` (entries that match on every key
they give), plus ``include`` (whole instances).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from yaml.nodes import MappingNode, Node

from containerops.model.flow import Job, Position
from containerops.model.paths import instance_suffix
from containerops.model.reading import NULL_TAG, Reader, did_you_mean
from containerops.model.references import EXPRESSION, MATRIX_REF
from containerops.model.service import Service

#: Instances one matrix makes at most unless ``strategy.max_instances`` says otherwise.
DEFAULT_MAX_INSTANCES = 10_000
#: The most ``max_instances`` may allow: a bound on what one job makes the engine hold.
HARD_MAX_INSTANCES = 1_000_000
MATRIX_KEYS = ("include", "exclude", "from")
STRATEGY_KEYS = ("max_parallel", "fail_fast", "max_instances")
#: The longest job path the store keeps.
MAX_PATH = 255
#: Names an axis may not take: the matrix's own keys and what every instance is given.
RESERVED = frozenset({*MATRIX_KEYS, "index", "count"})
AXIS = re.compile(r"[a-z_][a-z0-9_]{0,39}")
AXIS_RULE = "use 1 to 40 lowercase letters, digits and '_', not starting with a digit"
#: A text that uses ``${{ matrix.* }}`` (filled per instance).
MATRIX_REFERENCE = re.compile(r"\$\{\{\s*matrix\.")
#: Aggregates of a matrix job's outputs: ``stage.action.job[KEY|sum]``.
AGGREGATES = ("count", "sum", "all", "any", "min", "max")


class MatrixError(ValueError):
    """A matrix that cannot be expanded at run time (a ``from:`` list that is not one)."""


@dataclass(frozen=True, slots=True)
class Matrix:
    #: (key, values) in the order written; the first key varies slowest.
    axes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    include: tuple[tuple[tuple[str, str], ...], ...] = ()
    exclude: tuple[tuple[tuple[str, str], ...], ...] = ()
    #: ``from: stage.action.job[KEY]``: (job path, output key) whose JSON list makes the instances.
    source: tuple[str, str] | None = None
    max_parallel: int | None = None
    fail_fast: bool = False
    max_instances: int = DEFAULT_MAX_INSTANCES
    position: Position | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The names ``${{ matrix.NAME }}`` may use (besides index and count)."""
        keys = [key for key, _ in self.axes]
        for entry in self.include:
            keys.extend(key for key, _ in entry if key not in keys)
        return tuple(keys)

    def size(self) -> int:
        """How many instances a static matrix makes, without making them."""
        product = math.prod(len(values) for _, values in self.axes) if self.axes else 0
        return product + len(self.include)  # an upper bound when exclude or duplicates remove some

    def combinations(self) -> list[dict[str, str]]:
        """Every instance's values, in order: the product minus ``exclude`` plus ``include``."""
        keys = [key for key, _ in self.axes]
        combos: list[dict[str, str]] = []
        seen: set[tuple[tuple[str, str], ...]] = set()
        if keys:
            for values in itertools.product(*(values for _, values in self.axes)):
                combo = dict(zip(keys, values, strict=True))
                if not any(_matches(combo, entry) for entry in self.exclude):
                    combos.append(combo)
                    seen.add(tuple(combo.items()))
        for entry in self.include:
            if entry not in seen:
                combos.append(dict(entry))
                seen.add(entry)
        return combos


def _matches(combo: Mapping[str, str], entry: tuple[tuple[str, str], ...]) -> bool:
    return all(combo.get(key) == value for key, value in entry)


def from_output(text: str, source: str) -> list[dict[str, str]]:
    """The instances a ``from:`` output makes: a JSON list of scalars (``matrix.item``) or of
    flat objects (their keys). Raises :class:`MatrixError` saying what is wrong."""
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise MatrixError(f"matrix from {source}: not a JSON list ({exc})") from exc
    if not isinstance(items, list):
        raise MatrixError(f"matrix from {source}: a JSON list was expected, got {type(items).__name__}")
    combos: list[dict[str, str]] = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            bad = [key for key in item if not isinstance(key, str) or not AXIS.fullmatch(key)]
            if bad or any(key in RESERVED for key in item):
                raise MatrixError(
                    f"matrix from {source}: item {index} has a key that is not valid: {AXIS_RULE}"
                )
            combo = {key: _scalar(value, source, index) for key, value in item.items()}
        else:
            combo = {"item": _scalar(item, source, index)}
        combos.append(combo)
    return combos


def _scalar(value: object, source: str, index: int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MatrixError(f"matrix from {source}: item {index} holds {type(value).__name__}, not a single value")


_FALSE = frozenset({"", "0", "false", "no", "off"})


def aggregate(name: str, listed: str) -> str:
    """``|count``, ``|sum``, ``|all``, ``|any``, ``|min``, ``|max`` of a matrix job's output (the
    JSON list of its instances' values; null where one did not print it). ``count`` counts the
    values given; ``all``/``any`` read "", 0, false, no and off as false and give true/false;
    ``sum``/``min``/``max`` need numbers (``ValueError`` saying which value is not one)."""
    values = [value for value in json.loads(listed) if value is not None]
    if name == "count":
        return str(len(values))
    if name in ("all", "any"):
        truths = [str(value).strip().lower() not in _FALSE for value in values]
        return "true" if (all(truths) if name == "all" else any(truths)) else "false"
    numbers: list[int | float] = []
    for value in values:
        try:
            numbers.append(int(value) if str(value).strip().lstrip("+-").isdigit() else float(value))
        except ValueError:
            raise ValueError(f"|{name} needs numbers, and {str(value)[:40]!r} is not one") from None
    if name == "sum":
        return str(sum(numbers))
    if not numbers:
        return ""
    return str(min(numbers) if name == "min" else max(numbers))


def instances(job: Job, combos: list[dict[str, str]]) -> list[Job]:
    """One ordinary job per combination: its own path, ``CO_MATRIX_*``, and
    ``${{ matrix.KEY }}`` filled in wherever a job's values may use it."""
    count = len(combos)
    made: list[Job] = []
    for index, combo in enumerate(combos):
        context = {**combo, "index": str(index), "count": str(count)}
        suffix = instance_suffix(combo)
        env = {key: fill(text, context) for key, text in job.environments.items()}
        env.update({f"CO_MATRIX_{key.upper()}": value for key, value in context.items()})
        made.append(
            dataclasses.replace(
                job,
                name=job.name + suffix,
                path=job.path + suffix,
                matrix=None,
                environments=env,
                inputs={key: fill(text, context) for key, text in job.inputs.items()},
                command=None if job.command is None else [fill(part, context) for part in job.command],
                endpoint=None if job.endpoint is None else fill(job.endpoint, context),
                service=None if job.service is None else _service(job.service, context),
            )
        )
    return made


def fill(text: str, context: Mapping[str, str], encode: bool = False) -> str:
    """``text`` with each ``${{ matrix.KEY }}`` replaced (percent-encoded as one URL segment
    or query value with ``encode``); any other reference is left for the engine."""
    if "${{" not in text:
        return text

    def value(match: re.Match[str]) -> str:
        ref = MATRIX_REF.match(match["body"])
        if ref is None or ref["name"] not in context:
            return match[0]
        found = context[ref["name"]]
        return quote(found, safe="") if encode else found

    return EXPRESSION.sub(value, text)


def _service(service: Service, context: Mapping[str, str]) -> Service:
    return dataclasses.replace(
        service,
        url=fill(service.url, context, encode=True),
        headers={key: fill(text, context) for key, text in service.headers.items()},
        body=_fill_data(service.body, context),
    )


def _fill_data(data: object, context: Mapping[str, str]) -> object:
    if isinstance(data, str):
        return fill(data, context)
    if isinstance(data, dict):
        return {key: _fill_data(value, context) for key, value in data.items()}
    if isinstance(data, list):
        return [_fill_data(item, context) for item in data]
    return data


def unresolved_matrix(job: Job) -> str | None:
    """A ``${{ matrix.NAME }}`` an instance still holds (its item had no such key), or None."""
    return next((name for text in job.texts() for name in matrix_names(text)), None)


def matrix_names(text: str) -> Iterator[str]:
    """The names ``text`` uses as ``${{ matrix.NAME }}``."""
    for match in EXPRESSION.finditer(text):
        ref = MATRIX_REF.match(match["body"])
        if ref is not None:
            yield ref["name"]


# -- reading ------------------------------------------------------------------


def read_matrix(r: Reader, node: Node, where: str, position: Position) -> Matrix | None:
    """``matrix:`` as written; None (after reporting) when it cannot be used."""
    fields = r.mapping(node, where, "a matrix", MATRIX_KEYS, any_key=True)
    if fields is None:
        return None
    axes: list[tuple[str, tuple[str, ...]]] = []
    include: list[tuple[tuple[str, str], ...]] = []
    exclude: list[tuple[tuple[str, str], ...]] = []
    source: tuple[str, str] | None = None
    for name, (key, value) in fields.items():
        item_where = f"{where}.{name}"
        if name == "from":
            source = _read_source(r, value, item_where)
        elif name in ("include", "exclude"):
            entries = include if name == "include" else exclude
            for index, item in enumerate(r.sequence(value, item_where, name) or []):
                entry = _read_entry(r, item, f"{item_where}[{index}]")
                if entry is not None:
                    entries.append(entry)
        elif name in RESERVED or not AXIS.fullmatch(name):
            why = (
                "is reserved (every instance has matrix.index and matrix.count)"
                if name in RESERVED
                else (f"is not valid: {AXIS_RULE}")
            )
            r.error(key, item_where, f"matrix key '{name}' {why}{did_you_mean(name, MATRIX_KEYS)}")
        else:
            values = _read_axis(r, value, item_where, name)
            if values is not None:
                axes.append((name, values))
    if source is not None and (axes or include or exclude):
        r.error(
            node, where, "a matrix 'from:' an earlier job's list stands alone: no keys, include or exclude"
        )
        return None
    if source is None and not axes and not include:
        r.error(node, where, "a matrix needs at least one key with values (or include, or from)")
        return None
    known = {key for key, _ in axes}
    for index, entry in enumerate(include):
        missing = [key for key in known if key not in dict(entry)]
        if missing:
            r.error(
                node,
                f"{where}.include[{index}]",
                f"an include entry must give every key: {', '.join(missing)} missing",
            )
    for index, entry in enumerate(exclude):
        unknown = [key for key, _ in entry if key not in known]
        if unknown:
            r.error(
                node, f"{where}.exclude[{index}]", f"exclude names no key of the matrix: {', '.join(unknown)}"
            )
    return Matrix(tuple(axes), tuple(include), tuple(exclude), source, position=position)


def _read_axis(r: Reader, node: Node, where: str, name: str) -> tuple[str, ...] | None:
    if isinstance(node, MappingNode):  # {count: N}
        fields = r.mapping(node, where, f"matrix key '{name}'", ("count",))
        if fields is None:
            return None
        if "count" not in fields:
            r.error(node, where, f"matrix key '{name}' as a mapping needs count: N (0 to N-1)")
            return None
        count = r.integer(fields["count"][1], f"{where}.count", "count", 1, HARD_MAX_INSTANCES)
        return None if count is None else tuple(str(n) for n in range(count))
    items = r.sequence(node, where, f"matrix key '{name}'")
    if items is None:
        return None
    if not items:
        r.error(node, where, f"matrix key '{name}' has no values")
        return None
    values: list[str] = []
    seen: dict[str, Node] = {}
    for index, item in enumerate(items):
        text = r.stringify(item, f"{where}[{index}]", f"a value of matrix key '{name}'")
        if text is not None and r.first_time(
            seen, text, item, f"{where}[{index}]", f"value '{text}' is given twice"
        ):
            values.append(text)
    return tuple(values)


def _read_entry(r: Reader, node: Node, where: str) -> tuple[tuple[str, str], ...] | None:
    fields = r.mapping(node, where, "an include or exclude entry", (), any_key=True)
    if fields is None:
        return None
    entry: list[tuple[str, str]] = []
    for name, (key, value) in fields.items():
        if not AXIS.fullmatch(name) or name in RESERVED:
            r.error(key, f"{where}.{name}", f"matrix key '{name}' is not valid: {AXIS_RULE}")
            return None
        text = r.stringify(value, f"{where}.{name}", f"matrix value of '{name}'")
        if text is None:
            return None
        entry.append((name, text))
    if not entry:
        r.error(node, where, "an include or exclude entry names no key")
        return None
    return tuple(entry)


#: ``stage.action.job[KEY]``
_SOURCE = re.compile(r"([^.\[\]\s]+\.[^.\[\]\s]+\.[^.\[\]\s]+)\[([A-Za-z_][A-Za-z0-9_.-]*)\]")


def _read_source(r: Reader, node: Node, where: str) -> tuple[str, str] | None:
    text = r.text(node, where, "matrix from")
    if text is None:
        return None
    match = _SOURCE.fullmatch(text.strip())
    if match is None:
        r.error(
            node, where, f"matrix from '{text}' is not stage.action.job[KEY] (an output holding a JSON list)"
        )
        return None
    return match[1], match[2]


def read_strategy(r: Reader, node: Node, where: str, matrix: Matrix) -> Matrix:
    """``strategy:`` of a matrix job: ``max_parallel``, ``fail_fast``, ``max_instances``."""
    fields = r.mapping(node, where, "a strategy", STRATEGY_KEYS)
    if fields is None:
        return matrix
    values = {name: value for name, (_, value) in fields.items() if value.tag != NULL_TAG}
    changes: dict[str, object] = {}
    if (value := values.get("max_parallel")) is not None:
        changes["max_parallel"] = r.integer(
            value, f"{where}.max_parallel", "max_parallel", 1, HARD_MAX_INSTANCES
        )
    if (value := values.get("fail_fast")) is not None:
        changes["fail_fast"] = bool(r.boolean(value, f"{where}.fail_fast", "fail_fast"))
    if (value := values.get("max_instances")) is not None:
        most = r.integer(value, f"{where}.max_instances", "max_instances", 1, HARD_MAX_INSTANCES)
        if most is not None:
            changes["max_instances"] = most
    return dataclasses.replace(matrix, **changes)  # type: ignore[arg-type]


def check_size(r: Reader, node: Node, where: str, matrix: Matrix, path: str) -> None:
    """A static matrix larger than its cap, or whose instances' paths would be too long to
    keep, is refused before anything runs."""
    if matrix.source is not None:
        return
    size = matrix.size()
    if size <= matrix.max_instances:
        longest = max((len(instance_suffix(combo)) for combo in matrix.combinations()), default=0)
        if len(path) + longest > MAX_PATH:
            r.error(
                node,
                where,
                f"an instance's path would be {len(path) + longest} characters, more than {MAX_PATH}: "
                "use shorter keys or values",
            )
        return
    if size <= HARD_MAX_INSTANCES:  # exclude and repeated includes may bring it under
        size = len(matrix.combinations())
    if size > matrix.max_instances:
        r.error(
            node,
            where,
            f"the matrix makes {size:,} instances, more than {matrix.max_instances:,} "
            f"(raise strategy.max_instances, at most {HARD_MAX_INSTANCES:,}, to allow it)",
        )
