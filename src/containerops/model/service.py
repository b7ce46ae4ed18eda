"""Service jobs (``type: service``): a call to a third service instead of a container.

``service: {url, method, headers, body, expect, outputs, callback, timeout}``.
``url``, header values and ``body`` (text, or JSON data whose strings are
templated) may use every ``${{ ... }}`` reference (``containerops.model.references``;
``env`` is the job's environment: flow and job environments and subscribed values); the
engine fills them in (``containerops.engine.templating``), percent-encoded in the url.
``outputs`` maps an output name to a path into the JSON answer
(``$.data.items[0].id`` or ``data.items.0.id``). With ``callback: true`` the
engine gives the service a single-use ``CO_CALLBACK_URL`` and waits for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from containerops.model.names import ENV_NAME
from containerops.model.quantities import parse_duration
from containerops.model.reading import NULL_TAG, Reader
from containerops.model.references import syntax_problems

SERVICE_KEYS = ("url", "method", "headers", "body", "expect", "outputs", "callback", "timeout")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
#: ``$.a.b[0].c`` or ``a.b.0.c``: keys and list indexes.
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Service:
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    #: Text sent as is, or JSON data (mapping or list), or None for no body.
    body: object = None
    #: Status codes that count as success; empty: any 2xx.
    expect: tuple[int, ...] = ()
    #: Output name -> path into the JSON answer (or the callback's outputs).
    outputs: dict[str, tuple[str | int, ...]] = field(default_factory=dict)
    callback: bool = False
    timeout: float | None = None

    def texts(self) -> list[str]:
        """Every text a template may be in: the url, header values, the body's strings."""
        return [self.url, *self.headers.values(), *strings_in(self.body)]


def parse_json_path(text: str) -> tuple[str | int, ...] | None:
    """``$.a.b[0]`` / ``a.b.0`` as keys and indexes; None when it is not such a path.

    Kept rather than jsonpath-ng (measured: 42 ms to import on every validation, 0.4 ms
    a path, against microseconds here), which also reads ``a.b.0`` as a key "0", not the
    index the README documents; service outputs need plain paths, not filters."""
    rest = text.strip()
    rest = rest[1:] if rest.startswith("$") else rest
    rest = rest[1:] if rest.startswith(".") else rest
    if not rest:
        return ()
    parts: list[str | int] = []
    position = 0
    while position < len(rest):
        match = _PATH_PART.match(rest, position)
        if match is None:
            return None
        key, index = match.groups()
        parts.append(int(index) if index is not None else (int(key) if key.isdigit() else key))
        position = match.end()
        if position < len(rest) and rest[position] == ".":
            position += 1
            if position == len(rest):
                return None
    return tuple(parts)


def read_service(r: Reader, node: Node, where: str) -> Service | None:
    """The ``service:`` mapping of a job, or None after reporting what is wrong with it."""
    fields = r.mapping(node, where, "service", SERVICE_KEYS)
    if fields is None:
        return None
    values = {name: value for name, (_, value) in fields.items() if value.tag != NULL_TAG}
    keys = _ServiceKeys(r, where)
    errors = keys.errors()
    url = keys.url(values["url"]) if "url" in values else None
    if "url" not in values:
        r.error(node, f"{where}.url", "a service needs a 'url'")
    method = keys.method(values["method"]) if "method" in values else None
    headers = keys.headers(values["headers"]) if "headers" in values else {}
    body = keys.body(values["body"]) if "body" in values else None
    expect = keys.expect(values["expect"]) if "expect" in values else ()
    outputs = keys.outputs(values["outputs"]) if "outputs" in values else {}
    callback = (
        bool(r.boolean(values["callback"], f"{where}.callback", "callback"))
        if "callback" in values
        else False
    )
    timeout = keys.timeout(values["timeout"]) if "timeout" in values else None
    if keys.errors() > errors or url is None:
        return None
    # a body without a method is sent with POST
    method = method or ("POST" if "body" in values else "GET")
    return Service(url, method, headers, body, expect, outputs, callback, timeout)


class _ServiceKeys:
    """One reader per key of ``service:``; each reports its problems at its node."""

    def __init__(self, r: Reader, where: str) -> None:
        self.r = r
        self.where = where

    def errors(self) -> int:
        return sum(1 for diagnostic in self.r.diagnostics if diagnostic.severity == "error")

    def templated(self, node: Node, where: str, text: str) -> None:
        for problem in syntax_problems(text):
            self.r.error(node, where, problem)

    def url(self, node: Node) -> str | None:
        where = f"{self.where}.url"
        url = self.r.text(node, where, "url")
        if url is None:
            return None
        self.templated(node, where, url)
        if not url.startswith(("http://", "https://", "${{")):
            self.r.error(node, where, f"'url' must be an http:// or https:// address, got '{url}'")
        return url

    def method(self, node: Node) -> str | None:
        where = f"{self.where}.method"
        text = self.r.text(node, where, "method")
        if text is not None and text.upper() not in METHODS:
            self.r.error(node, where, f"method must be one of {', '.join(METHODS)}, got '{text}'")
            return None
        return text.upper() if text else None

    def headers(self, node: Node) -> dict[str, str]:
        headers: dict[str, str] = {}
        for key, item, item_where in self.r.pairs(node, f"{self.where}.headers", "headers"):
            text = self.r.stringify(item, item_where, f"header '{key.value}'")
            if text is not None:
                self.templated(item, item_where, text)
                headers[key.value] = text
        return headers

    def body(self, node: Node) -> object:
        where = f"{self.where}.body"
        if not isinstance(node, MappingNode | SequenceNode):
            body = self.r.stringify(node, where, "body")
            if body is not None:
                self.templated(node, where, body)
            return body
        try:
            data = self.r.doc.construct(node)
        except ValueError as exc:
            self.r.error(node, where, f"cannot read the body: {exc}")
            return None
        for text in strings_in(data):
            self.templated(node, where, text)
        return data

    def expect(self, node: Node) -> tuple[int, ...]:
        where = f"{self.where}.expect"
        items = [node] if isinstance(node, ScalarNode) else self.r.sequence(node, where, "expect")
        codes = [
            self.r.integer(item, f"{where}[{i}]", "an expected status", 100, 599)
            for i, item in enumerate(items or [])
        ]
        return tuple(code for code in codes if code is not None)

    def outputs(self, node: Node) -> dict[str, tuple[str | int, ...]]:
        outputs: dict[str, tuple[str | int, ...]] = {}
        for key, item, item_where in self.r.pairs(node, f"{self.where}.outputs", "outputs"):
            text = self.r.text(item, item_where, f"output '{key.value}'")
            path = parse_json_path(text) if text is not None else None
            if not ENV_NAME.fullmatch(key.value.replace("-", "_").replace(".", "_")):
                self.r.error(key, item_where, f"output name '{key.value}' is not valid")
            elif path is None:
                self.r.error(item, item_where, f"'{text}' is not a JSON path (write $.a.b[0] or a.b.0)")
            else:
                outputs[key.value] = path
        return outputs

    def timeout(self, node: Node) -> float | None:
        _, timeout = self.r.quantity(node, f"{self.where}.timeout", "timeout", parse_duration)
        return timeout


def strings_in(data: object) -> list[str]:
    """Every string in JSON data (keys and values): where templates may be."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for key, value in data.items() for s in (*strings_in(key), *strings_in(value))]
    if isinstance(data, list):
        return [s for item in data for s in strings_in(item)]
    return []
