"""Service jobs (``type: service``): a call to a third service instead of a container.

``service: {url, method, headers, body, expect, outputs, callback, timeout}``.
``url``, header values and ``body`` (text, or JSON data whose strings are
templated) may use ``${{ inputs.NAME }}``, ``${{ env.NAME }}`` (the job's
environment: flow and job environments and subscribed values) and
``${{ secrets.NAME }}``; the engine fills them in (``containerops.engine.service``).
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

SERVICE_KEYS = ("url", "method", "headers", "body", "expect", "outputs", "callback", "timeout")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
#: ``${{ ... }}`` in service requests: inputs, environment, secrets.
TEMPLATE = re.compile(r"\$\{\{(?P<body>.*?)\}\}")
TEMPLATE_REF = re.compile(r"^\s*(?P<space>inputs|env|secrets)\.(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)\s*$")
TEMPLATE_RULE = "write ${{ inputs.NAME }}, ${{ env.NAME }} or ${{ secrets.NAME }}"
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


def template_problems(text: str) -> list[str]:
    problems = [
        f"'{match[0]}' is not a known reference: {TEMPLATE_RULE}"
        for match in TEMPLATE.finditer(text)
        if TEMPLATE_REF.match(match["body"]) is None
    ]
    if "${{" in TEMPLATE.sub("", text):
        problems.append(f"'${{{{' without its closing '}}}}': {TEMPLATE_RULE}")
    return problems


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
    ok = True

    def check_template(value: Node, item_where: str, text: str) -> None:
        nonlocal ok
        for problem in template_problems(text):
            r.error(value, item_where, problem)
            ok = False

    url_node = values.get("url")
    url = r.text(url_node, f"{where}.url", "url") if url_node is not None else None
    if url_node is None:
        r.error(node, f"{where}.url", "a service needs a 'url'")
        ok = False
    elif url is not None:
        check_template(url_node, f"{where}.url", url)
        if not url.startswith(("http://", "https://", "${{")):
            r.error(url_node, f"{where}.url", f"'url' must be an http:// or https:// address, got '{url}'")
            ok = False
    method = "GET"
    if (value := values.get("method")) is not None:
        text = r.text(value, f"{where}.method", "method")
        if text is not None and text.upper() not in METHODS:
            r.error(value, f"{where}.method", f"method must be one of {', '.join(METHODS)}, got '{text}'")
            text = None
        ok = ok and text is not None
        method = text.upper() if text else method
    headers: dict[str, str] = {}
    if (value := values.get("headers")) is not None:
        for key, item, item_where in r.pairs(value, f"{where}.headers", "headers"):
            text = r.stringify(item, item_where, f"header '{key.value}'")
            if text is None:
                ok = False
                continue
            check_template(item, item_where, text)
            headers[key.value] = text
    body: object = None
    if (value := values.get("body")) is not None:
        if isinstance(value, MappingNode | SequenceNode):
            try:
                body = r.doc.construct(value)
            except ValueError as exc:
                r.error(value, f"{where}.body", f"cannot read the body: {exc}")
                ok = False
            for text in _strings(body):
                check_template(value, f"{where}.body", text)
        else:
            body = r.stringify(value, f"{where}.body", "body")
            if isinstance(body, str):
                check_template(value, f"{where}.body", body)
        if method == "GET" and "method" not in values:
            method = "POST"
    expect: list[int] = []
    if (value := values.get("expect")) is not None:
        items = [value] if isinstance(value, ScalarNode) else r.sequence(value, f"{where}.expect", "expect")
        for index, item in enumerate(items or []):
            code = r.integer(item, f"{where}.expect[{index}]", "an expected status", 100, 599)
            if code is None:
                ok = False
            else:
                expect.append(code)
    outputs: dict[str, tuple[str | int, ...]] = {}
    if (value := values.get("outputs")) is not None:
        for key, item, item_where in r.pairs(value, f"{where}.outputs", "outputs"):
            text = r.text(item, item_where, f"output '{key.value}'")
            path = parse_json_path(text) if text is not None else None
            if not ENV_NAME.fullmatch(key.value.replace("-", "_").replace(".", "_")):
                r.error(key, item_where, f"output name '{key.value}' is not valid")
                ok = False
            elif path is None:
                r.error(item, item_where, f"'{text}' is not a JSON path (write $.a.b[0] or a.b.0)")
                ok = False
            else:
                outputs[key.value] = path
    callback = False
    if (value := values.get("callback")) is not None:
        callback = bool(r.boolean(value, f"{where}.callback", "callback"))
    timeout: float | None = None
    if (value := values.get("timeout")) is not None:
        good, timeout = r.quantity(value, f"{where}.timeout", "timeout", parse_duration)
        ok = ok and good
    if not ok or url is None:
        return None
    return Service(url, method, headers, body, tuple(expect), outputs, callback, timeout)


def _strings(data: object) -> list[str]:
    """Every string in JSON data (keys and values), for checking templates."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for key, value in data.items() for s in (*_strings(key), *_strings(value))]
    if isinstance(data, list):
        return [s for item in data for s in _strings(item)]
    return []
