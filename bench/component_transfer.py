#!/usr/bin/env python3
"""Pushing and pulling a large component through a coops server, against ``docker push`` and
``docker pull`` of the same image to the same registry by hand (issue 15).

Set up in a temporary COOPS_HOME: Debian's docker-registry started for a ``coops server``
process (``coops registry start --server``: token authentication), a user with a write
token, and a component whose image adds ``--size`` MB of random bytes (200; 20 with
``--quick``) to the busybox base, built once (its layers are cached from then on).

Each round, alternating which side goes first, on a registry emptied before each side
(its storage removed, the registry restarted), so that every push uploads the layer:

- coops: ``coops component push DIR --server URL`` (a new version each round: the
  cached build, the writer check, the push with the coops token, the server reading the
  registry and recording the version);
- docker: ``docker login`` once, then ``docker push ADDRESS/bench/manual:TAG`` of the
  same image (the Docker CLI, as a user would type it).

Then pulls, on an Engine with none of the image's layers (every image holding them
removed before each side): ``coops component pull NS/NAME --server URL`` against
``docker pull ADDRESS/NS/NAME@DIGEST``. Checked: each push recorded or held the image,
each pull left the image with its id. Target: coops / docker at most 1.10 (medians) for
both. ``--json PATH`` writes the results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import httpx
from _benchlib import BenchError, Results, add_standard_args, alternate, median, paired_ratio, ratio

from containerops.images import BUSYBOX_IMAGE
from containerops.images.base import build_base_images
from containerops.repository import registry, registry_auth
from containerops.store import Store
from containerops.store.accounts import create_token, create_user

NAME = "component_transfer"
TARGET_RATIO = 1.10
ROOT = Path(__file__).resolve().parents[1]
COOPS = [sys.executable, "-m", "containerops.cli.main"]
NAMESPACE = "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def component(folder: Path, version: str, size_mb: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "component.yaml").write_text(
        f"namespace: {NAMESPACE}\nname: big\nversion: {version}\ntitle: A large component\n"
        "description: Carries random bytes, to measure pushes and pulls.\n"
    )
    (folder / "README.md").write_text("# bench/big\n")
    (folder / "Dockerfile").write_text(
        f'FROM {BUSYBOX_IMAGE}\nCOPY payload /payload\nCMD ["sh", "-c", "ls -l /payload"]\n'
    )
    payload = folder / "payload"
    if not payload.exists() or payload.stat().st_size != size_mb * 2**20:
        with payload.open("wb") as out:
            for _ in range(size_mb):
                out.write(os.urandom(2**20))


class Setup:
    """The server, the registry for it, the token and the Docker CLI's own config folder."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "COOPS_HOME": str(home), "DOCKER_CONFIG": str(home / "docker-config")}
        self.env.pop("COOPS_DATABASE_URL", None)
        self.env.pop("COOPS_REGISTRY", None)
        os.environ.update({"COOPS_HOME": str(home)})
        os.environ.pop("COOPS_REGISTRY", None)
        store = Store.open()
        create_user(store, NAMESPACE)
        self.token = create_token(store, NAMESPACE, "write", name="bench")
        store.close()
        self.env["COOPS_TOKEN"] = self.token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.registry_port = free_port()
        self.address = f"127.0.0.1:{self.registry_port}"
        self.server = subprocess.Popen(
            [*COOPS, "server", "--port", str(self.port), "--executor", "dummy", "--log-level", "warning"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 90  # a busy machine starts it slowly
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.server.poll() is not None:
                raise BenchError("coops server did not start")
            time.sleep(0.1)
        self.start_registry()
        self.run(["docker", "login", self.address, "-u", NAMESPACE, "--password-stdin"], stdin=self.token)

    def start_registry(self) -> None:
        signer = registry_auth.load_signer(create=True)
        assert signer is not None
        registry.start(self.registry_port, auth=registry_auth.auth_settings(self.url, signer))

    def empty_registry(self) -> None:
        registry.stop()
        shutil.rmtree(registry.folder() / "storage", ignore_errors=True)
        deadline = time.monotonic() + 30  # the port may be held a moment (another program's
        while True:  # connection from an ephemeral port on this busy machine)
            try:
                self.start_registry()
                return
            except registry.RegistryError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def run(self, args: list[str], stdin: str | None = None) -> str:
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, input=stdin, cwd=self.home)
        if done.returncode != 0:
            raise BenchError(f"{' '.join(args[:4])} failed: {done.stderr[-800:]}")
        return done.stdout

    def close(self) -> None:
        registry.stop()
        self.server.terminate()
        self.server.wait(20)


def remove_images(client: docker.DockerClient, image_id: str) -> None:
    """Every image holding the component's layers: the next pull finds none of them."""
    for image in client.images.list():
        if image.id == image_id or any(
            t.startswith(("coops/bench/", "127.0.0.1:")) and "/bench/" in t for t in image.tags
        ):
            client.images.remove(image.id, force=True)


def main() -> int:
    parser = add_standard_args(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--size", type=int, default=200, help="MB of random bytes in the image (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per comparison (default 3)")
    args = parser.parse_args()
    size = 20 if args.quick else args.size
    rounds = 1 if args.quick else args.rounds
    results = Results(NAME)
    try:
        client = docker.from_env()
        client.ping()
        build_base_images(only=[BUSYBOX_IMAGE])
    except Exception as exc:  # no Engine here: exit 2, as the convention says
        print(f"{NAME}: cannot run here: {exc}", file=sys.stderr)
        return 2
    if shutil.which("docker-registry") is None or shutil.which("docker") is None:
        print(f"{NAME}: cannot run here: docker-registry and the docker CLI are needed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="coops-bench-transfer-") as where:
        setup = Setup(Path(where))
        folder = Path(where) / "big"
        counter = iter(range(1, 1000))
        pushed: dict[str, str] = {}
        try:
            component(folder, "0.0.1", size)
            setup.run([*COOPS, "component", "build", str(folder)])

            def coops_push() -> float:
                version = f"0.1.{next(counter)}"
                component(folder, version, size)
                setup.run([*COOPS, "component", "build", str(folder)])  # cached; not measured
                setup.empty_registry()
                begin = time.perf_counter()
                out = setup.run([*COOPS, "component", "push", str(folder), "--server", setup.url, "--json"])
                took = time.perf_counter() - begin
                document = json.loads(out)
                if not document.get("created"):
                    raise BenchError(f"coops push did not record a new version: {document}")
                pushed.update(image=document["image"], image_id=document["image_id"], version=version)
                return took

            def docker_push() -> float:
                tag = f"{setup.address}/{NAMESPACE}/manual:r{next(counter)}"
                client.api.tag(f"coops/{NAMESPACE}/big:0.0.1", tag)
                setup.empty_registry()
                begin = time.perf_counter()
                setup.run(["docker", "push", "--quiet", tag])
                took = time.perf_counter() - begin
                client.api.remove_image(tag, noprune=True)
                return took

            pushes = alternate({"coops": coops_push, "docker": docker_push}, rounds)
            # pulls: the last version coops pushed is in the registry; remove every copy first
            component(folder, "0.2.0", size)
            setup.run([*COOPS, "component", "build", str(folder)])
            setup.empty_registry()
            setup.run([*COOPS, "component", "push", str(folder), "--server", setup.url, "--json"])
            shown = json.loads(
                setup.run([*COOPS, "component", "show", f"{NAMESPACE}/big", "--server", setup.url, "--json"])
            )

            def coops_pull() -> float:
                remove_images(client, shown["image_id"])
                begin = time.perf_counter()
                setup.run([*COOPS, "component", "pull", f"{NAMESPACE}/big", "--server", setup.url, "--json"])
                took = time.perf_counter() - begin
                if client.images.get(f"coops/{NAMESPACE}/big:{shown['version']}").id != shown["image_id"]:
                    raise BenchError("coops pull did not leave the image")
                return took

            def docker_pull() -> float:
                remove_images(client, shown["image_id"])
                begin = time.perf_counter()
                setup.run(["docker", "pull", "--quiet", shown["image"]])
                took = time.perf_counter() - begin
                if client.images.get(shown["image"]).id != shown["image_id"]:
                    raise BenchError("docker pull did not leave the image")
                return took

            pulls = alternate({"coops": coops_pull, "docker": docker_pull}, rounds)
        except BenchError as error:
            results.fail(str(error))
            return results.finish(args.json)
        finally:
            remove_images(client, pushed.get("image_id", "none"))
            setup.close()
    results.add("size_mb", size)
    for label, measured in (("push", pushes), ("pull", pulls)):
        results.add(f"{label}.coops_median_s", median(measured["coops"]))
        results.add(f"{label}.docker_median_s", median(measured["docker"]))
        results.add(f"{label}.paired_ratio", paired_ratio(measured["coops"], measured["docker"]))
        results.add(f"{label}.ratio", ratio(measured["coops"], measured["docker"]))
        results.target(f"{label}.ratio", "<=", TARGET_RATIO)
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
