"""The whole life of a component, as a user lives it with ``coops`` processes, against
the registry the suite started: init, build, push, search, show, pull on a Docker
without the image, a flow that uses it by name; and every refusal, said plainly."""

from __future__ import annotations

import getpass
import json
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.cli.test_cli import coops
from tests.executors.test_workspace import read_volume
from tests.repository.conftest import free_port


@pytest.fixture
def namespace(docker_ready: None) -> Iterator[str]:
    """A namespace of this test's own, and afterwards none of its images left."""
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    client = docker.from_env()
    for image in client.images.list():
        if any(f"/{name}/" in tag or tag.startswith(f"coops/{name}/") for tag in image.tags):
            client.images.remove(image.id, force=True)
    client.close()


def remove_images(namespace: str, name: str = "") -> None:
    """Remove the images of ``namespace`` (only of its component ``name`` when given)."""
    client = docker.from_env()
    wanted = f"/{namespace}/{name}:" if name else f"/{namespace}/"
    for image in client.images.list():
        tags = image.tags + [d.split("@")[0] + ":" for d in image.attrs.get("RepoDigests") or []]
        if any(wanted in tag for tag in tags):
            client.images.remove(image.id, force=True)
    client.close()


def flow(namespace: str, inputs: str = "{who: team, shout: true}", ref: str = "") -> str:
    return f"""\
uri: {namespace}/demo/hello
stages:
  - name: greet
    actions:
      - name: team
        jobs:
          - name: hi
            component: {ref or f"{namespace}/hello"}
            inputs: {inputs}
          - name: after
            endpoint: containerops/base:busybox
            command: [sh, -c, 'echo "$SAID" > "$CO_WORKSPACE/said"; cat "$CO_WORKSPACE/said"']
            subscriptions:
              - greet.team.hi[CO_GREETING]: SAID
"""


@pytest.mark.docker
def test_init_build_push_search_show_pull_and_run_by_name(
    tmp_path: Path, namespace: str, registry_address: str
) -> None:
    home = tmp_path / "home"
    env = {"COOPS_REGISTRY": registry_address}

    def run(*args: str, check: int | None = 0) -> tuple[str, str]:
        done = coops(*args, home=home, check=check, extra_env=env, cwd=tmp_path)
        return done.stdout, done.stderr

    run("component", "init", "hello", "--lang", "shell", "--namespace", namespace)
    run("component", "build", "hello")
    # a git checkout: the version records the commit it was pushed from
    git = ["git", "-C", str(tmp_path / "hello"), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "hello"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    commit = head.stdout.strip()
    pushed = json.loads(run("component", "push", "hello", "--json")[0])
    assert pushed["created"] is True and pushed["version"] == "0.1.0"
    assert pushed["pushed_by"] == f"{getpass.getuser()}@{socket.gethostname()}"
    assert pushed["source"] == {"commit": commit, "dirty": False} and pushed["size"] > 100_000
    digest = pushed["digest"]
    assert pushed["image"] == f"{registry_address}/{namespace}/hello@{digest}"
    # the same image again: nothing to do
    again = json.loads(run("component", "push", "hello", "--json")[0])
    assert again["created"] is False and again["digest"] == digest

    found = json.loads(run("component", "search", "greets", "--json")[0])
    assert [c["namespace"] + "/" + c["name"] for c in found] == [f"{namespace}/hello"]
    shown = json.loads(run("component", "show", f"{namespace}/hello", "--json")[0])
    assert shown["digest"] == digest and shown["spec"]["inputs"][0]["name"] == "who"
    assert shown["readme"].startswith(f"# {namespace}/hello") and [
        v["version"] for v in shown["versions"]
    ] == ["0.1.0"]
    text = run("component", "show", f"{namespace}/hello:0.1.0")[0]
    assert "who" in text and "CO_GREETING" in text and digest in text
    listed = json.loads(run("component", "list", "--namespace", namespace, "--json")[0])
    assert [(c["name"], c["latest_version"], c["namespace_kind"]) for c in listed] == [
        ("hello", "0.1.0", "user")
    ]

    # pull on a Docker Engine that does not have the image
    remove_images(namespace)
    pulled = json.loads(run("component", "pull", f"{namespace}/hello", "--json")[0])
    assert pulled["image"] == pushed["image"]
    client = docker.from_env()
    assert client.images.get(f"coops/{namespace}/hello:0.1.0").id == pushed["image_id"]

    # a flow that uses it by name: pulled again when missing, run by digest
    remove_images(namespace)
    (tmp_path / "flow.yaml").write_text(flow(namespace))
    out, err = run("run", "flow.yaml", "--network", "host", "--json")
    document = json.loads(out)
    assert document["status"] == "success", err
    hi, after = document["jobs"]
    assert after["image"] == "containerops/base:busybox" and after["status"] == "success"
    assert hi["image"] == pushed["image"] and hi["outputs"]["CO_GREETING"] == "HELLO TEAM"
    logs = run("logs", str(document["id"]))[0]
    assert "[greet.team.after] HELLO TEAM" in logs
    assert client.volumes.list(filters={"label": f"containerops.home={home.resolve()}"}) == []

    # kept workspace: said where, there afterwards, and `coops cleanup` removes it
    out, err = run("run", "flow.yaml", "--network", "host", "--json", "--keep-workspace")
    kept = client.volumes.list(filters={"label": f"containerops.home={home.resolve()}"})
    assert len(kept) == 1 and f"workspace kept: docker volume {kept[0].name}" in err
    assert read_volume(client, kept[0].name, "said") == b"HELLO TEAM\n"
    run("cleanup")
    assert client.volumes.list(filters={"label": f"containerops.home={home.resolve()}"}) == []

    # a pushed version never changes
    script = tmp_path / "hello" / "run.sh"
    script.write_text(script.read_text() + "\n# changed\n")
    _, err = run("component", "push", "hello", check=2)
    assert f"{namespace}/hello:0.1.0 was already pushed with another image" in err
    assert "raise the version" in err
    assert json.loads(run("component", "show", f"{namespace}/hello", "--json")[0])["digest"] == digest
    client.close()


@pytest.mark.docker
def test_refusals_are_clear_and_change_nothing(tmp_path: Path, namespace: str, registry_address: str) -> None:
    home = tmp_path / "home"

    def run(*args: str, check: int | None, registry: str = registry_address) -> str:
        done = coops(*args, home=home, check=check, extra_env={"COOPS_REGISTRY": registry}, cwd=tmp_path)
        return done.stderr

    run("component", "init", "hello", "--lang", "shell", "--namespace", namespace, check=0)
    spec = tmp_path / "hello" / "component.yaml"
    good = spec.read_text()

    # bad names, wherever they come in
    for args, said in (
        (["show", "../x"], "error: '../x': namespace '..' is not valid: use 1 to 64 lowercase letters"),
        (["pull", "A"], "error: 'A' is not a component reference: namespace/name[:version]"),
        (["show", "x/y/z"], "error: 'x/y/z' is not a component reference: namespace/name[:version]"),
        (["list", "--namespace", "A"], "error: namespace 'A' is not valid: use 1 to 64 lowercase letters"),
    ):
        err = run("component", *args, check=2)
        assert said in err, err

    # a malformed spec: every problem with file:line, nothing pushed
    spec.write_text(
        good.replace(f"namespace: {namespace}", "namespace: Bad/Name").replace("type: boolean", "type: bool")
    )
    err = run("component", "push", "hello", check=2)
    assert "component.yaml:1:" in err and "namespace 'Bad/Name' is not valid" in err
    assert "unknown input type 'bool'" in err
    spec.write_text(good)

    # the library is ours
    spec.write_text(good.replace(f"namespace: {namespace}", "namespace: library"))
    err = run("component", "push", "hello", check=2)
    assert "namespace 'library' is reserved" in err and "--library" in err
    spec.write_text(good)

    # a registry that is down
    down = f"127.0.0.1:{free_port()}"
    err = run("component", "push", "hello", check=1, registry=down)
    assert f"the component registry at {down} is not answering" in err and "coops registry start" in err
    assert json.loads(coops("component", "list", "--json", home=home, check=0).stdout) == []

    run("component", "push", "hello", check=0)
    remove_images(namespace)
    (tmp_path / "flow.yaml").write_text(flow(namespace))
    err = run("run", "flow.yaml", "--network", "host", check=2, registry=down)
    assert f"the component registry at {down} is not answering" in err and "nothing was started" in err

    # unknown component or version: file:line and the nearest names
    (tmp_path / "flow.yaml").write_text(flow(namespace, ref=f"{namespace}/helo"))
    err = run("run", "flow.yaml", check=2)
    assert (
        f"flow.yaml:8:24: error: job 'greet.team.hi': no component {namespace}/helo in the repository; "
        in err
    )
    assert f"did you mean {namespace}/hello?" in err
    (tmp_path / "flow.yaml").write_text(flow(namespace, ref=f"{namespace}/hello:2.0.0"))
    err = run("run", "flow.yaml", check=2)
    assert f"{namespace}/hello has no version 2.0.0 (it has: 0.1.0)" in err

    # inputs that do not match the spec
    (tmp_path / "flow.yaml").write_text(flow(namespace, inputs="{whom: team, shout: loud}"))
    err = run("run", "flow.yaml", check=2)
    assert (
        "flow.yaml:9:22: error: job 'greet.team.hi'" in err
        and "input 'whom'" in err
        and "did you mean 'who'?" in err
    )
    assert "flow.yaml:9:34: error: job 'greet.team.hi'" in err and "input 'shout'" in err
    assert json.loads(coops("runs", "list", "--json", home=home, check=0).stdout) == []
