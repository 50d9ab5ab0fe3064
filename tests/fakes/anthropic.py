"""A fake Anthropic Messages API: checks each request against the `anthropic` SDK's types.

Every failure answers Anthropic's own error shape ({"type": "error", "error": {type, message}}).
What is checked:
- headers: x-api-key (401 authentication_error) and anthropic-version (400);
- the body against the SDK's MessageCreateParams TypedDicts with tests/fakes/schema.check(),
  after restoring their required keys (see _restore_required_keys: the SDK's TypedDicts report
  none, so check() alone never notices a missing field);
  The 2.x SDK describes API version 2026-10-21, which refuses temperature/top_p/top_k;
  2023-06-01 (what Iris sends) still takes them, so they are added for that version only;
- each message against UserMessageParam/AssistantMessageParam, and each content block against
  ContentBlockParam on its own: MessageContentParam's union also admits the response models
  (ContentBlock), which check() accepts without looking, so a whole-message check passes any
  block;
- what the types cannot say: no "system" role in messages, roles alternate, no empty turns or
  text blocks, tool_use and tool_result pair up across neighbouring turns, tool_choice needs
  tools, input_schema is an object schema, base64 image data decodes to an image whose real
  type is the declared media_type and that fits the size limits, URL images can be fetched;
- documents (PDFs, in user turns and in tool results): base64 that decodes to a PDF PDFium
  opens; images, and PDF pages, at most 600 per request, 100 on models with a 200k-token
  context window (the rule of gateway/providers/anthropic_media.py, from the same docs);
  the whole body at most 32 MB (413 request_too_large, as Anthropic answers);
- structured outputs (output_config.format, strict tools, forced tool_choice): see
  tests/fakes/anthropic_structured.py; thinking (and the thinking blocks it answers first,
  signed, streamed as thinking_delta + signature_delta): tests/fakes/anthropic_thinking.py.

Behaviour by model name: "fail-429" answers a rate-limit error, "overloaded" a 529, "die"
breaks the stream, "error-event" sends an error event mid-stream, "slow-stream" waits 0.3 s
before each event, "cached" reports cache
reads. Bodies with tools get a tool_use answer unless the last turn holds tool results,
with no text before it when tool_choice forces a tool (any/tool), as Claude's; an
output_config.format gets its JSON as text. Tool inputs and JSON match their schemas, their
strings being the last user text. Otherwise the answer says how many images arrived and the
last user text, and how many documents arrived when there were any.
"""

import base64
import binascii
import io
import json
import re
import typing
from typing import Any

import httpx
from anthropic.types import (
    AssistantMessageParam,
    ContentBlockParam,
    UserMessageParam,
)
from anthropic.types import message_create_params as params
from PIL import Image as PILImage
from typing_extensions import is_typeddict

from tests.fakes import anthropic_structured as structured
from tests.fakes import anthropic_thinking as thinking
from tests.fakes.documents import pdf_pages, pdf_problem
from tests.fakes.schema import SchemaError, check
from tests.fakes.server import Received, Reply

VERSIONS = ("2023-06-01", "2026-10-21")
MAX_IMAGE_BASE64 = 5 * 1024 * 1024
MAX_MEDIA, MAX_MEDIA_200K = 600, 100  # images, and PDF pages, per request
MAX_REQUEST_BYTES = 32 * 1024 * 1024
# Each block TypedDict by its `type`, so an error names the block's own fields.
BLOCKS = {
    typing.get_args(typing.get_type_hints(td)["type"])[0]: td
    for td in typing.get_args(ContentBlockParam)
}
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


class _Sampling(params.MessageCreateParamsNonStreaming, total=False):
    temperature: float
    top_p: float
    top_k: int


class _SamplingStreaming(params.MessageCreateParamsStreaming, total=False):
    temperature: float
    top_p: float
    top_k: int


def _restore_required_keys(tp: object, seen: set) -> None:
    """Recompute __required_keys__ of every TypedDict reachable from tp, from resolved hints.

    The SDK declares `Required[...]` inside postponed (string) annotations of total=False
    TypedDicts, which TypedDict cannot see at class creation: __required_keys__ comes out
    empty for all of them. This only makes the SDK's own types as strict as they are written.
    """
    if not is_typeddict(tp):
        for arg in typing.get_args(tp):
            _restore_required_keys(arg, seen)
        return
    if tp in seen:
        return
    seen.add(tp)
    hints = typing.get_type_hints(tp, include_extras=True)
    marks = {key: getattr(typing.get_origin(hint), "__name__", "") for key, hint in hints.items()}
    required = {key for key, mark in marks.items() if mark == "Required"}
    required |= {key for key in tp.__required_keys__ if marks.get(key) != "NotRequired"}
    tp.__required_keys__ = frozenset(required)
    tp.__optional_keys__ = frozenset(set(hints) - required)
    for hint in hints.values():
        _restore_required_keys(hint, seen)


_seen: set = set()
for _tp in (_Sampling, _SamplingStreaming, UserMessageParam, AssistantMessageParam):
    _restore_required_keys(_tp, _seen)
for _tp in (params.MessageCreateParamsNonStreaming, params.MessageCreateParamsStreaming):
    _restore_required_keys(_tp, _seen)
_restore_required_keys(ContentBlockParam, _seen)


class Invalid(Exception):
    def __init__(self, message: str, status: int = 400, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.kind = status, kind


def handle(request: Received) -> Reply:
    if request.path != "/v1/messages" or request.method != "POST":
        return error(404, "not_found_error", f"Not found: {request.method} {request.path}")
    try:
        key = request.headers.get("x-api-key")
        if not key:
            raise Invalid("x-api-key header is required", 401, "authentication_error")
        if key == "bad-key":
            raise Invalid("invalid x-api-key", 401, "authentication_error")
        version = request.headers.get("anthropic-version")
        if version not in VERSIONS:
            raise Invalid(f"anthropic-version: {'invalid' if version else 'header is required'}")
        if len(request.body) > MAX_REQUEST_BYTES:
            raise Invalid("Request exceeds the maximum allowed size.", 413, "request_too_large")
        try:
            body = request.json()
        except ValueError:
            raise Invalid("There was an issue with your request body: not valid JSON") from None
        images = validate(body, version)
    except Invalid as exc:
        return error(exc.status, exc.kind, str(exc))
    model = body["model"]
    if model == "fail-429":
        return error(429, "rate_limit_error", "Number of request tokens has exceeded your limit.")
    if model == "overloaded":
        return error(529, "overloaded_error", "Overloaded")
    message = answer(body, images)
    headers = {"request-id": "req_fake01", "anthropic-ratelimit-requests-remaining": "49"}
    if not body.get("stream"):
        return Reply.json(200, message, **headers)
    return Reply(
        200,
        headers={"content-type": "text/event-stream", **headers},
        chunks=events(message, model),
        die=model == "die",
        delay=0.3 if model == "slow-stream" else 0.0,  # a client can leave mid-way
    )


def validate(body: Any, version: str = "2023-06-01") -> int:
    """Raise Invalid unless the body is a valid Messages request; return its image count."""
    if not isinstance(body, dict):
        raise Invalid("body: Input should be an object")
    stream = body.get("stream") is True
    if version == "2023-06-01":
        schema = _SamplingStreaming if stream else _Sampling
    else:
        schema = (
            params.MessageCreateParamsStreaming
            if stream
            else params.MessageCreateParamsNonStreaming
        )
    messages = body.get("messages")
    try:
        # messages are walked one by one below (see the module docstring)
        check({**body, "messages": []} if isinstance(messages, list) else body, schema)
        for i, message in enumerate(messages):
            _check_message(message, i)
    except SchemaError as exc:
        raise Invalid(str(exc)) from None
    _check_turns(messages)
    _check_tools(body)
    if refused := structured.problem(body) or thinking.body_problem(body):
        raise Invalid(refused)
    images = [(path, block["source"]) for path, block in _media(messages, "image")]
    limit = media_limit(body["model"])
    if len(images) > limit:
        raise Invalid(f"messages: too many images: {len(images)} > {limit}")
    side = 2000 if len(images) > 20 else 8000
    for path, source in images:
        _check_image(path, source, side)
    pages = sum(_check_document(path, block) for path, block in _media(messages, "document"))
    if pages > limit:
        raise Invalid(f"A maximum of {limit} PDF pages may be provided.")
    return len(images)


def media_limit(model: str) -> int:
    """600, or 100 on models with a 200k-token context window: every one but Opus and Sonnet
    from 4.6 on, and Mythos (platform.claude.com/docs/en/build-with-claude/vision, 2026-11)."""
    match = re.search(r"claude-([a-z]+)(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?=$|[-@:.])", model)
    if not match:
        return MAX_MEDIA_200K
    family, version = match[1], (int(match[2] or 0), int(match[3] or 0))
    long_context = family == "mythos" or (family in ("opus", "sonnet") and version >= (4, 6))
    return MAX_MEDIA if long_context else MAX_MEDIA_200K


def _media(messages: list[dict], kind: str) -> list[tuple[str, dict]]:
    """(path, block) of every block of this type, those inside tool results included."""
    found = []
    for i, message in enumerate(messages):
        for j, block in enumerate(_blocks(message)):
            inner = block.get("content") if block.get("type") == "tool_result" else None
            nested = inner if isinstance(inner, list) else []
            found += [(f"messages.{i}.content.{j}", block)] if block.get("type") == kind else []
            found += [
                (f"messages.{i}.content.{j}.content.{k}", b)
                for k, b in enumerate(nested)
                if b.get("type") == kind
            ]
    return found


def _check_document(path: str, block: dict) -> int:
    """A base64 PDF document's page count, after the checks Anthropic makes of it."""
    source, where = block["source"], f"{path}.document.source"
    if source["type"] != "base64":
        raise Invalid(f"{where}: only base64 PDF sources are supported by this fake")
    try:
        raw = base64.b64decode(source["data"], validate=True)
    except (binascii.Error, TypeError):
        raise Invalid(f"{where}.base64.data: invalid base64 data") from None
    if problem := pdf_problem(raw, 10**6):
        raise Invalid(f"{where}.base64.data: {problem}")
    return pdf_pages(raw) or 0


def _check_message(message: Any, i: int) -> None:
    path = f"body.messages[{i}]"
    if isinstance(message, dict) and message.get("role") == "system":
        raise Invalid(
            'messages: Unexpected role "system". The Messages API accepts a top-level `system` '
            'parameter, not "system" as an input message role.'
        )
    role = message.get("role") if isinstance(message, dict) else None
    check(message, AssistantMessageParam if role == "assistant" else UserMessageParam, path)
    for j, block in enumerate(_blocks(message)):
        kind = block.get("type") if isinstance(block, dict) else None
        check(block, BLOCKS.get(kind, ContentBlockParam), f"{path}.content[{j}]")


def _blocks(message: dict) -> list[dict]:
    content = message["content"]
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _check_turns(messages: list[dict]) -> None:
    for i, message in enumerate(messages):
        role, blocks = message["role"], _blocks(message)
        if i and messages[i - 1]["role"] == role:
            raise Invalid(
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row'
            )
        if not blocks and not (role == "assistant" and i == len(messages) - 1):
            raise Invalid(
                f"messages.{i}: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        if any(b["type"] == "text" and not b["text"] for b in blocks):
            raise Invalid("messages: text content blocks must be non-empty")
        results = [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]
        asked = _tool_use_ids(messages[i - 1]) if i else []
        if unexpected := [r for r in results if r not in asked]:
            raise Invalid(
                f"messages.{i}.content.0: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {', '.join(unexpected)}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
        if i + 1 < len(messages) and (ids := _tool_use_ids(message)):
            answered = {b.get("tool_use_id") for b in _blocks(messages[i + 1])}
            if missing := [t for t in ids if t not in answered]:
                raise Invalid(
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(missing)}. Each `tool_use` block must have "
                    "a corresponding `tool_result` block in the next message."
                )


def _tool_use_ids(message: dict) -> list[str]:
    return [b["id"] for b in _blocks(message) if b["type"] == "tool_use"]


def _check_tools(body: dict) -> None:
    if "tool_choice" in body and not body.get("tools"):
        raise Invalid("tool_choice may only be specified while providing tools.")
    for k, tool in enumerate(body.get("tools") or []):
        if (tool.get("input_schema") or {}).get("type") != "object":
            raise Invalid(f"tools.{k}.custom.input_schema.type: Input should be 'object'")


def _check_image(path: str, source: dict, side: int) -> None:
    if source["type"] == "base64":
        where = f"{path}.image.source.base64"
        data = source["data"]
        if not isinstance(data, str):
            raise Invalid(f"{where}.data: Input should be a valid string")
        if len(data) > MAX_IMAGE_BASE64:
            raise Invalid(f"{where}: image exceeds 5 MB maximum: {len(data)} bytes > 5242880 bytes")
        try:
            raw = base64.b64decode(data, validate=True)
        except binascii.Error:
            raise Invalid(f"{where}.data: invalid base64 data") from None
        mime, width, height = _sniff(raw, where)
        if mime != source["media_type"]:
            raise Invalid(
                f"{where}.data: Image does not match the provided media type {source['media_type']}"
            )
    elif source["type"] == "url":
        where = f"{path}.image.source.url"
        if not source["url"].startswith("http://127.0.0.1:"):  # tests never leave the machine
            raise Invalid(f"{where}: Unable to download the file. Please verify the URL.")
        try:
            response = httpx.get(source["url"], timeout=1.0, follow_redirects=True)
        except httpx.HTTPError:
            response = None
        if response is None or response.status_code != 200:
            raise Invalid(f"{where}: Unable to download the file. Please verify the URL.")
        _, width, height = _sniff(response.content, where)
    else:
        raise Invalid(f"{path}.image.source: file sources are not supported by this fake")
    if max(width, height) > side:
        raise Invalid(f"{path}.image.source: image dimensions exceed max allowed size: {side} px")


def _sniff(raw: bytes, where: str) -> tuple[str, int, int]:
    try:
        img = PILImage.open(io.BytesIO(raw))
    except Exception:  # noqa: BLE001 - any decoding failure is the same 400 upstream
        raise Invalid(f"{where}: Could not process image") from None
    if img.format not in MIME:
        raise Invalid(f"{where}: unsupported image format {img.format}")
    return MIME[img.format], img.width, img.height


def answer(body: dict, images: int) -> dict:
    """The Message this fake replies with: a tool call, or an echo of what arrived."""
    last = body["messages"][-1]
    results = [b for b in _blocks(last) if b["type"] == "tool_result"]
    user = [b for m in body["messages"] if m["role"] == "user" for b in _blocks(m)]
    texts = [b["text"] for b in user if b["type"] == "text"]
    said = texts[-1] if texts else ""
    choice = (body.get("tool_choice") or {}).get("type", "auto")
    stop_reason, stop_sequence = "end_turn", None
    fmt = (body.get("output_config") or {}).get("format")
    if body.get("tools") and not results and choice != "none" and not (fmt and choice == "auto"):
        tool = body["tools"][0]
        if choice == "tool":
            tool = next(t for t in body["tools"] if t["name"] == body["tool_choice"]["name"])
        # Forcing a tool (any/tool) leaves Claude no room for text before the call.
        content = (
            [] if choice in ("any", "tool") else [{"type": "text", "text": "Let me use a tool."}]
        )
        content.append(
            {
                "type": "tool_use",
                "id": f"toolu_fake{len(body['messages']):02d}",
                "name": tool["name"],
                "input": structured.instance(tool["input_schema"], said),
            }
        )
        stop_reason = "tool_use"
    elif fmt and not results:
        content = [{"type": "text", "text": json.dumps(structured.instance(fmt["schema"], said))}]
    else:
        docs = len(_media(body["messages"], "document"))
        if results:
            text = "Tool said: " + " ".join(_text_of(r.get("content")) for r in results)
            text += f" I see {docs} document(s)." if docs else ""
        else:
            seen = f"{images} image(s)" + (f" and {docs} document(s)" if docs else "")
            text = f"I see {seen}. You said: {said}"
        for stop in body.get("stop_sequences") or []:
            if stop in text:
                text, stop_reason, stop_sequence = text[: text.index(stop)], "stop_sequence", stop
                break
        content = [{"type": "text", "text": text}]
    cached = 1024 if body["model"] == "cached" else 0
    thought = [thinking.thinking_block(said)] if thinking.thinking_on(body) else []
    content = thought + content
    output = sum(len(json.dumps(block).split()) for block in content)
    return {
        "id": "msg_01FakeFakeFakeFakeFake",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {
            "input_tokens": 20 + 1500 * images,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached,
            "output_tokens": output,
            "service_tier": "standard",
            **(
                {"output_tokens_details": {"thinking_tokens": len(json.dumps(thought).split())}}
                if thought
                else {}
            ),
        },
    }


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in content or [] if b.get("type") == "text")


def events(message: dict, model: str):
    """The Message as Anthropic's named SSE events, text word by word, tool input in pieces."""

    def event(data: dict) -> bytes:
        return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()

    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    yield event(
        {"type": "message_start", "message": {**start, "usage": {**usage, "output_tokens": 1}}}
    )
    yield event({"type": "ping"})
    for index, block in enumerate(message["content"]):
        empty = {**block, "text": ""} if block["type"] == "text" else {**block, "input": {}}
        if block["type"] == "thinking":
            empty, deltas = thinking.stream_deltas(block)
        yield event({"type": "content_block_start", "index": index, "content_block": empty})
        if block["type"] == "thinking":
            pass
        elif block["type"] == "text":
            words = block["text"].split(" ")
            pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
            deltas = [{"type": "text_delta", "text": p} for p in pieces]
        else:
            arguments = json.dumps(block["input"])
            pieces = ["", arguments[:7], arguments[7:]]
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        for n, delta in enumerate(deltas):
            if model == "die" and n == 2:
                return
            if model == "error-event" and n == 2:
                yield event(
                    {
                        "type": "error",
                        "error": {"type": "overloaded_error", "message": "Overloaded"},
                    }
                )
                return
            yield event({"type": "content_block_delta", "index": index, "delta": delta})
        yield event({"type": "content_block_stop", "index": index})
    yield event(
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": message["stop_reason"],
                "stop_sequence": message["stop_sequence"],
            },
            "usage": {
                "output_tokens": usage["output_tokens"],
                **{k: v for k, v in usage.items() if k == "output_tokens_details"},
            },
        }
    )
    yield event({"type": "message_stop"})


def error(status: int, kind: str, message: str) -> Reply:
    return Reply.json(
        status,
        {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake01"},
        **{"request-id": "req_fake01"},
    )
