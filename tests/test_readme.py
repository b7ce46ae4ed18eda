"""The README's shell blocks, run as written and in order, as a reader on a fresh machine
would: in a copy of the repository (a fresh clone), with a fresh COOPS_HOME, against the
real Docker Engine and a real registry. Only the first two commands (setting up the
machine and running the whole suite: what CI runs) are left out, saying why."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from tests.conftest import ROOT
from tests.repository.conftest import free_port, registry_address  # noqa: F401  (a fixture)

# The machine set-up and the suite itself: this test runs inside the latter.
CI_COMMANDS = ("bash scripts/demo.sh", "bash scripts/test.sh")
BLOCK = re.compile(r"^```(?:sh|bash)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
PASSWORD = "readme-test-password"


def readme_blocks() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text())


def commands(block: str) -> list[str]:
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def fresh_clone(where: Path) -> Path:
    """The repository's files as a clone has them (tracked and new, not ignored), nothing
    built; but ``components`` is this checkout's own, linked: the installed ``coops`` is
    this checkout's, and it lets only its own library folder push into ``library``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    (where / "components").parent.mkdir(parents=True)
    (where / "components").symlink_to(ROOT / "components")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if name.startswith("components/"):
            continue
        if source.is_file():
            target = where / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return where


def alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def stop(groups: list[int]) -> None:
    """Stop what the blocks left running (the server): SIGTERM, then SIGKILL after 30 s."""
    for group in groups:
        if alive(group):
            os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while any(alive(g) for g in groups) and time.monotonic() < deadline:
        time.sleep(0.2)
    for group in groups:
        if alive(group):
            os.killpg(group, signal.SIGKILL)


def test_the_first_block_is_the_ci_commands() -> None:
    """What this test leaves out is exactly the machine set-up and the suite."""
    assert commands(readme_blocks()[0]) == list(CI_COMMANDS)


@pytest.mark.docker
def test_every_readme_block_runs_as_written(
    tmp_path: Path,
    docker_ready: None,
    registry_address: str,  # noqa: F811  (the fixture imported above)
) -> None:
    blocks = readme_blocks()
    clone = fresh_clone(tmp_path / "clone")
    home = tmp_path / "home"
    port = free_port()
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
        "COOPS_HOME": str(home),
        "COOPS_REGISTRY": registry_address,  # the suite's registry, as `export COOPS_REGISTRY=` would
        "PASSWORD": PASSWORD,  # the reader's own, which the accounts block stores as a secret
        "COLUMNS": "160",
    }
    for name in ("COOPS_DATABASE_URL", "COOPS_TOKEN", "COOPS_SERVER_URL"):
        env.pop(name, None)
    print(f"skipped (what CI runs, and this test runs inside it): {', '.join(CI_COMMANDS)}")
    print(f"the server's port 8080 is {port} here (8080 may be taken on a shared machine)")
    groups: list[int] = []
    try:
        for number, block in enumerate(blocks[1:], start=2):
            script = block.replace("8080", str(port))
            path = tmp_path / f"block-{number}.sh"
            path.write_text(script)
            out = tmp_path / f"block-{number}.out"
            with out.open("w") as sink:
                process = subprocess.Popen(
                    ["bash", "-e", "-o", "pipefail", "-x", str(path)],
                    cwd=clone,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                groups.append(process.pid)
                try:
                    code = process.wait(timeout=150)
                except subprocess.TimeoutExpired:
                    code = None
            assert code == 0, f"README block {number} exited {code}:\n{block}\n--- output:\n{out.read_text()}"
    finally:
        stop(groups)
        remove_images(registry_address)
    leftover = [g for g in groups if alive(g)]
    assert not leftover, f"processes left running: {leftover}"


def remove_images(registry: str) -> None:
    """The images this test pulled from its own registry (their tags name its port)."""
    client = docker.from_env()
    for image in client.images.list():
        if any(tag.startswith(registry) for tag in image.tags):
            client.images.remove(image.id, force=True)
    client.close()
