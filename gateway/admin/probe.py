"""Test connection: one tiny request to a provider through the real proxy path, logged like
any other, with a small generated image for providers that read images."""

import asyncio
import base64
import dataclasses
import io
import time
from functools import cache

import orjson
from asgiref.sync import async_to_sync
from PIL import Image

from gateway import log as request_log
from gateway import service, targets
from gateway.errors import GatewayError
from gateway.models import Provider

PROMPT = "This is a connection test from the Iris admin. Reply with one word."
IMAGE_PROMPT = "This is a connection test from the Iris admin. What colour is this image? One word."
TIMEOUT = 30.0  # seconds: an admin waits on the page, and the upstream default is 10 minutes


@dataclasses.dataclass
class Outcome:
    provider: Provider
    ok: bool
    message: str  # safe to show: no secret in it


def try_connections(items: list[Provider], *, user: str) -> list[Outcome]:
    """Test each provider (concurrently); from sync code such as an admin view."""
    return async_to_sync(_run_all)(items, user)


async def _run_all(items: list[Provider], user: str) -> list[Outcome]:
    return list(await asyncio.gather(*(_run(provider, user) for provider in items)))


async def _run(provider: Provider, user: str) -> Outcome:
    """One request through the request path every client takes (gateway/service.py), to the
    saved record itself: a disabled provider can be tested before it is enabled."""
    try:
        target = targets.target_for(provider)
        body = orjson.dumps(_body(provider))
    except GatewayError as error:
        return Outcome(provider, False, error.message)
    target = dataclasses.replace(target, timeout=min(target.timeout or TIMEOUT, TIMEOUT))
    headers = {"x-portkey-provider": f"@{provider.slug}"}
    record = request_log.Record(
        path="/admin/test-connection",
        request_headers=headers,
        metadata={"iris": "test-connection", "user": user},
    )

    async def read(record: request_log.Record) -> bytes:
        return body

    call = service.Call(
        record.path, headers, read, authenticate=False, record=record, target=target
    )
    started = time.perf_counter()
    response = await service.complete(call)
    took = (time.perf_counter() - started) * 1000
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        answer = {}
    if response.status_code != 200:
        error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
        message = error.get("message") or "no error message"
        return Outcome(provider, False, f"HTTP {response.status_code}: {message}")
    reply = _reply(answer)
    said = f"replied “{reply[:200]}”" if reply else "answered (with no text)"
    return Outcome(provider, True, f"{orjson.loads(body)['model']} {said} in {took:.0f} ms.")


def _body(provider: Provider) -> dict:
    model = provider.default_model or provider.azure_deployment_id  # Azure: the deployment
    if not model:
        raise GatewayError(400, "Set a default model first: the test request needs one.")
    content: list[dict] = [{"type": "text", "text": IMAGE_PROMPT}]
    # An OpenAI-compatible server may serve a text-only model: it gets no image.
    if provider.kind == "openai" and provider.base_url:
        content = [{"type": "text", "text": PROMPT}]
    else:
        content.append({"type": "image_url", "image_url": {"url": _image_uri()}})
    return {"model": model, "messages": [{"role": "user", "content": content}]}


@cache
def _image_uri() -> str:
    """A 32×32 red PNG: big enough for every provider's minimum, a few hundred bytes."""
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (220, 30, 40)).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _reply(body: dict) -> str:
    try:
        return str(body["choices"][0]["message"]["content"] or "").strip()
    except (KeyError, IndexError, TypeError):
        return ""
