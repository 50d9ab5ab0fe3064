"""Log rows for UI tests, written the way the gateway writes them (Record → save_batch)."""

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image as PILImage

from gateway import log as request_log
from gateway import redact
from gateway.chat import parse_chat
from gateway.errors import GatewayError
from gateway.imagejob import parse_image_job
from gateway.images import ImageError
from gateway.log.entry import save_records
from gateway.models import RequestLog
from gateway.responses.request import parse_request

DEMO_IMAGES = Path(__file__).resolve().parents[2] / "gateway" / "demo"


@dataclass
class UrlImage:
    """A URL image: the copy kept at request time (data), or why fetching it failed (error)."""

    url: str
    data: bytes | None = None
    error: str = ""


def png(size=(6, 4), color=(20, 120, 220), fmt="PNG", **save) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


def pdf(*pages: tuple[int, int, tuple[int, int, int]], resolution: float = 72.0) -> bytes:
    """A PDF made by Pillow, one page per (width, height, colour): width×height px, each px
    72/resolution pt (so a 20×20 px page at resolution 0.072 is 20000×20000 pt)."""
    first, *rest = [PILImage.new("RGB", (w, h), color) for w, h, color in pages]
    out = io.BytesIO()
    first.save(out, "PDF", save_all=True, append_images=rest, resolution=resolution)
    return out.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def make_log(
    prompt: str = "What is in this image?",
    reply: str | None = "A small blue rectangle.",
    *,
    images: list[bytes | UrlImage] = (),
    provider: str = "openai",
    model: str = "gpt-4o-mini",
    status: int = 200,
    error: GatewayError | None = None,
    trace_id: str = "",
    metadata: dict | None = None,
    stream: bool = False,
    system: str = "",
    detail: str | None = None,
    tool_call: dict | None = None,
    reply_images: list[bytes] = (),
    files: list[tuple[bytes, str | None]] = (),
) -> RequestLog:
    """One logged request, through the same code path as real traffic; `files` are PDFs
    (bytes, filename) sent as chat `file` parts after the images."""
    content: list[dict] = [{"type": "text", "text": prompt}]
    for image in images:
        url = image.url if isinstance(image, UrlImage) else data_uri(image)
        spec = {"url": url, **({"detail": detail} if detail else {})}
        content.append({"type": "image_url", "image_url": spec})
    for data, filename in files:
        spec = {"file_data": data_uri(data, "application/pdf")}
        content.append(
            {"type": "file", "file": {**spec, **({"filename": filename} if filename else {})}}
        )
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": content})
    body = {"model": model, "messages": messages, **({"stream": True} if stream else {})}
    raw = json.dumps(body).encode()
    chat = parse_chat(raw)
    url_images = [i for i in images if isinstance(i, UrlImage)]
    for img, spec in zip([i for i in chat.images if i.origin == "url"], url_images, strict=True):
        _snapshot(img, spec)
    record = request_log.Record(
        path="/v1/chat/completions",
        request_headers=redact.redact_headers(
            {
                "x-portkey-provider": provider,
                "authorization": "Bearer sk-secret",
                "x-portkey-api-key": "iris-secret",
            }
        ),
        provider=provider,
        model=model,
        trace_id=trace_id,
        metadata=metadata or {},
        raw_body=raw,
        chat=chat,
        is_stream=stream,
    )
    if error is not None:
        record.fail(error)
    elif stream:
        _stream(record, model, reply or "")
    else:
        record.finish(status, _completion(model, reply, tool_call, reply_images))
    save_records([record])
    return RequestLog.objects.get(request_id=record.request_id)


def _snapshot(img, spec: UrlImage) -> None:
    img.error = spec.error
    if spec.data is not None:
        try:
            img.describe(spec.data)
        except ImageError as exc:  # kept anyway, as fetching.fetch_image does
            img.data, img.mime = spec.data, "application/octet-stream"
            img.error = f"the URL's content {exc}"


def _completion(
    model: str, reply: str | None, tool_call: dict | None, pictures: list[bytes] = ()
) -> dict:
    message: dict = {"role": "assistant", "content": reply}
    if pictures:  # a chat model's pictures, as OpenRouter and Iris's Gemini module answer them
        message["images"] = [
            {"type": "image_url", "image_url": {"url": data_uri(p)}} for p in pictures
        ]
    if tool_call:
        message["tool_calls"] = [{"id": "call_1", "type": "function", "function": tool_call}]
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37},
    }


def _stream(record: request_log.Record, model: str, reply: str) -> None:
    head = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": model}
    words = reply.split(" ")
    for i, word in enumerate(words):
        delta = {"content": word if i == 0 else " " + word}
        record.add_chunk({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    record.add_chunk({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    record.finish(200, record.assembled())


SVG_WITH_SCRIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48" viewBox="0 0 64 48">'
    b'<script>window.__pwned = 3</script><rect width="64" height="48" fill="#2a8"/></svg>'
)


def mask_png(size=(6, 4), hole=(1, 1, 4, 3)) -> bytes:
    """An OpenAI edit mask: opaque (kept) everywhere but a transparent hole (to edit)."""
    img = PILImage.new("RGBA", size, (0, 0, 0, 255))
    img.paste((0, 0, 0, 0), hole)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def make_image_log(
    prompt: str = "A watercolour fox in the snow",
    *,
    endpoint: str = "images.generations",
    outputs: list[bytes] = (),
    revised: list[str] = (),
    partials: list[tuple[int, int, bytes]] = (),
    inputs: list[bytes] = (),
    mask: bytes | None = None,
    output_format: str | None = None,
    model: str = "gpt-image-1",
    provider: str = "openai",
    stream: bool = False,
    error: GatewayError | None = None,
) -> RequestLog:
    """One logged Images API request: parsed as Iris parses it (JSON edits: images by data URI),
    answered with these output images (each a b64_json, `revised[i]` its revised_prompt) and
    these streamed partial images (output index, partial index, bytes)."""
    body: dict = {"model": model, "prompt": prompt}
    if inputs:
        body["images"] = [{"image_url": data_uri(i)} for i in inputs]
    if mask is not None:
        body["mask"] = {"image_url": data_uri(mask)}
    if output_format:
        body["output_format"] = output_format
    if stream:
        body.update(stream=True, partial_images=max((p[1] for p in partials), default=0) + 1)
    raw = json.dumps(body).encode()
    job = parse_image_job(endpoint, raw, "application/json")
    record = request_log.Record(
        path=f"/v1/images/{endpoint.removeprefix('images.')}",
        request_headers=redact.redact_headers(
            {"x-portkey-provider": provider, "authorization": "Bearer sk-secret"}
        ),
        endpoint=endpoint,
        provider=provider,
        model=model,
        raw_body=raw,
        chat=job,
        is_stream=stream,
    )
    if error is not None:
        record.fail(error)
    else:
        data = []
        for i, made in enumerate(outputs):
            item = {"b64_json": base64.b64encode(made).decode()}
            if i < len(revised) and revised[i]:
                item["revised_prompt"] = revised[i]
            data.append(item)
        answer: dict = {"created": 1, "data": data}
        answer["usage"] = {"input_tokens": 20, "output_tokens": 1056, "total_tokens": 1076}
        if output_format:
            answer["output_format"] = output_format
        record.partial_images = [(o, p, base64.b64encode(b).decode()) for o, p, b in partials]
        record.chunk_count = len(partials) + len(outputs) if stream else 0
        record.finish(200, answer)
    save_records([record])
    return RequestLog.objects.get(request_id=record.request_id)


def responses_body(*, model: str = "claude-sonnet-4-5", **fields) -> dict:
    """A Response object (`object: "response"`) with these fields (output, status…)."""
    return {
        "id": "resp_test",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": model,
        "output": [],
        "usage": {"input_tokens": 40, "output_tokens": 9, "total_tokens": 49},
        **fields,
    }


def make_responses_log(
    body: dict,
    answer: dict | None = None,
    *,
    provider: str = "anthropic",
    error: GatewayError | None = None,
) -> RequestLog:
    """One logged Responses API request (POST /v1/responses), parsed as Iris parses it
    (images and PDFs by data URI become blobs), answered with this Response object."""
    raw = json.dumps(body).encode()
    record = request_log.Record(
        path="/v1/responses",
        request_headers=redact.redact_headers(
            {"x-portkey-provider": provider, "authorization": "Bearer sk-secret"}
        ),
        endpoint="responses",
        provider=provider,
        model=body.get("model", ""),
        raw_body=raw,
        chat=parse_request(raw),
        is_stream=bool(body.get("stream")),
    )
    if error is not None:
        record.fail(error)
    else:
        record.finish(200, answer or responses_body(model=body.get("model", "")))
    save_records([record])
    return RequestLog.objects.get(request_id=record.request_id)
