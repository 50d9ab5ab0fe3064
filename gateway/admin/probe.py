"""Test connection: one tiny request to a provider through the real proxy path, logged like
any other, with a small generated image for providers that read images."""

import asyncio
import base64
import dataclasses
import io
import logging
import time
from functools import cache

import orjson
from asgiref.sync import async_to_sync
from PIL import Image

from gateway import log as request_log
from gateway import proxy, targets
from gateway.chat import parse_chat
from gateway.errors import GatewayError
from gateway.models import Provider
from gateway.providers.base import Target

log = logging.getLogger(__name__)

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
    try:
        target = targets.target_for(provider)
        chat = parse_chat(orjson.dumps(_body(provider)))
    except GatewayError as error:
        return Outcome(provider, False, error.message)
    target = dataclasses.replace(target, timeout=min(target.timeout or TIMEOUT, TIMEOUT))
    record = request_log.Record(
        path="/admin/test-connection",
        request_headers={"x-portkey-provider": f"@{provider.slug}"},
        provider=provider.kind,
        provider_slug=provider.slug,
        model=chat.model,
        metadata={"iris": "test-connection", "user": user},
        raw_body=chat.raw,
        chat=chat,
    )
    started = time.perf_counter()
    try:
        response = await proxy.forward(chat, target, record)
        reply = _reply(orjson.loads(response.content))
    except Exception as exc:
        return _failed(exc, provider, record, target)
    took = (time.perf_counter() - started) * 1000
    said = f"replied “{reply[:200]}”" if reply else "answered (with no text)"
    return Outcome(provider, True, f"{chat.model} {said} in {took:.0f} ms.")


def _failed(
    exc: Exception, provider: Provider, record: request_log.Record, target: Target
) -> Outcome:
    if not isinstance(exc, GatewayError):
        log.exception("test connection of @%s failed unexpectedly", provider.slug)
        exc = GatewayError(500, f"Internal gateway error ({type(exc).__name__}).")
    targets.scrub(exc, record, target)
    record.fail(exc)
    request_log.submit(record)
    return Outcome(provider, False, f"HTTP {exc.status}: {exc.message}")


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
