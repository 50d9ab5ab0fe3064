"""One logged request as a chat: its messages, its images and the model's replies, for the page."""

import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from gateway.images import PDF_MIME
from gateway.logrecord import INPUT_ROLES, other_uses, output_order
from gateway.models import Blob, LogImage, RequestLog
from logs_ui.imageview import DocumentView, ImageView

# Browsers show these themselves; anything else is only offered as a download.
INLINE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp"}
)
# Endpoints whose requests are conversations (images and documents sit in their messages).
CONVERSATIONS = frozenset({"chat.completions", "responses"})


@dataclass
class Part:
    kind: str  # "text" | "image" | "document" | "refusal" | "reasoning" | "other"
    text: str = ""
    image: ImageView | None = None
    raw: Any = None
    document: DocumentView | None = None


@dataclass
class Message:
    index: int
    role: str
    parts: list[Part] = field(default_factory=list)
    name: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    tool_call_id: str = ""
    place: str = ""  # where it is in the body, when not messages[index] (Responses items)
    reply: bool = False  # the model's output (a Responses output item)


@dataclass
class Reply:
    index: int
    text: str = ""
    refusal: str = ""
    finish_reason: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    images: list[ImageView] = field(default_factory=list)  # pictures in the reply


@dataclass
class Images:
    """A request's images: what was sent (by place), what the model made, in order, and the
    partial images streamed on the way."""

    inputs: dict[tuple[int, int], ImageView] = field(default_factory=dict)
    outputs: list[ImageView] = field(default_factory=list)
    partials: list[ImageView] = field(default_factory=list)


def image_views(log: RequestLog) -> Images:
    """Each image of the request, with how many other requests used it (partials apart)."""
    found = Images()
    counted: dict[str, int] = {}
    made = []
    for image in log.images.select_related("blob", "sent_blob"):
        sha = image.blob_id
        if sha and sha not in counted and image.role != "partial":
            counted[sha] = other_uses(sha, log_id=log.id)
        view = ImageView(image, counted.get(sha or "", 0), log.endpoint in CONVERSATIONS)
        if image.role in INPUT_ROLES:
            found.inputs[(image.message_index, image.part_index)] = view
        else:
            made.append(view)
    made.sort(key=lambda view: output_order(view.image))
    found.outputs = [v for v in made if v.role == "output"]
    found.partials = [v for v in made if v.role == "partial"]
    return found


def messages(
    log: RequestLog, images: dict[tuple[int, int], ImageView], body: dict | None = None
) -> list[Message]:
    """The request's messages (of `body`, else the stored one), each part in order."""
    if body is None:
        body = log.request_body if isinstance(log.request_body, dict) else {}
    out = []
    for i, raw in enumerate(body.get("messages") or []):
        if not isinstance(raw, dict):
            continue
        message = Message(
            index=i,
            role=str(raw.get("role", "?")),
            name=str(raw.get("name") or ""),
            tool_calls=_tool_calls(raw.get("tool_calls")),
            tool_call_id=str(raw.get("tool_call_id") or ""),
        )
        content = raw.get("content")
        if isinstance(content, str):
            message.parts.append(Part("text", text=content))
        elif isinstance(content, list):
            message.parts.extend(content_part(p, images.get((i, j))) for j, p in enumerate(content))
        out.append(message)
    return out


# Where a refusal points: "messages[0].content[1]: the image data URI is not valid base64".
_AT_PART = re.compile(r"^messages\[(\d+)\]\.content\[(\d+)\]: (.+)$", re.S)
_IMAGE_KINDS = frozenset({"image_url", "input_image"})


@dataclass
class Refused:
    """A request refused while its body was read (one bad image, say): the body as received,
    when it is JSON after all, and a view of each image it sent, none of them kept."""

    body: dict
    inputs: dict[tuple[int, int], ImageView]

    @property
    def model(self) -> str:
        model = self.body.get("model")
        return model[:200] if isinstance(model, str) else ""


def refused(log: RequestLog) -> Refused | None:
    """A stored `_unparsed` body read leniently for the page: Iris refused it (an SVG data
    URI, broken base64) before its messages and images were kept, yet it is a chat body."""
    stored = log.request_body if isinstance(log.request_body, dict) else {}
    raw = stored.get("_unparsed")
    if not isinstance(raw, str) or log.endpoint not in ("", "chat.completions"):
        return None
    try:
        body = json.loads(raw)
    except ValueError:  # not JSON, or cut at 100,000 characters when stored
        return None
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return None
    found = _AT_PART.match(log.error_message or "")
    blamed = (int(found[1]), int(found[2])) if found else None
    inputs = {}
    for i, message in enumerate(body["messages"]):
        content = message.get("content") if isinstance(message, dict) else None
        for j, part in enumerate(content if isinstance(content, list) else []):
            if isinstance(part, dict) and part.get("type") in _IMAGE_KINDS:
                why = found[3] if (i, j) == blamed else _NOT_KEPT
                inputs[(i, j)] = ImageView(_unkept(part, i, j, why))
    return Refused(body, inputs)


_NOT_KEPT = "Not kept: the request was refused before its images were stored."


def _unkept(part: dict, i: int, j: int, why: str) -> LogImage:
    """An image of a refused request, as a LogImage never saved: where it was, and why."""
    spec = part.get("image_url")
    url = spec.get("url") if isinstance(spec, dict) else spec
    url = url if isinstance(url, str) else ""
    detail = spec.get("detail") if isinstance(spec, dict) else part.get("detail")
    inline = url.startswith("data:")
    return LogImage(
        message_index=i,
        part_index=j,
        origin="base64" if inline else "url",
        url="" if inline else url[:2000],
        data_uri_prefix=url.partition(",")[0][:100] if inline else "",
        detail=detail if isinstance(detail, str) else "",
        error=why,
    )


def content_part(raw: Any, image: ImageView | None) -> Part:
    """One content part (chat's, or a Responses item's), with the image or PDF logged at its
    place."""
    if image is not None and (image.blob.mime == PDF_MIME if image.blob else _is_file(raw)):
        return Part("document", document=DocumentView(image, _filename(raw)))
    if image is not None:
        return Part("image", image=image)
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind in TEXT_PARTS and isinstance(raw.get("text"), str):
        return Part("text", text=raw["text"])
    if kind == "refusal" and isinstance(raw.get("refusal"), str):
        return Part("refusal", text=raw["refusal"])
    return Part("other", raw=raw)


# Text parts: chat's, and the Responses API's (input, and assistant output sent back).
TEXT_PARTS = frozenset({"text", "input_text", "output_text"})


def _is_file(raw: Any) -> bool:
    return isinstance(raw, dict) and raw.get("type") in {"file", "input_file"}


def _filename(raw: Any) -> str:
    """The name a client gave a file part (chat: file.filename; Responses: filename)."""
    spec = raw.get("file") if isinstance(raw, dict) else None
    name = (spec if isinstance(spec, dict) else raw if isinstance(raw, dict) else {}).get(
        "filename"
    )
    return name[:300] if isinstance(name, str) else ""


def replies(log: RequestLog, images: Images | None = None) -> list[Reply]:
    """The model's answer, one Reply per choice (a stream's is the assembled one), each with
    the pictures it holds (`message.images`)."""
    outputs = images.outputs if images else []
    body = log.response_body if isinstance(log.response_body, dict) else {}
    out = []
    for choice in body.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        out.append(
            Reply(
                index=choice.get("index", len(out)),
                text=_text(message.get("content")),
                refusal=str(message.get("refusal") or ""),
                finish_reason=str(choice.get("finish_reason") or ""),
                tool_calls=_tool_calls(message.get("tool_calls")),
            )
        )
        out[-1].images = [v for v in outputs if v.image.message_index == out[-1].index]
    return out


def error(log: RequestLog) -> dict | None:
    """The error to show on top of the page, if the request failed in any way."""
    if not log.error_message and log.status_code < 400:
        return None
    body = log.response_body if isinstance(log.response_body, dict) else {}
    detail = body.get("error") if isinstance(body.get("error"), dict) else {}
    return {
        "type": log.error_type or detail.get("type") or "error",
        "message": log.error_message or detail.get("message") or json.dumps(body)[:2000],
        "code": detail.get("code") or "",
    }


def prompt_variables(log: RequestLog) -> list[dict]:
    """The variables a prompt was called with; an image sent as a data URI is kept as a blob
    (`iris-blob:<sha256>`), shown by its thumbnail."""
    out = []
    for name, value in (log.prompt_variables or {}).items():
        sha = value.removeprefix("iris-blob:") if isinstance(value, str) else ""
        image = len(sha) == 64 and Blob.objects.filter(pk=sha).exists()
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out.append({"name": name, "value": shown, "sha256": sha if image else ""})
    return out


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # some providers answer in parts
        texts = (p.get("text") for p in content if isinstance(p, dict))
        return "\n".join(t for t in texts if isinstance(t, str))
    return ""


def _tool_calls(calls: Any) -> list[dict]:
    out = []
    for call in calls if isinstance(calls, list) else []:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            continue
        out.append(tool_call(call.get("id"), fn.get("name"), fn.get("arguments")))
    return out


def tool_call(call_id: Any, name: Any, arguments: Any) -> dict:
    """A function call as the page shows it: the arguments pretty when the model wrote valid
    JSON, as written otherwise."""
    shown = arguments or ""
    with contextlib.suppress(TypeError, ValueError):
        shown = json.dumps(json.loads(shown), indent=2, ensure_ascii=False)
    return {"id": str(call_id or ""), "name": str(name or ""), "arguments": shown}
