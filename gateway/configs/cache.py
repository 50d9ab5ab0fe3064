"""A config's `cache: {"mode": "simple"}`: exact-match answers of chat completions, kept in
Django's cache framework (the "responses" cache: the database by default, Redis to share it
between replicas; see settings.CACHES).

The key is the normalised request: the target (provider, record, host, a hash of its key),
the body without its streaming options, and each image by the sha256 of its bytes (so a
base64 image hits the entry made by the same bytes sent another way) or, for a URL not
fetched, by its URL. A stream is answered from an entry as server-sent events; a stream's
answer is kept once it ends cleanly.
"""

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.core.cache import caches
from django.http import HttpResponse, StreamingHttpResponse

from gateway import log as request_log
from gateway import offload, proxy
from gateway.chat import Chat
from gateway.configs.schema import Cache
from gateway.providers.base import Target, encode_sse

log = logging.getLogger(__name__)

FORCE_REFRESH = "x-portkey-cache-force-refresh"
_STREAM_KEYS = ("stream", "stream_options")
failures = {"get": 0, "set": 0, "too_large": 0}  # counted, shown by /health (gateway/log/health.py)


@dataclass
class Entry:
    key: str | None
    status: str  # MISS, REFRESH or DISABLED (HIT comes with a response)
    max_age: int
    response: HttpResponse | None = None


async def lookup(conf: Cache, target: Target, parsed: Any, state: Any) -> Entry:
    max_age = conf.max_age or settings.GATEWAY_CACHE_MAX_AGE
    if not isinstance(parsed, Chat) or state.endpoint.name != "chat.completions":
        return Entry(None, "DISABLED", max_age)  # chat completions only, for now
    key = await offload.by_size(len(parsed.raw), cache_key, target, parsed)
    if state.headers.get(FORCE_REFRESH, "").strip().lower() == "true":
        return Entry(key, "REFRESH", max_age)
    try:
        stored = await caches["responses"].aget(key)
    except Exception:  # the cache is down: answered from the upstream, counted
        failures["get"] += 1
        log.warning("the response cache could not be read", exc_info=True)
        return Entry(key, "MISS", max_age)
    if stored is None:
        return Entry(key, "MISS", max_age)
    body = orjson.loads(stored)
    record = state.record
    record.upstream_url = ""
    record.first_byte()
    if parsed.stream:
        record.is_stream = True
        response: HttpResponse = proxy.event_stream(_replayed(body, parsed, record), {})
    else:
        record.finish(200, body)
        request_log.submit(record)
        response = HttpResponse(stored, content_type="application/json")
    return Entry(key, "HIT", max_age, response)


def keep(entry: Entry, response: HttpResponse, record: request_log.Record) -> HttpResponse:
    """The upstream's answer, kept for the next identical request: a whole answer now, a
    stream once it has ended cleanly."""
    if entry.key is None or response.status_code != 200:
        return response
    if isinstance(response, StreamingHttpResponse):
        stream = response.iris_stream
        wrapped = proxy.event_stream(_kept_after(stream, entry, record), dict(response.items()))
        return wrapped
    _store(entry, response.content)
    return response


def cache_key(target: Target, chat: Chat) -> str:
    body = {k: v for k, v in chat.body.items() if k not in _STREAM_KEYS}
    images = [
        [img.message, img.part, img.sha256 if img.data is not None else img.url]
        for img in chat.images
    ]
    documents = [[d.message, d.part, d.sha256] for d in chat.documents]
    who = hashlib.sha256(target.api_key.encode()).hexdigest()[:16] if target.api_key else ""
    normalised = {
        "target": [target.provider, target.slug, target.base_url, who],
        "body": body,
        "images": images,
        "documents": documents,
    }
    digest = hashlib.sha256(orjson.dumps(normalised, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"iris:chat:{digest}"


_writes: set[asyncio.Task] = set()  # held until done: the loop keeps only weak references


def _store(entry: Entry, content: bytes) -> None:
    """Write in the background (a thread: Django's cache backends are synchronous); the
    answer does not wait. A failure is counted and logged, the answer stands."""
    if len(content) > settings.GATEWAY_CACHE_MAX_ENTRY_BYTES:
        failures["too_large"] += 1
        return
    task = asyncio.get_running_loop().create_task(
        caches["responses"].aset(entry.key, content, entry.max_age)
    )
    _writes.add(task)
    task.add_done_callback(_written)


def _written(task: asyncio.Task) -> None:
    _writes.discard(task)
    if not task.cancelled() and task.exception() is not None:
        failures["set"] += 1
        log.warning("the response cache could not be written: %r", task.exception())


async def _kept_after(
    stream: AsyncIterator[bytes], entry: Entry, record: request_log.Record
) -> AsyncIterator[bytes]:
    async for chunk in stream:
        yield chunk
    if record.status_code == 200 and not record.error_type and record.response_body:
        _store(entry, orjson.dumps(record.response_body))


async def _replayed(body: dict, chat: Chat, record: request_log.Record) -> AsyncIterator[bytes]:
    """A kept completion as a chat.completion.chunk stream: the role and the whole message in
    one chunk per choice, then the finish reasons, the usage if asked for, then [DONE]."""
    head = {
        "id": body.get("id"),
        "object": "chat.completion.chunk",
        "created": body.get("created"),
        "model": body.get("model"),
        "system_fingerprint": body.get("system_fingerprint"),
    }
    events = []
    for choice in body.get("choices") or ():
        message = dict(choice.get("message") or {})
        delta = {k: v for k, v in message.items() if v is not None and k != "refusal"}
        if message.get("tool_calls"):
            delta["tool_calls"] = [
                {"index": i, **call} for i, call in enumerate(message["tool_calls"])
            ]
        index = choice.get("index", 0)
        for event in (
            {**head, "choices": [{"index": index, "delta": delta, "finish_reason": None}]},
            {
                **head,
                "choices": [
                    {"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")}
                ],
            },
        ):
            events.append(event)
    if chat.include_usage and body.get("usage"):
        events.append({**head, "choices": [], "usage": body["usage"]})
    try:
        for event in events:
            record.add_chunk(event)
            yield encode_sse(event)
        yield proxy.DONE
        record.finish(200, record.assembled())
    except (asyncio.CancelledError, GeneratorExit):
        record.client_gone()
        raise
    finally:
        request_log.submit(record)
