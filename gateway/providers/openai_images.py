"""OpenAI's Images API (generations, edits, variations), and any server that speaks it.

Facts from the `openai` SDK's own types (openai 3.57, ImageGenerateParams, ImageEditParams,
ImagesResponse, ImageGenStreamEvent; checked 2026-11-25): GPT image models take sizes
`auto`/1024x1024/1536x1024/1024x1536, the gpt-image-2 family any WxH divisible by 16 with an
aspect ratio within 1:3–3:1 up to 3840x2160; qualities low/medium/high/auto (plus xhigh and
max on gpt-image-2.5-*); up to 16 images to edit (a PNG mask the first one's size); n 1–10;
partial_images 0–3 when streaming. dall-e-2 (1 square image, 256/512/1024) and dall-e-3
(n=1, 1024x1024/1792x1024/1024x1792, standard/hd) are retired at OpenAI but still served by
some Azure deployments and compatible servers; they do not stream, and dall-e-2 takes one
square PNG. JSON edits (`images: [{image_url}]`) are for GPT image models only. A transparent
background needs png or webp; gif and svg output (previews) do not stream, svg makes n=1, gif
takes no mask; gpt-image-1-mini takes input_fidelity low only. Unknown models are not judged
here.
"""

import re
import secrets

import orjson

from gateway.errors import GatewayError
from gateway.imagejob import EDITS, GENERATIONS, VARIATIONS, ImageJob
from gateway.providers import openai
from gateway.providers.base import MAX_EVENT_BYTES, SSEDecoder, Target, Upstream

NAME = "openai"
ENDPOINTS = frozenset({GENERATIONS, EDITS, VARIATIONS})
NATIVE_STREAM = True  # streams OpenAI's image events itself
parse_error = openai.parse_error

_PATHS = {GENERATIONS: "images/generations", EDITS: "images/edits", VARIATIONS: "images/variations"}
_GPT_SIZES = frozenset({"auto", "1024x1024", "1536x1024", "1024x1536"})
_GPT_QUALITIES = frozenset({"low", "medium", "high", "auto"})
_SIZE = re.compile(r"(\d{1,5})x(\d{1,5})")


def check(job: ImageJob) -> None:
    """The model's own limits, before a round trip: sizes, qualities, n, image counts."""
    model, body = job.model, job.body
    if job.endpoint == VARIATIONS and model not in ("", "dall-e-2"):
        raise _invalid(f"Image variations are only made by dall-e-2, not {model}.", "model")
    if model.startswith(("gpt-image-", "chatgpt-image-")):
        _check_gpt_image(model, body)
        _check_format(model, job)
        return
    if model in ("dall-e-2", "dall-e-3") and job.stream:
        raise _invalid(f"{model} does not stream; streaming is for GPT image models.", "stream")
    if job.endpoint == EDITS and not job.multipart and model.startswith("dall-e"):
        raise _invalid(f"JSON edits are for GPT image models; {model} takes multipart.", "model")
    if model == "dall-e-3":
        _check_choice(model, body, "size", {"1024x1024", "1792x1024", "1024x1792"})
        _check_choice(model, body, "quality", {"standard", "hd"})
        if job.n != 1:
            raise _invalid("dall-e-3 makes one image per request (n=1).", "n")
        if job.endpoint != GENERATIONS:
            raise _invalid("dall-e-3 does not edit images; use a GPT image model.", "model")
    elif model == "dall-e-2" or (job.endpoint == VARIATIONS and not model):
        _check_dall_e_2(job)


def _check_dall_e_2(job: ImageJob) -> None:
    """dall-e-2 (the model variations default to): three square sizes, one square PNG in."""
    _check_choice("dall-e-2", job.body, "size", {"256x256", "512x512", "1024x1024"})
    if len(job.inputs) > 1:
        raise _invalid("dall-e-2 edits one image at a time.", "image")
    first = job.inputs[0] if job.inputs else None
    if (
        first is not None
        and first.data
        and (first.mime != "image/png" or first.width != first.height)
    ):
        shape = f"{first.width}×{first.height} {first.mime}"
        raise _invalid(f"dall-e-2 takes one square PNG, not a {shape}.", "image")


def _check_format(model: str, job: ImageJob) -> None:
    """The limits OpenAI documents for output formats (GIF and SVG are previews)."""
    body, fmt = job.body, job.body.get("output_format")
    if body.get("background") == "transparent" and fmt not in (None, "png", "webp"):
        raise _invalid(
            f"A transparent background needs png or webp output, not {fmt}.", "background"
        )
    if fmt in ("gif", "svg") and (job.stream or body.get("partial_images")):
        raise _invalid(f"{fmt} output does not stream or make partial images.", "stream")
    if fmt == "svg" and job.n != 1:
        raise _invalid("svg output makes one image per request (n=1).", "n")
    if fmt == "gif" and job.mask is not None:
        raise _invalid("gif output does not take a mask.", "mask")
    if model.startswith("gpt-image-1-mini") and body.get("input_fidelity") == "high":
        raise _invalid(f"{model} takes input_fidelity low only.", "input_fidelity")


def _check_gpt_image(model: str, body: dict) -> None:
    qualities = _GPT_QUALITIES | ({"xhigh", "max"} if model.startswith("gpt-image-2.5") else set())
    _check_choice(model, body, "quality", qualities)
    size = body.get("size")
    if size is None or size in _GPT_SIZES or not model.startswith("gpt-image-2"):
        _check_choice(model, body, "size", _GPT_SIZES)
        return
    match = _SIZE.fullmatch(str(size))
    if not match:
        raise _invalid(f"'size' must be WIDTHxHEIGHT or auto, not {size!r}.", "size")
    w, h = int(match[1]), int(match[2])
    if w % 16 or h % 16:
        raise _invalid(f"{model} takes sizes whose sides divide by 16, not {size}.", "size")
    if max(w, h) > 3 * min(w, h):
        raise _invalid(f"{size}: {model} takes aspect ratios from 1:3 to 3:1.", "size")
    if max(w, h) > 3840 or min(w, h) > 2160:
        raise _invalid(f"{size}: {model} makes images of at most 3840x2160.", "size")


def _check_choice(model: str, body: dict, name: str, allowed: set | frozenset) -> None:
    value = body.get(name)
    if value is not None and value not in allowed:
        offered = ", ".join(sorted(allowed))
        raise _invalid(f"{model} does not offer {name} {value!r} (it offers: {offered}).", name)


def _invalid(message: str, param: str) -> GatewayError:
    return GatewayError(400, message, code="unsupported_value", param=param)


def build_request(
    job: ImageJob, target: Target, *, url: str = "", auth: dict[str, str] | None = None
) -> Upstream:
    """The request at OpenAI's URL, or at `url` with `auth` headers (Azure's deployment
    route): JSON as the client sent it, multipart rebuilt from the parsed parts."""
    headers = {"accept": "text/event-stream" if job.stream else "application/json"}
    if auth is None:
        auth = {"authorization": f"Bearer {target.api_key}"} if target.api_key else {}
    headers |= target.headers | auth
    if not url:
        base = (target.base_url or openai.DEFAULT_BASE_URL).rstrip("/")
        url = f"{base}/{_PATHS[job.endpoint]}"
    if job.multipart or job.endpoint == VARIATIONS:
        content_type, content = multipart(job)
        return Upstream("POST", url, {**headers, "content-type": content_type}, content)
    return Upstream("POST", url, {**headers, "content-type": "application/json"}, job.raw)


def multipart(job: ImageJob) -> tuple[str, bytes]:
    """multipart/form-data as the `openai` SDK sends it: text fields, then `image` (or
    `image[]` for several) and `mask` as files."""
    boundary = f"iris-{secrets.token_hex(16)}"
    parts: list[bytes] = []
    for name, value in job.body.items():
        if name in ("image", "images", "mask") or value is None:
            continue
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        parts.append(_part(boundary, f'name="{name}"', "", text.encode()))
    inputs = job.inputs
    field = "image[]" if len(inputs) > 1 else "image"
    for i, img in enumerate(inputs):
        parts.append(_file_part(boundary, field, f"image_{i}", img.mime, img.data or b""))
    if (mask := job.mask) is not None:
        parts.append(_file_part(boundary, "mask", "mask", mask.mime, mask.data or b""))
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def _file_part(boundary: str, field: str, stem: str, mime: str, data: bytes) -> bytes:
    extension = mime.rpartition("/")[2].replace("jpeg", "jpg") or "bin"
    disposition = f'name="{field}"; filename="{stem}.{extension}"'
    return _part(boundary, disposition, mime, data)


def _part(boundary: str, disposition: str, mime: str, data: bytes) -> bytes:
    head = f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n"
    if mime:
        head += f"Content-Type: {mime}\r\n"
    return head.encode() + b"\r\n" + data + b"\r\n"


def parse_response(data: dict, job: ImageJob) -> dict:
    return data  # already an ImagesResponse


class Stream:
    """OpenAI's image events (image_generation.partial_image, …completed, and the image_edit.
    equivalents) decoded one by one, to relay unchanged. A stream that ends before its
    completed events (one per image) were sent gets an error event."""

    def __init__(self, job: ImageJob, *, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._sse = SSEDecoder(max_event_bytes)
        self._expected, self._completed, self._failed = job.n, 0, False

    def feed(self, data: bytes) -> list[dict]:
        return self._events(self._sse.feed(data))

    def close(self) -> list[dict]:
        out = self._events(self._sse.close())
        if not self._failed and self._completed < self._expected:
            message = f"Upstream's stream ended after {self._completed} of "
            message += f"{self._expected} images."
            out.append(stream_error(message))
        return out

    def _events(self, events: list) -> list[dict]:
        out = []
        for event in events:
            if event.data.strip() == "[DONE]":
                continue
            try:
                item = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                item = None
            if not isinstance(item, dict):
                item = stream_error(f"Upstream sent a malformed event: {event.data[:200]}")
            kind = str(item.get("type") or event.event)
            self._completed += kind.endswith(".completed")
            self._failed |= "error" in item or kind == "error"
            out.append(item)
        return out


def stream_error(message: str) -> dict:
    return {
        "type": "error",
        "error": {"message": message, "type": "api_error", "code": "bad_upstream_stream"},
    }
