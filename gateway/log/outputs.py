"""The images a model made, found in a record's answer: an Images API answer's `data` (base64,
or the bytes fetched from its URLs at once: they expire), the partial images of its stream,
and the pictures of a chat reply (`message.images`, see gateway/providers/gemini.py).

Decoded and hashed once per record, in the log writer's threads, never on the request path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pybase64

from gateway.images import Image, ImageError, decode_data_uri

if TYPE_CHECKING:
    from gateway.log.record import Record

# What an Images API answer's output_format says of bytes Pillow cannot read (an SVG).
_FORMATS = {"svg": "image/svg+xml", "png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def images(record: Record) -> list[Image]:
    """The output images of the record, in order (partial images after the outputs)."""
    cached = record.__dict__.get("_output_images")
    if cached is None:
        cached = record.__dict__["_output_images"] = _find(record)
    return cached


def count(record: Record) -> int:
    """How many images the model made (partial images apart)."""
    try:
        return sum(img.role == "output" for img in images(record))
    except Exception:  # summary fields cannot fail: a body no one foresaw counts none
        return 0


def encoded_size(record: Record) -> int:
    """Roughly the bytes of the record's output images, from their base64, nothing decoded:
    what the journal's batch limit counts."""
    body = record.response_body if isinstance(record.response_body, dict) else {}
    data = body.get("data") if isinstance(body.get("data"), list) else []
    made = sum(
        len(d["b64_json"])
        for d in data
        if isinstance(d, dict) and isinstance(d.get("b64_json"), str)
    )
    return (made + sum(len(p[2]) for p in record.partial_images)) * 3 // 4


def stored_response(record: Record) -> dict | None:
    """The response body with each output image's base64 replaced by `iris-blob:<sha256>`."""
    body = record.response_body
    made = [img for img in images(record) if img.role == "output" and img.data]
    if not isinstance(body, dict) or not made:
        return body
    body = dict(body)
    if isinstance(body.get("data"), list):
        data = body["data"] = list(body["data"])
        for img in made:
            item = data[img.part]
            if isinstance(item, dict) and isinstance(item.get("b64_json"), str):
                data[img.part] = {**item, "b64_json": f"iris-blob:{img.sha256}"}
    if isinstance(body.get("choices"), list):
        choices = body["choices"] = [dict(c) if isinstance(c, dict) else c for c in body["choices"]]
        for img in made:
            choice = choices[img.message]
            message = choice["message"] = dict(choice["message"])
            pictures = message["images"] = list(message["images"])
            picture = pictures[img.part] if isinstance(pictures[img.part], dict) else {}
            pictures[img.part] = {**picture, "image_url": {"url": f"iris-blob:{img.sha256}"}}
    return body


def _find(record: Record) -> list[Image]:
    body = record.response_body if isinstance(record.response_body, dict) else {}
    found: list[Image] = []
    mime = _FORMATS.get(str(body.get("output_format") or ""), "")
    data = body.get("data")
    if record.endpoint.startswith("images.") and isinstance(data, list):
        fetched = {img.part: img for img in record.url_outputs}
        for i, item in enumerate(data):
            if isinstance(item, dict) and isinstance(item.get("b64_json"), str):
                found.append(_decoded(item["b64_json"], mime, part=i))
            elif i in fetched:
                found.append(fetched[i])
    for part, partial, b64 in record.partial_images:
        found.append(_decoded(b64, mime, part=part, role="partial", partial_index=partial))
    choices = body.get("choices")
    for c, choice in enumerate(choices if isinstance(choices, list) else ()):
        message = choice.get("message") if isinstance(choice, dict) else None
        pictures = message.get("images") if isinstance(message, dict) else None
        for j, picture in enumerate(pictures if isinstance(pictures, list) else ()):
            if img := _chat_picture(picture, c, j):
                found.append(img)
    return found


def _decoded(b64: str, mime: str, *, part: int, role: str = "output", **extra) -> Image:
    img = Image(message=0, part=part, origin="base64", role=role, **extra)
    try:
        data = pybase64.b64decode(b64, validate=True)
    except ValueError as exc:
        img.error = f"the answer's base64 could not be decoded ({exc})"
        return img
    _describe(img, data, mime)
    return img


def _chat_picture(picture: object, choice: int, index: int) -> Image | None:
    url = picture.get("image_url") if isinstance(picture, dict) else None
    url = url.get("url") if isinstance(url, dict) else url
    if not isinstance(url, str):
        return None
    img = Image(message=choice, part=index, origin="base64", role="output")
    if not url.startswith("data:"):
        img.origin, img.url = "url", url
        return img
    try:
        img.data_uri_prefix, data = decode_data_uri(url)
    except ImageError as exc:
        img.error = f"the reply's image {exc}"
        return img
    _describe(img, data, "")
    return img


def _describe(img: Image, data: bytes, mime: str) -> None:
    try:
        img.describe(data)
    except ImageError as exc:  # kept for download; an SVG is no error when one was asked for
        img.data, img.mime = data, mime or "application/octet-stream"
        if mime != "image/svg+xml":
            img.error = f"the model's output {exc}"
