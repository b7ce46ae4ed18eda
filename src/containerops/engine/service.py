"""Running a service job: one HTTP request to a third service, and perhaps its callback.

The request is made from the job's spec (``containerops.model.service``) with its
``${{ ... }}`` references filled in (``containerops.engine.templating``; percent-encoded
in the url); it succeeds when the answer's status is expected (any 2xx by default).
Outputs are read from the JSON answer by path. With ``callback: true`` the
service also gets a single-use ``CO_CALLBACK_URL`` (a ``CO-Callback-URL``
header, a ``CO_CALLBACK_URL`` key in a JSON object body, and
``${{ env.CO_CALLBACK_URL }}``), and the job's result is what the service
posts there: ``{"result": true|false, "outputs": {...}, "log": "..."}``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from containerops.engine import callbacks
from containerops.engine.notify import wait_or_poll, waiting
from containerops.engine.templating import Values
from containerops.model.service import Service
from containerops.store import Store
from containerops.store.callbacks import callback_answer

if TYPE_CHECKING:
    import httpx

#: How long the request itself may take when the job gives no timeout.
DEFAULT_REQUEST_TIMEOUT = 30.0
#: How often the store is read for a callback posted to another process.
CALLBACK_POLL = 0.5
#: The largest answer read, and the longest output value (as for components).
MAX_ANSWER = 4 * 2**20
MAX_OUTPUT = 64 * 1024
#: How much of an answer's body goes to the job's log.
LOG_BODY = 4096

Log = Callable[[str, str], None]


class ServiceError(Exception):
    """Why a service job failed, in words for its reason."""


def extract(data: object, path: tuple[str | int, ...]) -> str | None:
    """The value at ``path`` in JSON data, as text (JSON for lists and objects); None if absent."""
    for part in path:
        if isinstance(data, dict) and str(part) in data:
            data = data[str(part)]
        elif isinstance(data, list) and isinstance(part, int) and -len(data) <= part < len(data):
            data = data[part]
        else:
            return None
    if isinstance(data, str):
        return data
    if isinstance(data, bool):
        return "true" if data else "false"
    return json.dumps(data)


def build_request(service: Service, values: Values, callback_url: str | None) -> httpx.Request:
    import httpx  # here, not at the top: a run without service jobs starts ~40 ms sooner

    url = values.render(service.url, url=True)
    if not url.startswith(("http://", "https://")):
        raise ServiceError(f"url '{url}' is not an http:// or https:// address")
    headers = {name: values.render(text) for name, text in service.headers.items()}
    content: bytes | None = None
    body = service.body
    if isinstance(body, dict | list):
        data = values.render_data(body)
        if callback_url and isinstance(data, dict):
            data["CO_CALLBACK_URL"] = callback_url
        content = json.dumps(data).encode()
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
    elif isinstance(body, str):
        content = values.render(body).encode()
    if callback_url:
        headers["CO-Callback-URL"] = callback_url
    try:
        return httpx.Request(service.method, url, headers=headers, content=content)
    except (httpx.InvalidURL, ValueError) as error:
        raise ServiceError(f"cannot call '{url}': {error}") from None


async def call(
    service: Service,
    values: Values,
    *,
    store: Store,
    run_id: int,
    job_id: int,
    attempt: int,
    callback_base: str | None,
    log: Log,
    on_token: Callable[[str], None],
    mask: Callable[[str], str],
) -> dict[str, str]:
    """Make the call (and wait for the callback); the outputs, or ``ServiceError`` with why.

    ``on_token`` learns the callback token (to be masked); ``mask`` masks what the service posts.
    """
    callback_id: int | None = None
    callback_url: str | None = None
    if service.callback:
        if not callback_base:
            raise ServiceError(
                "this service job waits for a callback, and this engine has no public URL for it "
                "(run it on `coops server`)"
            )
        callback_id, token = callbacks.create(store, run_id, job_id, attempt, service.timeout, mask)
        on_token(token)
        callback_url = callbacks.url(callback_base, token)
        values = values.but(env={**values.env, "CO_CALLBACK_URL": callback_url})
    import httpx  # here, not at the top: see build_request

    try:
        request = build_request(service, values, callback_url)
        log("stdout", f"{request.method} {request.url}")
        timeout = min(service.timeout or DEFAULT_REQUEST_TIMEOUT, DEFAULT_REQUEST_TIMEOUT)
        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                response = await client.send(request, stream=True)
                try:
                    raw = await _read_limited(response)
                finally:
                    await response.aclose()
        except httpx.TimeoutException:
            raise ServiceError(f"{request.method} {request.url}: no answer within {timeout:g} s") from None
        except httpx.HTTPError as error:
            raise ServiceError(f"{request.method} {request.url}: {error or type(error).__name__}") from None
        text = raw.decode(response.encoding or "utf-8", "replace")
        log("stdout", f"-> {response.status_code} {response.reason_phrase}")
        for line in text[:LOG_BODY].splitlines():
            log("stdout", line)
        expected = service.expect or tuple(range(200, 300))
        if response.status_code not in expected:
            wanted = ", ".join(map(str, service.expect)) if service.expect else "2xx"
            raise ServiceError(
                f"{request.method} {request.url} answered {response.status_code}, not {wanted}"
            )
        if callback_id is None:
            return _outputs(service, text)
        try:
            async with asyncio.timeout(service.timeout):
                return await _wait_for_callback(store, callback_id, service, log)
        except TimeoutError:
            raise ServiceError(f"no callback within {service.timeout or 0:g} s (service timeout)") from None
    finally:
        if callback_id is not None:
            callbacks.close(store, callback_id)


async def _read_limited(response: httpx.Response) -> bytes:
    """The answer's body, refused past ``MAX_ANSWER`` bytes."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_ANSWER:
            raise ServiceError(f"the answer is larger than {MAX_ANSWER // 2**20} MiB")
    return bytes(body)


def _outputs(service: Service, text: str) -> dict[str, str]:
    if not service.outputs:
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply to read
        raise ServiceError("the answer is not JSON, so its outputs cannot be read") from None
    return _pick(service, data, "the answer")


def _pick(service: Service, data: object, what: str) -> dict[str, str]:
    outputs: dict[str, str] = {}
    for name, path in service.outputs.items():
        value = extract(data, path)
        if value is None:
            shown = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
            raise ServiceError(f"output {name}: {what} has nothing at {shown}")
        if len(value.encode()) > MAX_OUTPUT:
            raise ServiceError(f"output {name}: longer than {MAX_OUTPUT // 1024} KiB")
        outputs[name] = value
    return outputs


async def _wait_for_callback(store: Store, callback_id: int, service: Service, log: Log) -> dict[str, str]:
    log("stdout", "waiting for the service's callback")
    with waiting(callbacks.KIND, callback_id) as event:
        while True:
            got = callback_answer(store, callback_id)
            if got is not None:
                break
            await wait_or_poll(event, CALLBACK_POLL)
    for line in got.log.splitlines()[:10_000]:
        log("stdout", line)
    if not got.result:
        raise ServiceError("the service reported failure in its callback (result: false)")
    outputs = dict(got.outputs)
    if service.outputs:  # paths read the callback's outputs, when the job maps them
        outputs.update(_pick(service, got.outputs, "the callback's outputs"))
    return outputs
