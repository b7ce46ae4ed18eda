"""A job's local image goes to the registry once, however many jobs start with it at once,
and a push the registry fails (as it can when two push the same layers) is tried again."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import docker
import httpx
from fastapi import FastAPI, Request, Response

from containerops.executors.swarm import SwarmExecutor
from containerops.images import BUSYBOX_IMAGE
from tests.server.authapp import serve
from tests.swarmharness import Swarm

#: Headers about one connection, which a proxy does not pass on.
HOP_HEADERS = {"connection", "transfer-encoding", "keep-alive"}


def test_jobs_starting_together_push_their_image_once(swarm: Swarm) -> None:
    image = f"coopstest/publish:{uuid.uuid4().hex[:12]}"
    client = docker.from_env()
    client.images.get(BUSYBOX_IMAGE).tag(image)
    executor = SwarmExecutor(registry=swarm.registry)
    pushed: list[str] = []
    push = executor._push
    all_waiting = threading.Barrier(4)

    def counted(name: str) -> str:
        pushed.append(name)
        return push(name)

    def publish(_: int) -> str:
        all_waiting.wait()
        return executor._publish(image)

    executor._push = counted  # type: ignore[method-assign]
    try:
        with ThreadPoolExecutor(4) as pool:
            references = list(pool.map(publish, range(4)))
    finally:
        client.images.remove(image)
        client.images.remove(f"{swarm.registry}/{image}")
        client.close()
    assert pushed == [image]
    assert len(set(references)) == 1
    assert references[0].startswith(f"{swarm.registry}/coopstest/publish@sha256:")


def test_a_push_the_registry_fails_once_is_tried_again(swarm: Swarm) -> None:
    """A proxy in front of the harness's registry answers the check that follows the image
    config's upload with a 500, as the registry did when two pushed the same image at once
    (the Engine does not retry a config's upload itself, unlike a layer's)."""
    client = docker.from_env()
    config = str(client.images.get(BUSYBOX_IMAGE).id)  # an image's id is its config's digest
    uploaded: set[str] = set()
    failed: list[str] = []
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    async def forward(path: str, request: Request) -> Response:
        digest = path.rpartition("/blobs/")[2]
        if request.method == "HEAD" and digest == config and digest in uploaded and not failed:
            failed.append(digest)
            return Response(status_code=500)
        async with httpx.AsyncClient(base_url=f"http://{swarm.registry}") as registry:
            answer = await registry.request(
                request.method,
                request.url.path,
                params=request.query_params,
                headers=request.headers.raw,  # Host too: the registry's Location points back here
                content=await request.body(),
            )
        if request.method == "PUT" and answer.status_code == 201 and "digest" in request.query_params:
            uploaded.add(request.query_params["digest"])
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        return Response(answer.content, answer.status_code, headers)

    image = f"coopstest/retry:{uuid.uuid4().hex[:12]}"
    client.images.get(BUSYBOX_IMAGE).tag(image)
    with serve(app) as url:
        proxy = url.removeprefix("http://")
        try:
            reference = SwarmExecutor(registry=proxy)._publish(image)
        finally:
            client.images.remove(image)
            client.images.remove(f"{proxy}/{image}")
            client.close()
    assert failed, "the proxy never failed the check of the uploaded config"
    assert reference.startswith(f"{proxy}/coopstest/retry@sha256:")
