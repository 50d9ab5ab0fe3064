"""The one place that talks to upstreams: send, relay the stream, map transport errors.
(What is done to a chat's images before it is sent: gateway/imageprep.py.)"""

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable
from types import ModuleType

import aiohttp
import orjson
from aiohttp import hdrs
from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from yarl import URL

from gateway import crypto, http, imageprep, offload, preflight, providers, redact, shutdown
from gateway import log as request_log
from gateway.chat import Chat
from gateway.errors import GatewayError
from gateway.providers import azure
from gateway.providers import openai as openai_shape
from gateway.providers.base import EventTooLarge, Target, Upstream, encode_sse

log = logging.getLogger(__name__)

# Upstream response headers worth passing back to the client (rate limits, request ids).
_PASS_HEADERS = ("x-request-id", "retry-after", "openai-processing-ms", "request-id")
_PASS_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")
_SLICE_BYTES = 256 * 1024
_FIRST_SLICE_BYTES = 4096  # sent with the headers (see _payload)
# build_request of the providers that send the client's bytes on when no image changed.
_CLIENT_BYTES_BUILDERS = (openai_shape.build_request, azure.build_request)
RETRY_HEADERS = ("retry-after", "retry-after-ms", "x-ms-retry-after-ms")  # for configs' retries


async def forward(chat: Chat, target: Target, record: request_log.Record) -> HttpResponse:
    """Send the chat upstream and answer the client; the record is submitted in every case."""
    provider = providers.get(target.provider)
    fitted = await imageprep.prepare_images(chat, provider, target)
    upstream = await build_request(provider, chat, target)
    response = await send(upstream, target, record)
    # Sent: from here on the log needs the parsed body, not the raw bytes (megabytes with an
    # image). Let them go now rather than when the writer gets to this record.
    chat.raw = record.raw_body = b""
    if not chat.stream:
        record.first_byte()  # a stream's first token is timed as its chunks arrive
    await raise_for_status(response, provider, record)
    headers = passed_headers(response, fitted)
    if chat.stream:
        record.is_stream = True
        parser = provider.Stream(chat, max_event_bytes=settings.GATEWAY_MAX_SSE_EVENT_BYTES)
        return event_stream(relay(response, parser, record, target.secrets()), headers)
    content, data = await read_json(response, record)
    body = provider.parse_response(data, chat)
    record.finish(200, body)
    request_log.submit(record)
    # When the provider already speaks OpenAI, hand back its bytes untouched.
    payload = content if body is data else orjson.dumps(body)
    return HttpResponse(payload, content_type="application/json", headers=headers)


async def send(
    upstream: Upstream, target: Target, record: request_log.Record
) -> aiohttp.ClientResponse:
    """Send the request (noted on the record); transport failures as GatewayErrors."""
    record.upstream_url = http.redact_url(upstream.url)
    record.upstream_body = upstream.sent  # logged with its images by reference
    record.dropped_params = upstream.dropped
    # A custom host from the client goes through the private-network guard; an admin's does not.
    session = http.session(trusted=target.base_url_trusted or not target.base_url)
    headers, data = _payload(upstream)
    try:
        return await session.request(
            upstream.method,
            _url(upstream.url),
            headers=headers,
            data=data,
            allow_redirects=False,
            **_timeout(target.timeout),
        )
    except (aiohttp.ClientError, TimeoutError, http.BlockedAddress) as exc:
        raise transport_error(exc) from None


async def raise_for_status(
    response: aiohttp.ClientResponse, provider: ModuleType, record: request_log.Record
) -> None:
    """An upstream error answer as the provider's GatewayError, its body logged."""
    if response.status >= 400:
        content = await _read(response)
        error = provider.parse_error(response.status, content)
        record.response_body = _json_or_text(content)
        error.upstream_headers = {
            name: response.headers[name] for name in RETRY_HEADERS if name in response.headers
        }
        raise error


async def read_json(
    response: aiohttp.ClientResponse, record: request_log.Record
) -> tuple[bytes, dict]:
    """The upstream's answer: its bytes and its JSON object (502 if it is not one)."""
    content = await _read(response)
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        record.response_body = _json_or_text(content)
        raise GatewayError(
            502, "Upstream returned a body that is not a JSON object.", code="bad_upstream_response"
        )
    record.response_body = data  # the upstream's own answer, kept should translating it fail
    return content, data


def event_stream(stream: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingHttpResponse:
    streaming = StreamingHttpResponse(
        stream,
        content_type="text/event-stream",
        headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"},
    )
    streaming.iris_stream = stream  # closed by gateway/asgi.py if the client hangs up
    return streaming


async def build_request(provider: ModuleType, chat: Chat, target: Target) -> Upstream:
    """provider.build_request, in a thread for big images: their base64, the JSON around it and
    Bedrock's SigV4 hash of it all grow with them. Small requests inline (a hop is ~50 µs), and
    so is an OpenAI-shaped one that sends the client's bytes on untouched: nothing to build."""
    if _sends_client_bytes(provider, chat):
        return provider.build_request(chat, target)
    size = len(chat.raw) + sum(len(img.payload) for img in chat.images)
    return await offload.by_size(size, provider.build_request, chat, target)


def _sends_client_bytes(provider: ModuleType, chat: Chat) -> bool:
    """Will the provider send chat.raw as it is (gateway/providers/openai.py's body_bytes)? Yes
    for OpenAI's shape unless an image was converted, or a URL fetched to go inline."""
    if provider.build_request not in _CLIENT_BYTES_BUILDERS:
        return False
    return not any(img.converted or (img.origin == "url" and img.data) for img in chat.images)


DONE = b"data: [DONE]\n\n"


async def relay(
    response: aiohttp.ClientResponse,
    stream,
    record: request_log.Record,
    secrets: list[str],
    *,
    done: bytes = DONE,
    error_event: Callable[[GatewayError], dict] = GatewayError.body,
) -> AsyncIterator[bytes]:
    """Pass each upstream event on as it arrives; never buffer the whole stream. An error
    event is the last one the client gets (as from OpenAI: no `done` after it; the Images
    API's streams have none at all), its text scrubbed of the target's credentials like any
    upstream error. error_event shapes an error of Iris's own as the API's stream has them."""

    def ending(error: GatewayError) -> bytes:
        return encode_sse(error_event(error))

    try:
        # On SIGTERM the wait for the upstream is bounded by the grace (gateway/shutdown.py).
        async for chunk in shutdown.until_shutdown(_chunks(response, stream)):
            if isinstance(chunk, GatewayError):  # the stream cannot go on: Iris's own error
                _ended(record, chunk)
                yield ending(chunk)
                return
            yield _relay_chunk(chunk, record, secrets)
            # An error event ends it; a Responses stream's response.failed comes before its own.
            if record.error_type and chunk.get("type") != "response.failed":
                break
        else:
            if done:
                yield done
        record.finish(200, record.assembled())
    except shutdown.ShuttingDown:  # the grace ran out: end it in an error, log what it had
        error = shutdown.error()
        _ended(record, error)
        log.info("stream %s cut by shutdown after %d chunks", record.request_id, record.chunk_count)
        yield ending(error)
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = transport_error(exc, during_stream=True)
        _ended(record, error)
        yield ending(error)
    except Exception:  # a bug of ours, or an event no translator foresaw: end cleanly, logged
        log.exception("relaying a stream failed")
        error = GatewayError(502, "Iris could not relay the upstream's stream.", code="bad_stream")
        _ended(record, error)
        yield ending(error)
    except (asyncio.CancelledError, GeneratorExit):  # the client hung up
        _ended(record, None)
        raise
    finally:
        response.release()
        request_log.submit(record)


async def _chunks(response: aiohttp.ClientResponse, stream) -> AsyncIterator[dict | GatewayError]:
    try:
        async for data in response.content.iter_any():
            for chunk in stream.feed(data):
                yield chunk
    except EventTooLarge as exc:  # ends the stream in an error event of the API's shape
        message = f"Upstream sent a stream event larger than {exc.limit} bytes "
        message += "(GATEWAY_MAX_SSE_EVENT_BYTES)."
        yield GatewayError(502, message, code="upstream_event_too_large")
        return
    for chunk in stream.close():
        yield chunk


def _ended(record: request_log.Record, error: GatewayError | None) -> None:
    """A stream cut short (by `error`, or the client when None): the error first, so the
    partial answer assembled after it can say it failed. The status stays 200: it was sent."""
    record.status_code = 200
    if error is None:
        record.client_gone()
    else:
        record.fail(error)
    record.finish(200, record.assembled())


def _relay_chunk(chunk: dict, record: request_log.Record, secrets: list[str]) -> bytes:
    if _failure(chunk) is not None:
        chunk = crypto.mask_all_json(chunk, secrets)
        kind, message = _failure(chunk) or ("", "")
        record.error_type = kind
        record.error_message = redact.scrub_text(message)
        if chunk.get("type") == "response.failed":  # it carries the response, kept too
            record.add_chunk(chunk)
    else:
        record.add_chunk(chunk)
    return encode_sse(chunk)


def _failure(chunk: dict) -> tuple[str, str] | None:
    """(type, message) of an event that ends a stream in failure: a chat or Images API
    `{"error": {...}}`, a Responses API `{"type": "error", "code", "message"}`, or its
    `response.failed`; None for any other event."""
    if chunk.get("type") == "response.failed":
        response = chunk.get("response") if isinstance(chunk.get("response"), dict) else {}
        error = response.get("error") if isinstance(response.get("error"), dict) else {}
    elif "error" in chunk and "choices" not in chunk:
        error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": chunk["error"]}
    elif chunk.get("type") == "error":
        error = chunk
    else:
        return None
    kind = error.get("type") if error is not chunk else None
    kind = kind or error.get("code") or "upstream_stream_error"
    return str(kind)[:100], str(error.get("message") or "The upstream's stream failed.")


def transport_error(exc: Exception, *, during_stream: bool = False) -> GatewayError:
    where = "during the stream" if during_stream else ""
    if isinstance(exc, TimeoutError):
        return GatewayError(
            504, f"Upstream timed out {where}".strip() + ".", code="upstream_timeout"
        )
    if isinstance(exc, http.BlockedAddress):
        return GatewayError(
            400,
            f"x-portkey-custom-host refused: {exc}",
            code="custom_host_refused",
            param="x-portkey-custom-host",
        )
    reason = type(exc).__name__
    return GatewayError(
        502,
        f"Upstream failed {where} ({reason}: {exc})".replace("  ", " "),
        code="upstream_unreachable" if not during_stream else "upstream_error",
    )


def _payload(upstream: Upstream) -> tuple[dict[str, str], bytes | AsyncIterator[memoryview]]:
    """The headers and body to send. A big body goes out in slices, each sent before the next:
    given as plain bytes, the socket takes what it can and the transport copies the rest (tens
    of MB for an image). The first slice is small: aiohttp joins the headers with it into one
    new bytes object (on Python before 3.12.9 it never uses writelines), a copy of whatever
    that slice is. Slices need the content-length given (else aiohttp sends them chunked);
    aiohttp sets it itself for bytes sent whole."""
    content = upstream.content
    if len(content) <= _SLICE_BYTES:
        return upstream.headers, content

    async def slices() -> AsyncIterator[memoryview]:
        view = memoryview(content)
        yield view[:_FIRST_SLICE_BYTES]
        for start in range(_FIRST_SLICE_BYTES, len(view), _SLICE_BYTES):
            yield view[start : start + _SLICE_BYTES]

    return {**upstream.headers, "content-length": str(len(content))}, slices()


@functools.lru_cache(maxsize=1024)  # the same few upstream URLs, request after request
def _url(url: str) -> URL:
    """The URL as aiohttp takes it, one object per URL: aiohttp reads its host, port, path...
    each computed once and cached on the object, not again for every request.
    encoded=True: send the path exactly as built (and, for Bedrock, as signed)."""
    return URL(url, encoded=True)


@functools.lru_cache(maxsize=256)  # per-target timeouts: a few values, set by admins
def _timeout(seconds: float | None) -> dict:
    """A per-target timeout, or nothing: aiohttp reads timeout=None as "no timeout at all"."""
    if seconds is None:
        return {}  # the session's: GATEWAY_CONNECT_TIMEOUT, GATEWAY_UPSTREAM_TIMEOUT
    return {
        "timeout": aiohttp.ClientTimeout(total=None, connect=min(seconds, 10.0), sock_read=seconds)
    }


async def _read(response: aiohttp.ClientResponse) -> bytes:
    """The whole upstream answer, up to GATEWAY_MAX_RESPONSE_BYTES counted as it is read (and
    decompressed: aiohttp inflates in bounded steps as we read, so a gzip bomb stops here)."""
    limit = settings.GATEWAY_MAX_RESPONSE_BYTES
    try:
        length = response.content_length
        if length is not None and length > limit:
            raise _too_large(limit)
        if length is not None and hdrs.CONTENT_ENCODING not in response.headers:
            # Nothing to inflate: the body is the content-length's bytes at most (the parser
            # stops there), so one read, not the capped chunk loop (~3% of a call, callgrind).
            return await response.content.read()
        return await http.read_capped(response, limit, too_large=lambda: _too_large(limit))
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise transport_error(exc) from None
    finally:
        response.release()


def _too_large(limit: int) -> GatewayError:
    return GatewayError(
        502,
        f"Upstream answered more than {limit} bytes (GATEWAY_MAX_RESPONSE_BYTES).",
        code="upstream_response_too_large",
    )


def passed_headers(
    response: aiohttp.ClientResponse, fitted: preflight.FitReport | None = None
) -> dict[str, str]:
    """The upstream's headers worth passing on, and what auto-fit did (when it was on)."""
    headers = {}
    for name, value in response.headers.items():
        name = name.lower()
        if name in _PASS_HEADERS or name.startswith(_PASS_PREFIXES):
            headers[name] = value
    if fitted is not None:
        headers[preflight.HEADER] = fitted.header()
    return headers


def _json_or_text(content: bytes) -> dict:
    try:
        data = orjson.loads(content)
        return data if isinstance(data, dict) else {"body": data}
    except orjson.JSONDecodeError:
        return {"body": content[:10_000].decode("utf-8", "replace")}
