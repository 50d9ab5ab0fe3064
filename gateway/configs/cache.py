"""A config's `cache: {"mode": "simple"}`: exact-match answers of chat completions, kept in
Django's cache framework (the "responses" cache: the database by default, Redis to share it
between replicas; see settings.CACHES).

The key is a sha256 of the normalised request: the target (provider, record, host, and a
hash of its credentials and options: never a secret in clear), the body without its
streaming options, and each image by the sha256 of its bytes (so a base64 image hits the entry
made by the same bytes sent another way, or fetched from a URL) or, for a URL not fetched, by
its URL. A stream is answered from an entry as server-sent events; a stream's answer is kept
once it has ended cleanly, before its last event goes out, so the client's next request finds
it. The cache being down costs a MISS (counted in `failures`, logged), never an error.
"""

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.http import HttpResponse, StreamingHttpResponse

from gateway import log as request_log
from gateway import offload, proxy
from gateway.chat import DECODED_IMAGE, Chat
from gateway.configs.schema import Cache
from gateway.providers.base import Target, encode_sse

log = logging.getLogger(__name__)

FORCE_REFRESH = "x-portkey-cache-force-refresh"
_STREAM_KEYS = ("stream", "stream_options")
# A cache that does not answer within this is taken as down for the request (a MISS), and
# left alone for COOL_DOWN_SECONDS: requests meanwhile go to the upstream without waiting.
TIMEOUT_SECONDS = 2.0
COOL_DOWN_SECONDS = 5.0
# Counted, for /healthz: reads and writes that failed (the cache down, an unreadable entry),
# those not tried while it cooled down after a failure, answers not kept because they were
# larger than GATEWAY_CACHE_MAX_ENTRY_BYTES.
failures = {"get": 0, "set": 0, "skipped": 0, "too_large": 0}
_down_until = 0.0  # time.monotonic() until which the cache is not tried
# Django runs a cache call on the thread of the request's ORM calls: a Redis that hangs (no
# answer, no reset) would hold that thread for good. Network caches get threads of their own.
_network = ThreadPoolExecutor(max_workers=4, thread_name_prefix="iris-response-cache")
# Target.options that a client's x-portkey-* headers put there but that do not change the
# answer (tracing, the log, the config's own handling); any other option is in the key, so
# Portkey's x-portkey-cache-namespace partitions the cache.
_NOT_KEYED_OPTIONS = frozenset(
    {
        "cache-force-refresh",
        "config",
        "debug",
        "metadata",
        "parent-span-id",
        "request-timeout",
        "retry-count",
        "span-id",
        "span-name",
        "trace-id",
    }
)
# Headers a stream's response is made with again (event_stream sets its own).
_STREAM_OWN_HEADERS = ("content-type", "cache-control", "x-accel-buffering")


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
    body = await _read(key)
    if body is None:
        return Entry(key, "MISS", max_age)
    record = state.record
    record.upstream_url = ""
    record.first_byte()
    if parsed.stream:
        record.is_stream = True
        response: HttpResponse = proxy.event_stream(_replayed(body, parsed, record), {})
    else:
        record.finish(200, body)
        request_log.submit(record)
        response = HttpResponse(orjson.dumps(body), content_type="application/json")
    return Entry(key, "HIT", max_age, response)


def keep(entry: Entry, response: HttpResponse, record: request_log.Record) -> HttpResponse:
    """The upstream's answer, kept for the next identical request: a whole answer now (written
    in the background), a stream once it has ended cleanly."""
    if entry.key is None or response.status_code != 200:
        return response
    if isinstance(response, StreamingHttpResponse):
        headers = {k: v for k, v in response.items() if k.lower() not in _STREAM_OWN_HEADERS}
        return proxy.event_stream(_kept_after(response.iris_stream, entry, record), headers)
    if _keepable(response.content):
        _writing(entry, response.content)
    return response


def cache_key(target: Target, chat: Chat) -> str:
    """The entry's key: a digest, so neither the prompt nor a credential is readable in it."""
    body = orjson.loads(orjson.dumps({k: v for k, v in chat.body.items() if k not in _STREAM_KEYS}))
    images = []
    for img in chat.images:
        fetched = img.data is not None
        images.append([img.message, img.part, img.sha256 if fetched else img.url])
        if fetched and img.origin == "url":  # keyed by its bytes, as a base64 image is
            _set_image_url(body, img.message, img.part, DECODED_IMAGE)
    documents = [[d.message, d.part, d.sha256] for d in chat.documents]
    normalised = {
        "target": [target.provider, target.slug, target.base_url, _credentials(target)],
        "body": body,
        "images": images,
        "documents": documents,
    }
    dumped = orjson.dumps(normalised, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return f"iris:chat:{hashlib.sha256(dumped).hexdigest()}"


def _credentials(target: Target) -> str:
    """What else makes the target's answer: its key, its options (an Azure deployment, AWS
    keys, the image fit), the headers sent upstream. Hashed: secrets stay out of the key."""
    options = {k: v for k, v in target.options.items() if k not in _NOT_KEYED_OPTIONS}
    what = {"key": target.api_key, "options": options, "headers": target.headers}
    dumped = orjson.dumps(what, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    return hashlib.sha256(dumped).hexdigest()


def _set_image_url(body: dict, message: int, part: int, url: str) -> None:
    try:
        spec = body["messages"][message]["content"][part]["image_url"]
        if isinstance(spec, dict):
            spec["url"] = url
    except (KeyError, IndexError, TypeError):  # override_params replaced the messages
        pass


def _keepable(content: bytes) -> bool:
    if len(content) > settings.GATEWAY_CACHE_MAX_ENTRY_BYTES:
        failures["too_large"] += 1
        return False
    return True


def _available() -> bool:
    if time.monotonic() < _down_until:
        failures["skipped"] += 1
        return False
    return True


def _failed(what: str, exc: BaseException) -> None:
    global _down_until
    failures[what] += 1
    _down_until = time.monotonic() + COOL_DOWN_SECONDS
    verb = "read" if what == "get" else "written"
    log.warning("the response cache could not be %s: %r", verb, exc)


async def _call(method: str, *args: Any) -> Any:
    """The cache's get or set, within TIMEOUT_SECONDS: the database cache on Django's thread
    (its connection belongs there), another on ours."""
    backend = caches["responses"]
    if isinstance(backend, DatabaseCache):
        call = getattr(backend, f"a{method}")(*args)
    else:
        bound = functools.partial(getattr(backend, method), *args)
        call = asyncio.get_running_loop().run_in_executor(_network, bound)
    async with asyncio.timeout(TIMEOUT_SECONDS):
        return await call


async def _read(key: str) -> dict | None:
    """The kept answer, or None: none kept, or the cache down (counted, logged)."""
    if (pending := _writes.get(key)) is not None:  # this process is writing it: wait for it
        await asyncio.wait({pending}, timeout=TIMEOUT_SECONDS)
    if not _available():
        return None
    try:
        stored = await _call("get", key)
    except Exception as exc:  # the cache down: answered by the upstream
        _failed("get", exc)
        return None
    if stored is None:
        return None
    try:
        body = orjson.loads(stored)
    except (orjson.JSONDecodeError, TypeError) as exc:  # an entry not ours: ignored
        failures["get"] += 1
        log.warning("an entry of the response cache is not JSON: %r", exc)
        return None
    return body if isinstance(body, dict) else None


async def _write(entry: Entry, content: bytes) -> None:
    if not _available():
        return
    try:
        await _call("set", entry.key, content, entry.max_age)
    except Exception as exc:  # the answer stands; the next request asks the upstream again
        _failed("set", exc)


_writes: dict[str, asyncio.Task] = {}  # held until done: the loop keeps only weak references


def _writing(entry: Entry, content: bytes) -> None:
    """Write in the background: the answer does not wait for it (a lookup of the same key in
    this process does)."""
    assert entry.key is not None
    key = entry.key
    task = asyncio.get_running_loop().create_task(_write(entry, content))
    _writes[key] = task
    task.add_done_callback(lambda done: _written(key, done))


def _written(key: str, task: asyncio.Task) -> None:
    if _writes.get(key) is task:  # not a later write of the same key
        del _writes[key]


def _complete(record: request_log.Record) -> bool:
    """A stream that ended as the upstream meant it to: no error, a reason for every choice."""
    body = record.response_body
    if record.status_code != 200 or record.error_type or not isinstance(body, dict):
        return False
    choices = body.get("choices") or ()
    return bool(choices) and all(choice.get("finish_reason") for choice in choices)


async def _kept_after(
    stream: AsyncIterator[bytes], entry: Entry, record: request_log.Record
) -> AsyncIterator[bytes]:
    """The upstream's events as they come, the last held back until the answer is kept."""
    last = None
    try:
        async for chunk in stream:
            if last is not None:
                yield last
            last = chunk
        if _complete(record):
            content = orjson.dumps(record.response_body)
            if _keepable(content):
                await _write(entry, content)
        if last is not None:
            yield last
    finally:
        await stream.aclose()  # a client gone: the relay logs its partial stream now


async def _replayed(body: dict, chat: Chat, record: request_log.Record) -> AsyncIterator[bytes]:
    """A kept completion as a chat.completion.chunk stream: the role and the whole message in
    one chunk per choice (each tool call whole, with its index, as OpenAI's first delta of a
    call has it), then the finish reasons, the usage if asked for, then [DONE]."""
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
        delta = {k: v for k, v in message.items() if v is not None}
        if message.get("tool_calls"):
            delta["tool_calls"] = [
                {"index": i, **call} for i, call in enumerate(message["tool_calls"])
            ]
        index = choice.get("index", 0)
        content = {"index": index, "delta": delta, "finish_reason": None}
        if choice.get("logprobs") is not None:
            content["logprobs"] = choice["logprobs"]
        finish = {"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")}
        events += [{**head, "choices": [content]}, {**head, "choices": [finish]}]
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
