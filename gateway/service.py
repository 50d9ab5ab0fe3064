"""The request path every endpoint shares: auth, the body, routing, the upstream and the log.

An Endpoint says how its body is parsed and how the parsed request goes upstream; everything
else (keys, `@slug` routing, the record, errors in OpenAI's shape) is the same for
/v1/chat/completions, /v1/images/*, the prompts API and the logs UI's prompt editor."""

import asyncio
import dataclasses
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from gateway import auth, offload, preflight, proxy, targets
from gateway import log as request_log
from gateway.chat import Chat, parse_chat
from gateway.configs import runner, store
from gateway.errors import GatewayError
from gateway.providers.base import Target

log = logging.getLogger(__name__)


# Request headers, looked up case-insensitively (Django's request.headers is such a mapping).
Headers = Mapping[str, str]
# Makes the body of a request (and may note more on its log record): the client's body as
# sent, or a saved prompt rendered with the client's variables.
BodyMaker = Callable[[request_log.Record], Awaitable[bytes]]


@dataclass(frozen=True)
class Endpoint:
    name: str  # as logged: "chat.completions", "images.generations", …
    # The raw body parsed (a Chat, an ImageJob): 400s name what is wrong.
    parse: Callable[[Headers, bytes], Awaitable[Any]]
    # The parsed request sent to the target and answered; submits the record itself.
    forward: Callable[[Any, Target, request_log.Record], Awaitable[HttpResponse]]


@dataclass
class Call:
    """One client request as the service takes it: explicit values, not Django's request."""

    path: str
    headers: Headers
    body: BodyMaker
    # False for callers who vouch for their user themselves: the logs UI's prompt editor (its
    # users log in) and the admin's Test connection.
    authenticate: bool = True
    record: request_log.Record | None = None  # a record of the caller's, else one is begun
    target: Target | None = None  # chosen by the caller (Test connection): no routing
    # False: a key's default config does not apply (a replay goes where its user said); an
    # x-portkey-config header still does.
    default_config: bool = True

    @classmethod
    def of(cls, request: HttpRequest, body: BodyMaker | None = None, **options) -> "Call":
        """The call an API view makes of its request: the client's body unless `body`."""
        return cls(request.path, request.headers, body or client_body(request), **options)


def logs_requests(view: Callable) -> Callable:
    """Marks a /v1/ view whose requests go through complete() (and so are logged): a body that
    never fully arrives (a deadline, SIGTERM, a hang-up) is still handed to it by the lean
    handler (gateway/asgi.py), so the 408, 503 or 499 is logged as this endpoint's, after the
    key is checked, like any other of its answers. Other views are not run for such a body."""
    view.iris_logs_requests = True  # type: ignore[attr-defined]
    return view


def unread_body(request: HttpRequest) -> None:
    """Raise what a body that never fully arrived ends in: its GatewayError, or
    CancelledError for a client that hung up mid-body (logged as gone, 499)."""
    unread = getattr(request, "iris_body_unread", None)
    if isinstance(unread, GatewayError):
        raise unread
    if unread is not None:
        raise asyncio.CancelledError


def client_body(request: HttpRequest) -> BodyMaker:
    async def read(record: request_log.Record) -> bytes:
        unread_body(request)
        size = int(request.headers.get("content-length") or 0)
        return await offload.by_size(size, read_body, request)  # a big body sits in a file

    return read


async def complete(call: Call, endpoint: Endpoint | None = None) -> HttpResponse:
    """The path of every proxied request (a chat completion unless `endpoint` says otherwise):
    auth, the body, routing, the upstream, the record."""
    endpoint = endpoint or CHAT
    headers = call.headers
    record = call.record or request_log.Record.begin(call.path, headers)
    record.endpoint = endpoint.name
    target = None
    try:
        key = await auth.check(headers) if call.authenticate else None
        record.api_key_id = key.pk if key else None
        record.raw_body = await call.body(record)
        record.metadata = targets.metadata(headers) or record.metadata
        parsed = record.chat = await endpoint.parse(headers, record.raw_body)
        record.model, record.is_stream = parsed.model, parsed.stream
        if getattr(parsed, "images", None):  # decoded images: none taken on past the log's
            await request_log.writer.room()  # bound (a stream's record comes only at its end)
        config = (
            None
            if call.target
            else await store.for_request(headers, key, use_default=call.default_config)
        )
        if config is not None:
            record.config_id, record.cache_status = config[1], "DISABLED"  # unless a cache says
            run = runner.Run(parsed, headers, key, record, endpoint, with_image_fit)
            response = await runner.run(config[0], run)
        else:
            target = call.target or await targets.resolve(headers, parsed, key=key)
            target = await with_image_fit(headers, target, parsed)
            record.provider, record.provider_slug = target.provider, target.slug
            record.model = parsed.model  # "@slug/gpt-4o" went upstream as "gpt-4o"
            response = await endpoint.forward(parsed, target, record)
    except asyncio.CancelledError:  # the client hung up while we waited on the upstream
        if not record.submitted:
            record.client_gone()
            request_log.submit(record)
        raise
    except Exception as exc:
        error = exc if isinstance(exc, GatewayError) else internal_error(exc, call.path)
        targets.scrub(error, record, target)
        record.fail(error)
        request_log.submit(record)
        response = error.response()
    if settings.LOG_JOURNAL_BEFORE_ANSWER and record.submitted and not response.streaming:
        await request_log.writer.journaled(record.request_id)
    elif record.submitted and not response.streaming:
        await request_log.writer.room()  # images pile up no faster than the log writes them
    response["x-iris-request-id"] = record.request_id
    portkey_headers(response, record.trace_id or record.request_id, record.provider)
    if record.attempts:
        last = record.attempts[-1]
        response["x-portkey-last-used-option-index"] = last["target"]
        exhausted = last.get("exhausted")  # Portkey's -1: retries spent, or refused as too long
        response["x-portkey-retry-attempt-count"] = "-1" if exhausted else str(last["retry"])
        response["x-portkey-cache-status"] = record.cache_status or "DISABLED"
    return response


def portkey_headers(response: HttpResponse, trace_id: str, provider: str = "") -> None:
    """The response headers Portkey's gateway sends (the `portkey-ai` SDK's get_headers()
    reads them): the provider, the trace id (the request's, else Iris's request id), and
    without a config, no retries and no cache."""
    if provider:
        response["x-portkey-provider"] = provider
    response["x-portkey-trace-id"] = trace_id
    response["x-portkey-retry-attempt-count"] = "0"
    response["x-portkey-cache-status"] = "DISABLED"


def with_portkey_headers(view: Callable[..., Awaitable[HttpResponse]]):
    """A /v1/ view outside the request path (a GET, a DELETE) answers with Portkey's headers
    too: the client's trace id, or a fresh one."""

    @functools.wraps(view)
    async def stamped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = await view(request, *args, **kwargs)
        trace = request.headers.get("x-portkey-trace-id", "")[:200] or uuid.uuid4().hex
        portkey_headers(response, trace)
        return response

    return stamped


async def parse(headers: Headers, raw: bytes) -> Chat:
    """parse_chat; a provider named by `@slug` in the headers lends its default model to a
    body that names none."""
    try:
        return await _parse_chat(raw)
    except GatewayError as error:
        raw = await targets.with_default_model(headers, raw, error)
        return await _parse_chat(raw)


async def _parse_chat(raw: bytes) -> Chat:
    """A big body is parsed in a thread: its JSON, base64 and image headers would hold the
    event loop in proportion to its size. A small one inline (a thread hop costs ~50 µs)."""
    limits = {
        "max_depth": settings.GATEWAY_MAX_JSON_DEPTH,
        "max_images": settings.GATEWAY_MAX_IMAGES_PER_REQUEST,
    }
    # A PDF's page count takes PDFium's lock, which a logs UI render may hold: never on the loop.
    # Big bodies go to a thread anyway; searching one for "file_data" costs ~1 ms per MB of
    # base64 (CPython's substring search stalls on base64 text), so only small ones are.
    if len(raw) > settings.GATEWAY_THREAD_BODY_BYTES or b"file_data" in raw:
        return await asyncio.to_thread(parse_chat, raw, **limits)
    return parse_chat(raw, **limits)


CHAT = Endpoint("chat.completions", parse, proxy.forward)


async def with_image_fit(headers: Headers, target: Target, parsed: Any) -> Target:
    """The target, told whether to auto-fit this request's images (preflight.OPTION): the
    x-iris-image-fit header (auto | off) first, then the admin's Provider.fit_images for an
    `@slug` (already in the target's options), then GATEWAY_IMAGE_FIT."""
    asked = headers.get(preflight.HEADER, "").strip().lower()
    if asked not in ("", "auto", "off"):
        raise GatewayError(
            400,
            f"{preflight.HEADER} must be 'auto' or 'off'.",
            code="invalid_image_fit",
            param=preflight.HEADER,
        )
    if not getattr(parsed, "images", None):
        return target
    if not asked:
        asked = (
            "auto" if settings.GATEWAY_IMAGE_FIT == "auto" or preflight.wanted(target) else "off"
        )
    return dataclasses.replace(target, options={**target.options, preflight.OPTION: asked})


def read_body(request: HttpRequest) -> bytes:
    """The raw body, capped by GATEWAY_MAX_BODY_BYTES rather than Django's form-upload limit."""
    unread_body(request)
    limit = settings.GATEWAY_MAX_BODY_BYTES
    if int(request.headers.get("content-length") or 0) > limit:
        raise too_large(limit)
    body = request.read(limit + 1)  # request.read() skips DATA_UPLOAD_MAX_MEMORY_SIZE
    if len(body) > limit:
        raise too_large(limit)
    return body


def internal_error(exc: Exception, path: str = "/v1/chat/completions") -> GatewayError:
    """A bug of ours still answers in OpenAI's shape, and is logged (without its details)."""
    log.exception("unexpected error on %s", path)
    return GatewayError(
        500, f"Internal gateway error ({type(exc).__name__}).", code="internal_error"
    )


def too_large(limit: int) -> GatewayError:
    return GatewayError(
        413,
        f"Request body is larger than the gateway's limit of {limit} bytes.",
        code="request_too_large",
    )
