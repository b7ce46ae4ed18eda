"""``coops component init``: a new component folder that passes its own test from the start.

The skeleton shows every part a component has (spec with an input, an output and
examples, a Dockerfile FROM our base image, the code, a README), so that an author
edits something that works instead of starting from a blank page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from containerops.component.spec import SPEC_FILE
from containerops.model.names import validate_name

Language = Literal["python", "shell"]
LANGUAGES: tuple[Language, ...] = ("python", "shell")

_SPEC = """\
namespace: {namespace}
name: {name}
version: 0.1.0
title: {title}
description: >-
  Greets someone. Replace this with what your component does.
keywords: [example]
maintainers: []
inputs:
  - name: who
    type: string
    default: world
    description: Who to greet.
  - name: shout
    type: boolean
    default: false
    description: Greet in capitals.
outputs:
  - name: CO_GREETING
    description: The greeting that was printed.
timeout: 1m
examples:
  - name: greets the world by default
    outputs: {{CO_GREETING: hello world}}
  - name: shouts
    inputs: {{who: coops, shout: true}}
    outputs: {{CO_GREETING: HELLO COOPS}}
    logs: [HELLO COOPS]
  - name: refuses to greet nobody
    inputs: {{who: ""}}
    result: false
"""

_PYTHON_DOCKERFILE = """\
FROM containerops/base:python
COPY main.py /opt/component/main.py
CMD ["python3", "/opt/component/main.py"]
"""

_PYTHON_MAIN = '''\
"""{title}: reads its inputs, prints a greeting, reports it as an output."""

from containerops import sdk

who = sdk.input("who", "world")
if not who:
    sdk.fail("input 'who' is empty: there is nobody to greet")
greeting = f"hello {{who}}"
if sdk.input("shout", "false") == "true":
    greeting = greeting.upper()
print(greeting)
sdk.set_output("CO_GREETING", greeting)
sdk.result(True)
'''

_SHELL_DOCKERFILE = """\
FROM containerops/base:busybox
COPY run.sh /opt/component/run.sh
CMD ["sh", "/opt/component/run.sh"]
"""

_SHELL_MAIN = """\
#!/bin/sh
# {title}: reads its inputs, prints a greeting, reports it.
set -eu

# input NAME DEFAULT: an input's value. The engine gives each as a CO_<NAME> variable;
# flows in the original format give them only in CO_DATA (NAME=value pairs, a value
# quoted when it holds spaces), which is read here without evaluating anything.
input() {{
    var=CO_$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')
    eval "isset=\\${{$var+set}} value=\\${{$var-}}"
    if [ -n "$isset" ]; then
        printf '%s' "$value"
    elif pair=$(printf '%s' "${{CO_DATA:-}}" | xargs -n1 printf '%s\\n' | grep -m1 "^$1="); then
        printf '%s' "${{pair#*=}}"
    else
        printf '%s' "$2"
    fi
}}

who=$(input who world)
if [ -z "$who" ]; then
    echo "input 'who' is empty: there is nobody to greet" >&2
    echo "[COUT] CO_RESULT = false"
    exit 1
fi
greeting="hello $who"
if [ "$(input shout false)" = "true" ]; then
    greeting=$(echo "$greeting" | tr '[:lower:]' '[:upper:]')
fi
echo "$greeting"
echo "[COUT] CO_GREETING = $greeting"
"""

_README = """\
# {namespace}/{name}

{title}.

## Usage

```yaml
- name: greet
  component: {namespace}/{name}:0.1.0
  inputs: {{who: team}}
```

| input | type | default | |
|---|---|---|---|
| `who` | string | `world` | Who to greet. |
| `shout` | boolean | `false` | Greet in capitals. |

Outputs: `CO_GREETING`, the greeting printed.

## Develop

```sh
coops component build {name}    # image coops/{namespace}/{name}:0.1.0
coops component test {name}     # runs the examples of component.yaml in containers
```

Each example of `component.yaml` is a test: its `inputs`, the `outputs` and `result`
expected, text its `logs` must contain. `workspace: examples/x` copies that folder into
`/workspace` first; `${{COOPS_TEST_SERVER}}` is a local HTTP server that echoes requests
(check them with `requests:`); other `${{NAME}}` come from `--set NAME=VALUE`.
"""


def create_skeleton(parent: Path, name: str, *, namespace: str = "local", lang: Language = "python") -> Path:
    """Write ``parent/name/`` and return it; refuses to overwrite an existing folder."""
    validate_name("name", name)
    validate_name("namespace", namespace)
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of: {', '.join(LANGUAGES)}")
    folder = parent / name
    if folder.exists():
        raise ValueError(f"{folder} already exists; choose another name or remove it")
    title = name.replace("-", " ").replace("_", " ").capitalize()
    fields = {"namespace": namespace, "name": name, "title": title}
    files = {SPEC_FILE: _SPEC, "README.md": _README}
    if lang == "python":
        files |= {"Dockerfile": _PYTHON_DOCKERFILE, "main.py": _PYTHON_MAIN}
    else:
        files |= {"Dockerfile": _SHELL_DOCKERFILE, "run.sh": _SHELL_MAIN}
    folder.mkdir(parents=True)
    for filename, template in files.items():
        (folder / filename).write_text(template.format(**fields), encoding="utf-8")
    return folder
