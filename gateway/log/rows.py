"""What a log Record becomes in the database: the RequestLog row's fields (bodies with their
images by reference, previews, search text) and the LogImage rows'.

Pure functions of the record; run in the log writer's threads, never on the request path.
"""

from __future__ import annotations

import re
from typing import Protocol

import orjson

from gateway.chat import Chat
from gateway.images import Image
from gateway.log import economics, outputs
from gateway.log.blobs import BlobData
from gateway.log.record import Record

_PREVIEW = 300
_SEARCHED = 20_000
_BIG_STRING = 2_000  # an upstream body's strings this long may be image data
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def _reply_text(body: dict | None) -> str:
    if isinstance(body, dict) and body.get("object") == "response":  # the Responses API's
        return " ".join(output_texts(body)) or _calls(body)
    if isinstance(body, dict) and isinstance(data := body.get("data"), list):  # ImagesResponse
        revised = next((d.get("revised_prompt") for d in data if isinstance(d, dict)), None)
        return revised if isinstance(revised, str) else f"{len(data)} image(s)"
    try:
        return body["choices"][0]["message"]["content"] or ""  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return ""


class Logged(Protocol):
    """What a parsed request other than a Chat (an ImageJob, a Responses request) tells the
    log: its body with images by reference, the prompt to preview, the texts to search."""

    images: list[Image]

    def logged_body(self) -> dict: ...
    def prompt_text(self) -> str: ...
    def search_texts(self, response_body: dict | None) -> list[str]: ...


def output_texts(response: dict) -> list[str]:
    """The output_text parts of a Responses API response's messages (not its reasoning)."""
    texts = []
    for item in response.get("output") or ():
        if not isinstance(item, dict) or item.get("type", "message") != "message":
            continue
        for part in item.get("content") or ():
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return texts


def _calls(response: dict) -> str:
    """A Responses answer that only calls functions, as a preview: name(arguments)…"""
    calls = [
        f"{item.get('name', '')}({item.get('arguments', '')})"
        for item in response.get("output") or ()
        if isinstance(item, dict) and item.get("type") == "function_call"
    ]
    return ("calls " + ", ".join(calls)) if calls else ""


def _search_text(chat: Chat | Logged | None, response_body: dict | None) -> str:
    """Every text of the conversation and of the reply (tool-call arguments included), capped."""
    if chat is not None and not isinstance(chat, Chat):
        texts = chat.search_texts(response_body)
        return "\n".join(t for t in texts if isinstance(t, str) and t)[:_SEARCHED]
    texts = [_text(m.get("content")) for m in chat.body["messages"]] if chat else []
    choices = (response_body or {}).get("choices")
    for choice in choices if isinstance(choices, list) else ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            texts.append(_text(message.get("content")))
            for call in message.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict):
                    texts.append(f"{function.get('name', '')} {function.get('arguments', '')}")
    return "\n".join(t for t in texts if t)[:_SEARCHED]


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        return " ".join(t for t in texts if isinstance(t, str) and t)
    return ""


def _prompt_text(chat: Chat | Logged | None) -> str:
    if chat is None:
        return ""
    if not isinstance(chat, Chat):
        return chat.prompt_text()
    for message in reversed(chat.body["messages"]):
        if message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def stored_body(record: Record) -> dict | None:
    """The request body with each base64 image replaced by a reference to its blob."""
    if record.chat is None:
        if not record.raw_body:
            return None
        return {"_unparsed": record.raw_body[:100_000].decode("utf-8", "replace")}
    if not isinstance(record.chat, Chat):
        return record.chat.logged_body()
    body = dict(record.chat.body)
    chat = record.chat
    base64_images = [img for img in chat.images if img.origin == "base64"]
    if base64_images or chat.documents:
        messages = [dict(m) for m in body["messages"]]
        for img in [*base64_images, *chat.documents]:
            content = messages[img.message]["content"] = list(messages[img.message]["content"])
            part = dict(content[img.part])
            if img.is_document:
                part["file"] = {**part["file"], "file_data": f"iris-blob:{img.sha256}"}
            else:
                part["image_url"] = {**part["image_url"], "url": f"iris-blob:{img.sha256}"}
            content[img.part] = part
        body["messages"] = messages
    return body


def stored_upstream_body(record: Record) -> dict | None:
    """The JSON sent upstream, each image's base64 (in whatever field the provider wants it)
    replaced by a reference: `iris-blob:<sha256>`, or `iris-converted:<sha256>` for a copy
    converted from that blob (the converted bytes are not kept). The providers put each
    image's Image.payload_base64 string in place, so it is found by identity: no encoding,
    parsing or searching of megabytes here, in a thread that shares the GIL with the proxy."""
    if record.upstream_body is None:
        return None
    refs: dict[int, tuple[str, str]] = {}
    for img in _sent(record):
        if img.encoded:  # encoded for this upstream
            encoded = img.encoded[1]
            kind = "iris-converted" if img.converted else "iris-blob"
            refs[id(encoded)] = (encoded, f"{kind}:{img.sha256}")
    return _map_strings(record.upstream_body, _with_refs(refs))


def _sent(record: Record) -> list[Image]:
    chat = record.chat
    return [*chat.images, *getattr(chat, "documents", ())] if chat else []


def _with_refs(refs: dict[int, tuple[str, str]]):
    def change(value: str) -> str:
        if id(value) in refs:
            return refs[id(value)][1]
        if value.startswith("data:"):  # a data URI: its prefix + an encoded payload
            for encoded, ref in refs.values():
                if value.endswith(encoded):
                    return ref
        if len(value) > _BIG_STRING and _BASE64.fullmatch(value):  # data, not text: left out
            return f"[{len(value)} characters of base64 not kept]"
        return value

    return change


def _map_strings(value, change):
    """The JSON value with change() applied to each string in it, object keys included."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {_map_strings(k, change): _map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, change) for v in value]
    return value


def _all_images(record: Record) -> list[Image]:
    """Every image (and document) the record sent and got back."""
    return [*_sent(record), *outputs.images(record)]


def blobs(record: Record) -> dict[str, BlobData]:
    """The bytes of each image of the record (sent and made), by SHA-256: the client's, and
    the copy sent instead where auto-fit or a conversion made one."""
    images = _all_images(record)
    found = {img.sha256: BlobData.of(img) for img in images if img.data}
    for img in images:
        if sent := _sent_copy(img):
            found.setdefault(*sent)
    return found


def _sent_copy(img: Image) -> tuple[str, BlobData] | None:
    """(SHA-256, blob) of the copy sent in place of the image's own bytes, if any; hashed
    once, though blobs() and image_fields() both ask."""
    if not (img.converted and img.data) or img.converted[0] is img.data:
        return None
    found = img.__dict__.get("_sent_blob")
    if found is None or found[0] is not img.converted:
        found = img.__dict__["_sent_blob"] = (img.converted, BlobData.sent(img))
    return found[1]


def image_fields(record: Record) -> list[dict]:
    """LogImage fields of each image (without the log it belongs to)."""
    return [
        {
            "blob_id": img.sha256 if img.data else None,
            "sent_blob_id": sent[0] if (sent := _sent_copy(img)) else None,
            "message_index": img.message,
            "part_index": img.part,
            "detail": _clean((img.detail or "")[:20]),
            "origin": img.origin,
            "url": _clean(img.url or ""),
            "data_uri_prefix": _clean(img.data_uri_prefix[:100]),
            "error": _clean(img.error or img.problem),
            "role": img.role,
            "partial_index": img.partial_index,
            "fetch_ms": img.fetch_ms,
            **economics.image_fields(record, img),
        }
        for img in _all_images(record)
    ]


def summary_fields(r: Record) -> dict:
    """The fields that cannot fail: what a degraded record keeps."""
    usage = r.usage if isinstance(r.usage, dict) else {}
    return dict(
        request_id=r.request_id,
        created_at=r.created_at,
        api_key_id=r.api_key_id,
        provider=_clean(r.provider[:50]),
        provider_slug=_clean(r.provider_slug[:64]),
        model=_clean(r.model[:200]),
        trace_id=_clean(r.trace_id[:200]),
        path=_clean(r.path[:200]),
        upstream_url=_clean(r.upstream_url[:1000]),
        status_code=r.status_code,
        error_type=_clean(r.error_type[:100]),
        error_message=_clean(r.error_message),
        is_stream=r.is_stream,
        chunk_count=r.chunk_count,
        latency_ms=r.latency_ms,
        ttft_ms=r.ttft_ms,
        # The Images and Responses APIs say input/output tokens where chat says prompt/completion.
        prompt_tokens=_count(usage.get("prompt_tokens", usage.get("input_tokens"))),
        completion_tokens=_count(usage.get("completion_tokens", usage.get("output_tokens"))),
        total_tokens=_count(usage.get("total_tokens")),
        image_count=min(len(_sent(r)), 32767),  # images and documents sent
        output_image_count=min(outputs.count(r), 32767),
        endpoint=_clean(r.endpoint[:40]),
        prompt=_clean(r.prompt[:64]),
        prompt_version=_count(r.prompt_version),
        config_id=_clean(r.config_id[:64]),
        cache_status=_clean(r.cache_status[:10]),
        retried=any(a.get("retry") for a in r.attempts),
        fell_back=any(a.get("fell_back") for a in r.attempts),
        # Set here, not left to the column's default: a row with every field skips the
        # writer's filling in of defaults (~3 µs a row, gateway/log/insert.py).
        degraded="",
    )


def full_fields(r: Record) -> dict:
    """Every field of the row; may raise on a record no row can hold as it is."""
    return dict(
        summary_fields(r),
        metadata=clean_json(r.metadata),
        request_headers=clean_json(r.request_headers),
        request_body=clean_json(stored_body(r)),
        upstream_body=clean_json(stored_upstream_body(r)),
        response_body=clean_json(outputs.stored_response(r)),
        prompt_preview=_clean(_prompt_text(r.chat)[:_PREVIEW]),
        reply_preview=_clean(_reply_text(r.response_body)[:_PREVIEW]),
        search_text=_clean(_search_text(r.chat, r.response_body)),
        prompt_variables=clean_json(r.prompt_variables),
        dropped_params=[_clean(str(name)[:200]) for name in r.dropped_params[:100]],
        attempts=clean_json(logged_attempts(r)),
        **economics.record_fields(r),
    )


_KEPT_ATTEMPTS = 50  # the first and the last this many of a config run's attempts


def logged_attempts(r: Record) -> list[dict]:
    """A config run's attempts as the log keeps them: the answering (last) one brought up to
    date with how its stream ended, and past 2 × _KEPT_ATTEMPTS the first and the last ones
    around one entry saying how many in between were not kept."""
    attempts = list(r.attempts)
    if attempts and "status" not in attempts[-1] and r.status_code:
        # Submitted by forward() before the run stamped its attempt: the record's own figures.
        attempts[-1] = {**attempts[-1], "status": r.status_code, "latency_ms": r.latency_ms}
    if attempts and r.is_stream and r.error_type and attempts[-1].get("status") == 200:
        attempts[-1] = {**attempts[-1], "error": f"the stream ended early: {r.error_message}"}
    if len(attempts) > 2 * _KEPT_ATTEMPTS:
        left_out = len(attempts) - 2 * _KEPT_ATTEMPTS
        gap = {"target": "", "omitted": left_out, "error": f"{left_out} attempts not kept"}
        attempts = [*attempts[:_KEPT_ATTEMPTS], gap, *attempts[-_KEPT_ATTEMPTS:]]
    return attempts


# PostgreSQL refuses NUL in text and in jsonb: one such character from a client or a model
# must not cost the row (or, in a batch, its neighbours).
def _clean(text: str) -> str:
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def clean_json(value):
    if value is None or b"\\u0000" not in orjson.dumps(value):
        return value
    return _map_strings(value, _clean)


def _count(value: object) -> int | None:
    """A token count as the column takes it; an upstream's odd value is dropped, not fatal."""
    valid = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31
    return value if valid else None  # type: ignore[return-value]


# What summary_fields() fills: each capped or checked, so a row of them cannot be refused.
SUMMARY_FIELDS = frozenset(summary_fields(Record(path="", request_headers={})))
