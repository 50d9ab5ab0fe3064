"""Images and documents in Bedrock Converse requests: their content blocks and their limits.

Limits from the Converse API reference (Message.content, DocumentBlock; botocore's
bedrock-runtime 2023-09-30 service model says the same), read 2026-11:
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Message.html
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_DocumentBlock.html
- up to 20 images, each at most 3.75 MB and 8000 px a side;
- up to 5 documents, each at most 4.5 MB ("uncompressed and decoded", the user guide adds);
- a message with a document must also hold a text block;
- images and documents only in user messages.
A document's `name` (1-200 characters) may hold only alphanumerics, single whitespace,
hyphens, parentheses and square brackets: the client's filename is sanitised to that.
"""

import re
import unicodedata

from gateway.chat import Chat, invalid
from gateway.errors import GatewayError
from gateway.images import Image

IMAGE_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_IMAGE_BYTES = int(3.75 * 1024 * 1024)
MAX_IMAGE_SIDE = 8000
MAX_IMAGES = 20
MAX_DOCUMENT_BYTES = int(4.5 * 1024 * 1024)
MAX_DOCUMENTS = 5
MAX_NAME = 200
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9\s()\[\]-]+")


def check(chat: Chat) -> None:
    """Bedrock's per-part and per-request limits, checked before anything is sent."""
    for n, img in enumerate(chat.images):
        if problem := _image_problem(img, n, len(chat.images)):
            raise _refused(img, "image_url", *problem)
    for n, doc in enumerate(chat.documents):
        if problem := _document_problem(chat, doc, n):
            raise _refused(doc, "file", *problem)


def _image_problem(img: Image, n: int, total: int) -> tuple[str, str] | None:
    side = max(size or 0 for size in img.payload_size)  # the copy sent (auto-fit)
    if n == MAX_IMAGES:
        return "too_many_images", f"Bedrock takes at most 20 images; this request has {total}."
    if img.data is None:
        return "image_fetch_failed", "the image was not fetched; Bedrock takes bytes only."
    if img.payload_mime not in IMAGE_MIME_TYPES:
        return (
            "unsupported_image",
            f"{img.payload_mime} is not a type Bedrock takes (png, jpeg, gif, webp).",
        )
    if len(img.payload) > MAX_IMAGE_BYTES:
        size = len(img.payload) / 2**20
        return "image_too_large", f"the image is {size:.2f} MB; Bedrock's limit is 3.75 MB."
    if side > MAX_IMAGE_SIDE:
        width, height = img.payload_size
        return "image_too_large", f"the image is {width}×{height} px; the limit is 8000 px."
    return None


def _document_problem(chat: Chat, doc: Image, n: int) -> tuple[str, str] | None:
    role = chat.body["messages"][doc.message]["role"]
    if role != "user":
        return "invalid_document_role", f"Bedrock takes documents in user messages, not {role}."
    if n == MAX_DOCUMENTS:
        total = len(chat.documents)
        return "too_many_documents", f"Bedrock takes at most 5 documents; this request has {total}."
    if doc.size > MAX_DOCUMENT_BYTES:
        size = doc.size / 2**20
        return "document_too_large", f"the document is {size:.2f} MB; Bedrock's limit is 4.5 MB."
    return None


def _refused(item: Image, field: str, code: str, problem: str) -> GatewayError:
    where = f"messages[{item.message}].content[{item.part}]"
    param = f"messages.{item.message}.content.{item.part}.{field}"
    return invalid(f"{where}: {problem}", param, code)


def image_block(img: Image) -> dict:
    """Bedrock's image block: format + raw bytes (base64 in JSON)."""
    source = {"bytes": img.payload_base64}
    return {"image": {"format": img.payload_mime.removeprefix("image/"), "source": source}}


class Documents:
    """Builds a request's document blocks, each with a name of its own, and remembers where
    each came from so the rules on the finished messages can name the part."""

    def __init__(self, chat: Chat) -> None:
        self._chat = chat
        self._names: set[str] = set()
        self._sources: dict[int, Image] = {}  # id(block) → its document

    def block(self, i: int, j: int) -> dict:
        doc = self._chat.document(i, j)
        spec = self._chat.body["messages"][i]["content"][j].get("file") or {}
        name = document_name(spec.get("filename"), len(self._names) + 1, self._names)
        self._names.add(name)
        source = {"bytes": doc.payload_base64}
        block = {"document": {"format": "pdf", "name": name, "source": source}}
        self._sources[id(block)] = doc
        return block

    def check_text(self, messages: list[dict]) -> None:
        """Converse refuses a message that holds a document and no text block."""
        for message in messages:
            content = message["content"]
            if any(str(block.get("text", "")).strip() for block in content):
                continue
            for block in content:
                if doc := self._sources.get(id(block)):
                    raise _refused(
                        doc,
                        "file",
                        "document_without_text",
                        "Bedrock needs a text part in the same message as a document.",
                    )


def document_name(filename: object, number: int, taken: set[str]) -> str:
    """A name Bedrock takes, from the client's filename: its folders and extension dropped,
    accents folded, other characters made spaces, runs of whitespace one space; unique in the
    request (`(2)` appended) and never empty (`document N`)."""
    base = re.split(r"[\\/]", filename)[-1] if isinstance(filename, str) else ""
    stem, dot, _ = base.rpartition(".")
    folded = unicodedata.normalize("NFKD", stem if dot and stem else base)
    plain = _NOT_IN_NAME.sub(" ", folded.encode("ascii", "ignore").decode())
    name = " ".join(plain.split())[: MAX_NAME - 8].strip() or f"document {number}"
    unique, copy = name, 1
    while unique in taken:
        copy += 1
        unique = f"{name} ({copy})"
    return unique
