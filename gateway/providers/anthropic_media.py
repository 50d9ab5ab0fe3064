"""Images and documents (PDFs) in Anthropic Messages requests: their blocks and their limits.

Read 2026-11:
https://platform.claude.com/docs/en/build-with-claude/vision (General limits),
https://platform.claude.com/docs/en/build-with-claude/pdf-support (PDF requirements)
- an image: at most 10 MB measured on its base64 text on the Claude API (5 MB on Bedrock and
  Vertex; the API's errors said 5242880 bytes until the docs raised it), 8000×8000 px,
  2000×2000 px when the request holds more than 20 images, judged on the copy sent (auto-fit
  may have downsized it);
- per request: 600 images and 600 PDF pages, 100 of each on models with a 200k-token context
  window (1M: Opus and Sonnet from 4.6 on, Mythos; Haiku 4.5 and every model before 4.6 has
  200k). The docs state the two counts apart, so they are checked apart;
- the whole request at most 32 MB (standard endpoints; lower on Bedrock and Vertex);
- a PDF: base64 in a `document` block (media_type application/pdf), no password. The SDK's
  ToolResultBlockParam takes document blocks in a tool result's content, so a PDF in a "tool"
  message goes there; OpenAI takes file parts in user messages, Anthropic documents in user
  turns: one in an assistant message is refused here.
Each limit is a 400 naming the part (messages[i].content[j]) before anything is sent.
"""

import math
import re

from gateway.chat import Chat, invalid
from gateway.errors import GatewayError
from gateway.images import PDF_MIME, Image

MAX_IMAGE_BASE64 = 10 * 1024 * 1024  # vision docs, read 2026-11-26 (anthropic_vision.py)
MANY_IMAGES = 20
MAX_IMAGE_SIDE, MAX_IMAGE_SIDE_MANY = 8000, 2000  # the second when more than MANY_IMAGES
MAX_MEDIA, MAX_MEDIA_200K = 600, 100  # images, and PDF pages, per request
MAX_REQUEST_BYTES = 32 * 1024 * 1024

# 1M-token context windows: Opus and Sonnet since 4.6 (later versions taken to keep it), every
# Mythos. Other names (Haiku, 4.5 and older, fine-tunes behind a custom host) get the 200k
# limits: a request within them is never refused by a model with the larger window.
_LONG_CONTEXT_SINCE = {"opus": (4, 6), "sonnet": (4, 6)}
_LONG_CONTEXT_FAMILIES = ("mythos",)
# "claude-sonnet-4-6", "claude-opus-4-20250514" (4.0), "claude-haiku-4-5@20251001" (Vertex)
_MODEL = re.compile(r"claude-([a-z]+)(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?=$|[-@:.])")


def media_limit(model: str) -> int:
    """How many images, and how many PDF pages, one request to this model may hold."""
    match = _MODEL.search(model.lower())
    if not match:
        return MAX_MEDIA_200K
    family, version = match[1], (int(match[2] or 0), int(match[3] or 0))
    if family in _LONG_CONTEXT_FAMILIES:
        return MAX_MEDIA
    since = _LONG_CONTEXT_SINCE.get(family)
    return MAX_MEDIA if since and version >= since else MAX_MEDIA_200K


def check(chat: Chat) -> None:
    """The per-part and per-request counts, checked before the body is built."""
    _check_images(chat)
    _check_pages(chat)


def _check_images(chat: Chat) -> None:
    count, limit = len(chat.images), media_limit(chat.model)
    side = MAX_IMAGE_SIDE_MANY if count > MANY_IMAGES else MAX_IMAGE_SIDE
    for n, img in enumerate(chat.images, 1):
        width, height = img.payload_size
        encoded = 4 * math.ceil(len(img.payload) / 3)  # 0 for a URL Anthropic fetches itself
        if n > limit:
            code = "too_many_images"
            problem = f"Anthropic takes at most {limit} images per request{_on(chat)}, not {count}"
        elif encoded > MAX_IMAGE_BASE64:
            code = "image_too_large"
            problem = f"the image is {encoded} bytes in base64, over Anthropic's 10 MB limit"
        elif max(width or 0, height or 0) > side:
            code = "image_too_large"
            problem = f"the image is {width}×{height} px, over Anthropic's {side}×{side}"
            if side == MAX_IMAGE_SIDE_MANY:
                problem += f" limit for requests with more than {MANY_IMAGES} images"
        else:
            continue
        raise _refused(img, f"{problem}.", code)


def _check_pages(chat: Chat) -> None:
    limit, pages = media_limit(chat.model), 0
    for doc in chat.documents:
        role = chat.body["messages"][doc.message]["role"]
        if role == "assistant":
            problem = "Anthropic takes documents in user and tool messages, not assistant ones."
            raise _refused(doc, problem, "invalid_document_role")
        pages += doc.frames
        if pages > limit:
            total = sum(d.frames for d in chat.documents)
            held = f"this PDF has {doc.frames} pages, the request's PDFs {total}"
            problem = f"{held}; Anthropic reads at most {limit} PDF pages per request{_on(chat)}."
            raise _refused(doc, problem, "too_many_pages")


def _on(chat: Chat) -> str:
    if media_limit(chat.model) == MAX_MEDIA:
        return ""
    return f" on {chat.model} ({MAX_MEDIA} on models with a 1M-token context window)"


def check_size(content: bytes, chat: Chat) -> None:
    """Anthropic's 32 MB cap on the whole request, once its bytes are known: the part named is
    the image or PDF with which the request passes the cap (the text alone, if it does)."""
    if len(content) <= MAX_REQUEST_BYTES:
        return
    media = sorted(
        (item for item in (*chat.images, *chat.documents) if item.data is not None),
        key=lambda item: (item.message, item.part),
    )
    sizes = [len(item.payload_base64) for item in media]
    running = len(content) - sum(sizes)
    problem = f"the request is {len(content) / 2**20:.1f} MB, over Anthropic's 32 MB request limit"
    for item, size in zip(media, sizes, strict=True):
        running += size
        if running > MAX_REQUEST_BYTES:
            raise _refused(item, f"with this part {problem}.", "request_too_large")
    raise invalid(f"{problem[0].upper()}{problem[1:]}.", code="request_too_large")


def _refused(item: Image, problem: str, code: str) -> GatewayError:
    field = "file" if item.is_document else "image_url"
    where = f"messages[{item.message}].content[{item.part}]"
    param = f"messages.{item.message}.content.{item.part}.{field}"
    return invalid(f"{where}: {problem}", param, code)


def image_block(img: Image) -> dict:
    """Anthropic's image block: the bytes as base64, else the URL for Anthropic to fetch."""
    if img.data is not None:
        source = {"type": "base64", "media_type": img.payload_mime, "data": img.payload_base64}
    else:
        source = {"type": "url", "url": img.url}
    return {"type": "image", "source": source}


def document_block(chat: Chat, i: int, j: int) -> dict:
    """Anthropic's document block for the PDF of messages[i].content[j], titled with the
    client's filename (the title is what Claude and citations call the document)."""
    doc = chat.document(i, j)
    source = {"type": "base64", "media_type": PDF_MIME, "data": doc.payload_base64}
    block: dict = {"type": "document", "source": source}
    filename = (chat.body["messages"][i]["content"][j].get("file") or {}).get("filename")
    if isinstance(filename, str) and filename.strip():
        block["title"] = filename
    return block
