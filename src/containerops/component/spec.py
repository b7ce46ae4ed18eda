"""The component spec (``component.yaml``): what a component is, takes, gives and promises.

A component is a folder with ``component.yaml``, a ``Dockerfile`` (FROM our base
images), its code, a ``README.md`` and examples in the spec that ``coops component
test`` runs. The spec is read with the flows' position-keeping YAML reader and
checked by pydantic; every problem pydantic (or a duplicate key) finds is mapped
back to the node it concerns, so that each error says ``component.yaml:12:5``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from containerops.component.inputs import InputsInvalid, resolve_inputs
from containerops.component.values import INPUT_TYPES, InputType, to_text
from containerops.contract.codata import input_env_name
from containerops.model.diagnostics import Diagnostic, FlowInvalid, sort_diagnostics
from containerops.model.document import Document, parse_document
from containerops.model.names import KEY, KEY_RULE, NAME, SEMVER, validate_name, validate_version
from containerops.model.quantities import parse_cpu, parse_duration, parse_memory, text_pattern

SPEC_FILE = "component.yaml"
README_FILE = "README.md"
#: The namespace of the runs `coops component test` makes (`runs list` hides them by default).
TEST_NAMESPACE = "component-test"


def _text(what: str) -> Any:
    """A before-validator that refuses non-text where YAML would silently give a number."""

    def check(value: object) -> object:
        if value is None:
            return ""
        if isinstance(value, bool | int | float):
            raise ValueError(f"{what} must be text, got {value!r}; put it in quotes")
        return value

    return BeforeValidator(check)


#: What each quantity is read with, and the text forms the JSON Schema (``coops schema``) allows.
_QUANTITIES = {"cpu": parse_cpu, "memory": parse_memory, "duration": parse_duration}


def _quantity(kind: str) -> Any:
    parse = _QUANTITIES[kind]

    def check(value: object) -> object:
        return parse(value)

    written = Annotated[float, Field(ge=0)] | Annotated[str, Field(pattern=text_pattern(kind))] | None
    return BeforeValidator(check, json_schema_input_type=written)


_NAME_SCHEMA = WithJsonSchema({"type": "string", "pattern": f"^(?:{NAME.pattern})$"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResourcesSpec(_Strict):
    """Default resources of the component's container: cores and bytes, ``None`` = no limit."""

    cpu: Annotated[float | None, _quantity("cpu")] = None
    memory: Annotated[int | None, _quantity("memory")] = None


class InputSpec(_Strict):
    """One input: reaches the container as ``CO_<NAME>`` and inside ``CO_DATA``."""

    name: Annotated[str, _text("an input name")]
    type: InputType = "string"
    required: bool = False
    default: Any = None
    description: Annotated[str, _text("a description")] = ""
    #: Never logged: its value is masked (``***``) in every stored and printed line.
    secret: bool = False
    #: The allowed values of an ``enum``.
    values: list[Annotated[str, _text("an enum value")]] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> InputSpec:
        if not KEY.fullmatch(self.name):
            raise ValueError(f"input name {self.name!r} is not valid: {KEY_RULE}")
        if self.type == "enum" and not self.values:
            raise ValueError(f"input '{self.name}' is an enum: list its allowed values under 'values:'")
        if self.type != "enum" and self.values is not None:
            raise ValueError(f"input '{self.name}' has 'values:' but only an enum takes them")
        if self.required and self.default is not None:
            raise ValueError(f"input '{self.name}' is required and has a default: choose one")
        if self.default is not None:
            try:
                to_text(self.type, self.default, self.values)
            except ValueError as exc:
                raise ValueError(f"default of input '{self.name}': {exc}") from None
        return self

    @property
    def env(self) -> str:
        """The variable that carries this input: ``git-url`` -> ``CO_GIT_URL``."""
        return input_env_name(self.name)


def output_covers(name: str, key: str) -> bool:
    """Whether the output declared as ``name`` (``NAME_*`` declares a family) covers ``key``."""
    if name.endswith("*"):
        return key.startswith(name[:-1])
    return key == name


class OutputSpec(_Strict):
    """One output. A name ending in ``*`` declares a family whose names depend on the
    inputs (``CO_JSON_*`` for the fields http-request is asked to extract)."""

    name: Annotated[str, _text("an output name")]
    description: Annotated[str, _text("a description")] = ""

    @model_validator(mode="after")
    def _valid_name(self) -> OutputSpec:
        if self.name != "*" and not KEY.fullmatch(self.name.removesuffix("*")):
            raise ValueError(f"output name {self.name!r} is not valid: {KEY_RULE} (and a final '*')")
        return self

    def covers(self, key: str) -> bool:
        """Whether output ``key`` is this one (or one of this family)."""
        return output_covers(self.name, key)


class OutputCheck(_Strict):
    """What an example expects of one output when the exact value is not known in advance."""

    equals: str | None = None
    matches: str | None = None  # a regular expression the whole value must match
    contains: str | None = None

    @model_validator(mode="after")
    def _one(self) -> OutputCheck:
        given = [k for k in ("equals", "matches", "contains") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("an output check takes exactly one of: equals, matches, contains")
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as exc:
                raise ValueError(f"'matches' is not a valid regular expression: {exc}") from None
        return self


def _plain_expectation(value: object) -> object:
    """A bare scalar is an exact value; numbers and booleans as the container prints them."""
    if isinstance(value, bool):
        return {"equals": "true" if value else "false"}
    if isinstance(value, int | float | str):
        return {"equals": str(value)}
    return value


class RequestCheck(_Strict):
    """A request the test server (``${COOPS_TEST_SERVER}``) must have received during an example."""

    method: Annotated[str | None, _text("a method")] = None
    path: Annotated[str | None, _text("a path")] = None
    #: Text the request's body must contain.
    contains: Annotated[str | None, _text("a body text")] = None
    #: Headers (names in any case) with the exact values they must have.
    headers: dict[str, Annotated[str, _text("a header value")]] = Field(default_factory=dict)


def _inside(folder: str | None) -> str | None:
    """A relative path that stays inside the component folder (``workspace:`` alone is none)."""
    if not folder:
        return None
    path = Path(folder)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"workspace {folder!r} must be a folder inside the component (a relative path)")
    return folder


class ExampleSpec(_Strict):
    """One example: inputs, and the outputs and result they must give. A test case too."""

    name: Annotated[str, _text("an example name")]
    description: Annotated[str, _text("a description")] = ""
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[
        str,
        Annotated[
            OutputCheck,
            BeforeValidator(_plain_expectation, json_schema_input_type=str | float | bool | OutputCheck),
        ],
    ] = Field(default_factory=dict)
    #: Whether the job must succeed (``true``) or fail (``false``).
    result: bool = True
    #: A folder of the component (relative path) copied into ``/workspace`` before the job runs.
    workspace: Annotated[str | None, _text("a folder"), AfterValidator(_inside)] = None
    #: Text that must appear in the job's log lines.
    logs: list[Annotated[str, _text("a log text")]] = Field(default_factory=list)
    #: Requests the test server must have received (each check: one matching request).
    requests: list[RequestCheck] = Field(default_factory=list)


class ComponentSpec(_Strict):
    """A whole ``component.yaml``."""

    namespace: Annotated[
        str, _text("namespace"), AfterValidator(lambda v: validate_name("namespace", v)), _NAME_SCHEMA
    ]
    name: Annotated[str, _text("name"), AfterValidator(lambda v: validate_name("name", v)), _NAME_SCHEMA]
    #: A number (``version: 1.0``) is read as written, to say why it is not a version.
    version: Annotated[
        str,
        BeforeValidator(lambda v: str(v) if v is not None else ""),
        AfterValidator(validate_version),
        WithJsonSchema({"type": "string", "pattern": f"^(?:{SEMVER.pattern})$"}),
    ]
    title: Annotated[str, _text("title")] = ""
    description: Annotated[str, _text("description")] = ""
    keywords: list[Annotated[str, _text("a keyword")]] = Field(default_factory=list)
    maintainers: list[Annotated[str, _text("a maintainer")]] = Field(default_factory=list)
    inputs: list[InputSpec] = Field(default_factory=list)
    outputs: list[OutputSpec] = Field(default_factory=list)
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    #: Seconds; ``None`` = no timeout.
    timeout: Annotated[float | None, _quantity("duration")] = None
    examples: list[ExampleSpec] = Field(default_factory=list)

    @property
    def ref(self) -> str:
        """``namespace/name:version``, as flows and the CLI write it."""
        return f"{self.namespace}/{self.name}:{self.version}"

    def input(self, name: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.name == name), None)

    @property
    def secrets(self) -> list[str]:
        """The names of the secret inputs."""
        return [i.name for i in self.inputs if i.secret]


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``component.yaml``, from the model that checks it."""
    schema = ComponentSpec.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ContainerOps component",
        **schema,
    }


def image_name(spec: ComponentSpec) -> str:
    """The local image tag of a component: ``coops/<namespace>/<name>:<version>``."""
    return f"coops/{spec.namespace}/{spec.name}:{spec.version}"


class SpecInvalid(FlowInvalid):
    """The spec cannot be used; ``diagnostics`` holds every problem, each with file:line."""

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.errors) or "no error reported"


@dataclass(frozen=True, slots=True)
class LoadedSpec:
    """A valid spec with what came with it."""

    spec: ComponentSpec
    folder: Path
    source: str  # component.yaml as read
    readme: str  # README.md, "" when the folder has none
    warnings: tuple[Diagnostic, ...] = ()


def parse_spec(text: str, filename: str = SPEC_FILE) -> ComponentSpec:
    """Validate spec ``text``; ``filename`` is only used in diagnostics. Raises ``SpecInvalid``."""
    doc = parse_document(
        text,
        filename,
        empty="the document is empty: a component spec needs at least namespace, name and version",
    )
    diagnostics = list(doc.diagnostics)
    if doc.root is None or any(d.is_error for d in diagnostics):
        raise SpecInvalid(sort_diagnostics(diagnostics))
    diagnostics += _duplicate_keys(doc, doc.root, "")
    if not isinstance(doc.root, MappingNode):
        diagnostics.append(_at(doc, doc.root, "", "a component spec must be a mapping of keys to values"))
        raise SpecInvalid(sort_diagnostics(diagnostics))
    try:
        data = doc.construct(doc.root)
    except ValueError as exc:
        diagnostics.append(_at(doc, doc.root, "", f"cannot read the spec: {exc}"))
        raise SpecInvalid(sort_diagnostics(diagnostics)) from None
    spec: ComponentSpec | None = None
    try:
        spec = ComponentSpec.model_validate(data)
    except ValidationError as invalid:
        diagnostics += [_pydantic_diagnostic(doc, error) for error in invalid.errors()]
    if spec is not None:
        diagnostics += _cross_checks(doc, spec)
    errors = [d for d in diagnostics if d.is_error]
    if spec is None or errors:
        raise SpecInvalid(sort_diagnostics(diagnostics))
    return spec


def load_spec(folder: Path | str) -> LoadedSpec:
    """Read and validate ``folder/component.yaml`` (and its README). Raises ``SpecInvalid``."""
    folder = Path(folder)
    path = folder / SPEC_FILE
    name = str(path)
    if not folder.is_dir():
        raise SpecInvalid([Diagnostic("error", "not a component folder (no such directory)", str(folder))])
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SpecInvalid([Diagnostic("error", f"cannot read the component spec: {reason}", name)]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecInvalid([Diagnostic("error", "the component spec is not UTF-8 text", name, line)]) from None
    spec = parse_spec(text, name)
    readme_path = folder / README_FILE
    readme = readme_path.read_text(encoding="utf-8", errors="replace") if readme_path.is_file() else ""
    return LoadedSpec(spec=spec, folder=folder, source=text, readme=readme)


# -- positions ---------------------------------------------------------------------------------


def _at(doc: Document, node: Node, where: str, message: str) -> Diagnostic:
    line, column = doc.position(node)
    return Diagnostic("error", message, doc.filename, line, column, where)


def _where(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _locate(root: Node, loc: tuple[int | str, ...], key_node: bool) -> tuple[Node, bool]:
    """The node at ``loc`` (or its key, when ``key_node``); ``(nearest, False)`` when absent."""
    node = root
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, MappingNode):
            wanted = str(part)
            pairs = reversed(node.value)
            found = next(((k, v) for k, v in pairs if isinstance(k, ScalarNode) and k.value == wanted), None)
            if found is None:
                return node, False
            node = found[0] if last and key_node else found[1]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node, False
    return node, True


def _pydantic_diagnostic(doc: Document, error: Any) -> Diagnostic:
    """One pydantic error in words a spec author reads, at the node it concerns."""
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    kind = error["type"]
    assert doc.root is not None
    if kind == "missing":
        parent, _ = _locate(doc.root, loc[:-1], key_node=False)
        field = loc[-1]
        where = _where(loc[:-1]) or "the spec"
        return _at(doc, parent, _where(loc), f"missing required key '{field}' in {where}")
    if kind == "extra_forbidden":
        node, _ = _locate(doc.root, loc, key_node=True)
        known = _known_keys(loc[:-1])
        close = get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else f" (known keys: {', '.join(known)})"
        where = _where(loc[:-1]) or "the spec"
        return _at(doc, node, _where(loc), f"unknown key '{loc[-1]}' in {where}{hint}")
    node, _ = _locate(doc.root, loc, key_node=False)
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "literal_error" and loc and loc[-1] == "type":
        message = f"unknown input type {error['input']!r}; choose one of: {', '.join(INPUT_TYPES)}"
    where = _where(loc)
    said = not where or (loc and isinstance(loc[-1], str) and message.startswith(loc[-1]))
    return _at(doc, node, where, message if said else f"{where}: {message}")


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model at ``loc`` takes, to suggest the one meant."""
    model: type[BaseModel] = ComponentSpec
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[str(part)].annotation if part in model.model_fields else None
        inner = getattr(annotation, "__args__", (annotation,))
        nested = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _duplicate_keys(doc: Document, node: Node, where: str) -> list[Diagnostic]:
    """YAML keeps the last of two equal keys silently; a spec that repeats one is an error."""
    found: list[Diagnostic] = []
    if isinstance(node, MappingNode):
        seen: dict[str, Node] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode):
                inner = f"{where}.{key.value}" if where else key.value
                if key.value in seen:
                    first = doc.position(seen[key.value])[0]
                    found.append(_at(doc, key, inner, f"duplicate key '{key.value}' (first at line {first})"))
                seen.setdefault(key.value, key)
                found += _duplicate_keys(doc, value, inner)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicate_keys(doc, item, f"{where}[{index}]")
    return found


def _cross_checks(doc: Document, spec: ComponentSpec) -> list[Diagnostic]:
    """What no single field can check: repeated names, and examples against the inputs."""
    assert doc.root is not None
    found: list[Diagnostic] = []

    def error(loc: tuple[int | str, ...], message: str, key: bool = False) -> None:
        node, _ = _locate(doc.root, loc, key_node=key)  # type: ignore[arg-type]
        found.append(_at(doc, node, _where(loc), message))

    envs: dict[str, str] = {}
    for index, item in enumerate(spec.inputs):
        other = envs.setdefault(item.env, item.name)
        if other != item.name:
            error(("inputs", index, "name"), f"input '{item.name}' and input '{other}' both give {item.env}")
    outputs: set[str] = set()
    for index, output in enumerate(spec.outputs):
        if output.name in outputs:
            error(("outputs", index, "name"), f"output '{output.name}' is declared twice")
        outputs.add(output.name)
    names: set[str] = set()
    for index, example in enumerate(spec.examples):
        if example.name in names:
            error(("examples", index, "name"), f"two examples are called '{example.name}'")
        names.add(example.name)
        try:
            resolve_inputs(spec, example.inputs, placeholders=True)
        except InputsInvalid as invalid:
            for problem in invalid.problems:
                loc: tuple[int | str, ...] = ("examples", index, "inputs")
                if problem.input in example.inputs:
                    loc += (problem.input,)
                unknown = spec.input(problem.input) is None
                error(loc, f"example '{example.name}': {problem}", key=unknown)
        for key in example.outputs:
            if not any(o.covers(key) for o in spec.outputs):
                error(
                    ("examples", index, "outputs", key),
                    f"example '{example.name}' expects output '{key}', which the spec does not declare",
                    key=True,
                )
    return found
