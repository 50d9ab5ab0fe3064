"""The Images API on the shared request path: parse, check, send, relay, keep what was made.

The provider's Images module (gateway/providers/*_images.py) translates; this module does the
I/O: input image URLs fetched, the upstream called, a native stream relayed event by event,
an answer's image URLs fetched at once (OpenAI's expire after an hour), and for providers
that cannot stream, a stream made from the whole answer.
"""

import asyncio
from collections.abc import AsyncIterator

import orjson
from django.conf import settings
from django.http import HttpResponse

from gateway import fetching, offload, providers, proxy, service
from gateway import log as request_log
from gateway.errors import GatewayError
from gateway.imagejob import (
    EDITS,
    GENERATIONS,
    VARIATIONS,
    ImageJob,
    check_mask,
    parse_image_job,
)
from gateway.images import Image
from gateway.providers.base import Target, encode_sse


async def forward(job: ImageJob, target: Target, record: request_log.Record) -> HttpResponse:
    """Send the job upstream and answer the client; the record is submitted in every case."""
    module = providers.images(target.provider, job.endpoint)
    module.check(job)
    if any(img.data is None for img in job.images):  # images given by URL: judged once fetched
        await _fetch_inputs(job)
        check_mask(job)
        module.check(job)
    # A thread for any input image: a provider may decode one (Bedrock redraws masks), and a
    # small PNG can hold many pixels.
    if job.images:
        upstream = await asyncio.to_thread(module.build_request, job, target)
    else:
        upstream = module.build_request(job, target)
    response = await proxy.send(upstream, target, record)
    job.raw = record.raw_body = b""  # sent: the log keeps the parsed job
    await proxy.raise_for_status(response, module, record)
    headers = proxy.passed_headers(response)
    if job.stream and module.NATIVE_STREAM:
        record.is_stream = True
        parser = module.Stream(job, max_event_bytes=settings.GATEWAY_MAX_SSE_EVENT_BYTES)
        relay = proxy.relay(
            response, parser, record, target.secrets(), done=b"", error_event=_error_event
        )
        return proxy.event_stream(relay, headers)
    record.first_byte()
    content, data = await proxy.read_json(response, record)
    body = await offload.by_size(len(content), module.parse_response, data, job)
    # The client's answer is built first, then the record finished and submitted with nothing
    # awaited after: a cancel (a config's request_timeout, a client gone) must find the record
    # unsubmitted, so the runner's timeout or the fallback's answer is what the log keeps.
    if job.stream:  # the upstream cannot stream: the whole answer as the stream's events
        events = completed_events(body, job)
        answer = proxy.event_stream(_sent(events), headers)
        record.is_stream, record.chunk_count = True, len(events)
    else:  # an answer already in OpenAI's shape goes back as its bytes, untouched
        size = len(content)
        payload = content if body is data else await offload.by_size(size, orjson.dumps, body)
        answer = HttpResponse(payload, content_type="application/json", headers=headers)
    record.url_outputs = _url_outputs(body)  # fetched for the log once submitted
    record.finish(200, body)
    request_log.submit(record)
    return answer


def _error_event(error: GatewayError) -> dict:
    """An error of Iris's own mid-stream, as the Images API's streams send theirs."""
    return {"type": "error", **error.body()}


async def _fetch_inputs(job: ImageJob) -> None:
    """Images to edit given by URL (the JSON form): the upstreams take bytes, so fetch them."""
    pending = [img for img in job.images if img.data is None]
    await fetching.fetch_images(pending)
    for img in pending:
        if img.error or img.data is None:
            param = "mask" if img.role == "mask" else f"images[{img.part}]"
            raise GatewayError(
                400,
                f"{param}: could not use the image URL: {img.error or 'no data'}.",
                code="image_fetch_failed",
                param=param,
            )


def _url_outputs(body: dict) -> list[Image]:
    """The images of an answer that gives URLs, not bytes: the log fetches them at once,
    after the client has its answer (gateway/log/__init__.py), as OpenAI's expire."""
    data = body.get("data")
    return [
        Image(message=0, part=i, origin="url", url=item["url"], role="output")
        for i, item in enumerate(data if isinstance(data, list) else ())
        if isinstance(item, dict) and isinstance(item.get("url"), str) and not item.get("b64_json")
    ]


_NO_USAGE = {
    "input_tokens": 0,
    "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
    "output_tokens": 0,
    "total_tokens": 0,
}


def completed_events(body: dict, job: ImageJob) -> list[dict]:
    """OpenAI's `*.completed` stream events for a whole answer, one per image."""
    kind = "image_edit.completed" if job.endpoint == EDITS else "image_generation.completed"
    # The SDKs' event types require these four: the answer's own values, else OpenAI's defaults.
    defaults = {"background": "auto", "output_format": "png", "quality": "auto", "size": "auto"}
    head = {k: body.get(k) or default for k, default in defaults.items()}
    events = []
    # The event type requires usage: a provider that reports none (Bedrock, Imagen) gets
    # zeros here, in the stream only; the log keeps the answer as it came (no usage).
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else _NO_USAGE
    for item in body.get("data") or ():
        event = {"type": kind, **item, "created_at": body.get("created"), **head}
        events.append({**event, "usage": usage})
    return events


async def _sent(events: list[dict]) -> AsyncIterator[bytes]:
    for event in events:
        yield encode_sse(event)


async def _parse(endpoint: str, headers: service.Headers, raw: bytes) -> ImageJob:
    content_type = headers.get("content-type", "")
    limit = min(settings.GATEWAY_MAX_IMAGES_PER_REQUEST, 16)
    return await offload.by_size(
        len(raw), parse_image_job, endpoint, raw, content_type, max_images=limit
    )


def _endpoint(name: str) -> service.Endpoint:
    async def parse(headers: service.Headers, raw: bytes) -> ImageJob:
        return await _parse(name, headers, raw)

    return service.Endpoint(name, parse, forward)


GENERATIONS_ENDPOINT = _endpoint(GENERATIONS)
EDITS_ENDPOINT = _endpoint(EDITS)
VARIATIONS_ENDPOINT = _endpoint(VARIATIONS)
