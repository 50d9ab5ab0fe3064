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
from gateway.images import ImageError
from gateway.log.entry import save_records
from gateway.models import RequestLog

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
) -> RequestLog:
    """One logged request, through the same code path as real traffic."""
    content: list[dict] = [{"type": "text", "text": prompt}]
    for image in images:
        url = image.url if isinstance(image, UrlImage) else data_uri(image)
        spec = {"url": url, **({"detail": detail} if detail else {})}
        content.append({"type": "image_url", "image_url": spec})
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
        record.finish(status, _completion(model, reply, tool_call))
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


def _completion(model: str, reply: str | None, tool_call: dict | None) -> dict:
    message: dict = {"role": "assistant", "content": reply}
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
