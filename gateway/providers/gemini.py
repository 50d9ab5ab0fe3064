"""Google Gemini API (Generative Language): generateContent and streamGenerateContent.

Docs: https://ai.google.dev/api/generate-content, https://ai.google.dev/api/caching#Content
      https://ai.google.dev/gemini-api/docs/thought-signatures
Quirks:
- The key goes in `x-goog-api-key`, never in `?key=` (URLs end up in access logs).
- Roles are user/model, the system prompt is `systemInstruction`, and a tool result is a
  `functionResponse` part of a user turn that names the function, not the call id
  (gemini_messages.py).
- Streams are SSE (`alt=sse`) framed with CRLF; each event is a GenerateContentResponse
  fragment; function calls arrive whole; the last fragment holds the final usage.
- Gemini 3 refuses a replayed function call without its `thoughtSignature`: it rides in the
  tool call's `extra_content.google.thought_signature`, as in Google's own OpenAI layer.
- An image's `detail` low/high → media_resolution LOW/HIGH: per part on Gemini 3, else in
  generationConfig when all images agree (gemini_media.py, gemini_vision.py decides).
- PDFs (chat `file` parts) go inline as application/pdf, counted in the inline-data limit;
  at most 1000 pages each (gemini_media.py).
- Image models answer with pictures between text parts: `message.images` / `delta.images`
  (see gemini_media.py for the shape and why).
- reasoning_effort → generationConfig.thinkingConfig; thought parts → reasoning_content
  (gemini_thinking.py).
- Sampling parameters, logprobs and service_tier, and a 400 for what Gemini cannot honour
  unless the client opts into dropping it (logged as dropped): gemini_params.py.
"""

import uuid
from urllib.parse import quote

import orjson

from gateway.chat import Chat
from gateway.errors import GatewayError
from gateway.providers import base, gemini_media, gemini_messages, gemini_params, gemini_thinking
from gateway.providers.base import SSEDecoder, Target, Upstream, new_completion_id, now
from gateway.providers.gemini_messages import (
    MAX_INLINE_BYTES,  # noqa: F401 (the limit)
    invalid,
    loads,
)
from gateway.providers.gemini_models import list_models_request, parse_models  # noqa: F401

NAME = "google"
ACCEPTS_REASONING_EFFORT = True
ACCEPTS_IMAGE_URLS = False  # the core fetches URL images; they go inline as bytes
IMAGE_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"})
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"

_FILTERED = (
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "LANGUAGE",
    "IMAGE_SAFETY",
)
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"} | dict.fromkeys(_FILTERED, "content_filter")
_TOOL_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
_ERROR_TYPES = {
    "INVALID_ARGUMENT": "invalid_request_error",
    "UNAUTHENTICATED": "authentication_error",
    "PERMISSION_DENIED": "permission_error",
    "NOT_FOUND": "not_found_error",
    "RESOURCE_EXHAUSTED": "rate_limit_error",
}


def build_request(chat: Chat, target: Target) -> Upstream:
    dropped = gemini_params.check(chat.body, target.options)
    system, contents = gemini_messages.translate(chat)
    body: dict = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    thinking = gemini_thinking.thinking_config(chat.body, chat.model)
    media = gemini_media.config_resolution(chat.model, chat.body)
    if config := _generation_config(chat.body) | thinking | media:
        body["generationConfig"] = config
    if tools := chat.body.get("tools"):
        declarations = [_declaration(tool, i) for i, tool in enumerate(tools)]
        body["tools"] = [{"functionDeclarations": declarations}]
    if (choice := chat.body.get("tool_choice")) is not None:
        body["toolConfig"] = {"functionCallingConfig": _tool_choice(choice)}
    if tier := gemini_params.service_tier(chat.body):
        body["serviceTier"] = tier
    action = "streamGenerateContent?alt=sse" if chat.stream else "generateContent"
    upstream = request(target, chat.model, action, body)
    upstream.dropped = dropped
    return upstream


def request(target: Target, model: str, action: str, body: dict) -> Upstream:
    """POST `body` to a model's method (`generateContent`, `predict`…), the key in a header."""
    root = (target.base_url or DEFAULT_BASE_URL).rstrip("/")
    name = quote(model.removeprefix("models/"), safe="")
    headers = {"content-type": "application/json", **target.headers}
    if target.api_key:
        headers["x-goog-api-key"] = target.api_key
    url = f"{root}/v1beta/models/{name}:{action}"
    return Upstream("POST", url, headers, orjson.dumps(body), body)


def _generation_config(body: dict) -> dict:
    config = gemini_params.generation_config(body)
    fmt = body.get("response_format") or {"type": "text"}
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise invalid("type must be text, json_object or json_schema.", "response_format")
    if kind != "text":
        config["responseMimeType"] = "application/json"
    # responseJsonSchema takes JSON Schema as clients write it ($defs, anyOf,
    # additionalProperties), as google-genai sends it; responseSchema only an OpenAPI subset.
    if kind == "json_schema" and isinstance(spec := fmt.get("json_schema"), dict):
        config |= {"responseJsonSchema": spec["schema"]} if spec.get("schema") else {}
    return config | gemini_media.output_config(body)


def _declaration(tool: dict, i: int) -> dict:
    function = tool.get("function") if tool.get("type") == "function" else None
    if not isinstance(function, dict) or not function.get("name"):
        raise invalid("only function tools are supported.", f"tools[{i}]")
    out = {"name": function["name"], "description": function.get("description")}
    # parametersJsonSchema takes JSON Schema as OpenAI clients write it (anyOf, $defs…).
    out["parametersJsonSchema"] = function.get("parameters")
    return {k: v for k, v in out.items() if v}


def _tool_choice(choice: str | dict) -> dict:
    if isinstance(choice, str) and choice in _TOOL_MODES:
        return {"mode": _TOOL_MODES[choice]}
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    if not name:
        raise invalid("must be auto, required, none or a function.", "tool_choice")
    return {"mode": "ANY", "allowedFunctionNames": [name]}


def parse_response(data: dict, chat: Chat) -> dict:
    if not (candidates := data.get("candidates")):
        raise blocked(data) or GatewayError(502, "Gemini answered without any candidate.")
    choices = []
    for position, candidate in enumerate(candidates):
        pieces = _parts(candidate)
        texts = [piece["content"] for piece in pieces if "content" in piece]
        thoughts = [piece["reasoning_content"] for piece in pieces if "reasoning_content" in piece]
        calls = [call for piece in pieces for call in piece.get("tool_calls", ())]
        images = [image for piece in pieces for image in piece.get("images", ())]
        message = {"role": "assistant", "content": "".join(texts) if texts else None}
        message |= {"tool_calls": calls} if calls else {}
        message |= {"images": images} if images else {}
        message |= {"reasoning_content": "".join(thoughts)} if thoughts else {}
        choice = {"index": candidate.get("index", position), "message": message}
        choice["logprobs"] = gemini_params.choice_logprobs(candidate)
        choice["finish_reason"] = _finish(candidate.get("finishReason", ""), bool(calls))
        choices.append(choice)
    return {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": now(),
        "model": data.get("modelVersion") or chat.model,
        "choices": choices,
        "usage": _usage(data.get("usageMetadata") or {}),
    }


def _parts(candidate: dict, first_image: int = 0) -> list[dict]:
    """A candidate's parts as OpenAI deltas, in order: {"content"} for visible text,
    {"tool_calls": [call]}, {"images": [picture]} (numbered from `first_image`), and
    {"reasoning_content"} for a thought part's text."""
    pieces: list[dict] = []
    for part in (candidate.get("content") or {}).get("parts") or []:
        if part.get("thought"):
            if thought := gemini_thinking.thought_text(part):
                pieces.append({"reasoning_content": thought})
            continue
        if "text" in part:
            pieces.append({"content": part["text"]})
        elif image := gemini_media.inline_image(part):
            number = first_image + sum("images" in piece for piece in pieces)
            pieces.append({"images": [gemini_media.picture(*image, number)]})
        elif call := part.get("functionCall"):
            arguments = orjson.dumps(call.get("args") or {}).decode()
            function = {"name": call.get("name", ""), "arguments": arguments}
            call_id = call.get("id") or f"call_{uuid.uuid4().hex[:24]}"
            item = {"id": call_id, "type": "function", "function": function}
            if signature := part.get("thoughtSignature"):
                item["extra_content"] = {"google": {"thought_signature": signature}}
            pieces.append({"tool_calls": [item]})
    return pieces


def _finish(reason: str, has_calls: bool) -> str:
    return "tool_calls" if reason == "STOP" and has_calls else _FINISH.get(reason, "stop")


def _usage(meta: dict) -> dict:
    thoughts = meta.get("thoughtsTokenCount", 0)  # billed as output, like OpenAI's reasoning
    completion = meta.get("candidatesTokenCount", 0) + thoughts
    out = base.usage(meta.get("promptTokenCount", 0), completion)
    out["total_tokens"] = meta.get("totalTokenCount", out["total_tokens"])
    if thoughts:
        out["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    if cached := meta.get("cachedContentTokenCount"):
        out["prompt_tokens_details"] = {"cached_tokens": cached}
    return out


def blocked(data: dict) -> GatewayError | None:
    feedback = data.get("promptFeedback") or {}
    if not (reason := feedback.get("blockReason")):
        return None
    why = f" {feedback['blockReasonMessage']}" if feedback.get("blockReasonMessage") else ""
    message = f"Gemini blocked the prompt (blockReason: {reason}).{why}"
    return GatewayError(400, message, "invalid_request_error", code="content_filter")


class Stream:
    """GenerateContentResponse fragments → chat.completion.chunk dicts, one per part."""

    def __init__(self, chat: Chat, *, max_event_bytes: int = base.MAX_EVENT_BYTES) -> None:
        self._sse = SSEDecoder(max_event_bytes)
        self._meta = {"id": new_completion_id(), "model": chat.model, "created": now()}
        self._include_usage = chat.include_usage
        self._calls: dict[int, int] = {}  # candidate index → tool calls sent (key: role sent)
        self._images: dict[int, int] = {}  # candidate index → pictures sent
        self._finished: set[int] = set()
        self._usage: dict | None = None
        self._failed = False

    def feed(self, data: bytes) -> list[dict]:
        return [c for event in self._sse.feed(data) for c in self._event(event.data)]

    def close(self) -> list[dict]:
        out = [c for event in self._sse.close() for c in self._event(event.data)]
        if not self._failed and not self._finished:
            out.append(GatewayError(502, "Gemini ended the stream unfinished.").body())
        elif not self._failed and self._include_usage and self._usage is not None:
            out.append(base.chunk(**self._meta, usage=self._usage))
        return out

    def _event(self, payload: str) -> list[dict]:
        if self._failed or not payload.strip():
            return []
        data = loads(payload)
        error = _google_error(data, None)
        if error is None and not isinstance(data, dict):
            error = GatewayError(502, f"Gemini sent a malformed event: {payload[:200]}")
        if error is None and not data.get("candidates"):
            error = blocked(data)
        if error:
            self._failed = True
            return [error.body()]
        self._meta["model"] = data.get("modelVersion") or self._meta["model"]
        if data.get("usageMetadata"):  # cumulative: the last fragment holds the totals
            self._usage = _usage(data["usageMetadata"])
        return [c for candidate in data.get("candidates") or [] for c in self._candidate(candidate)]

    def _candidate(self, candidate: dict) -> list[dict]:
        index, finish = candidate.get("index", 0), candidate.get("finishReason")
        sent, deltas = self._calls.get(index, 0), []
        for piece in _parts(candidate, self._images.get(index, 0)):
            if "tool_calls" in piece:
                piece["tool_calls"][0] = {"index": sent, **piece["tool_calls"][0]}
                sent += 1
            self._images[index] = self._images.get(index, 0) + len(piece.get("images", ()))
            if piece.get("content") != "":
                deltas.append(piece)
        deltas += [{}] if finish else []
        if deltas and index not in self._calls:  # the first delta of each choice names the role
            deltas[0] = {"role": "assistant", **deltas[0]}
        if deltas:
            self._calls[index] = sent
        out = [base.chunk(**self._meta, delta=delta) for delta in deltas]
        for item in out:
            item["choices"][0]["index"] = index
        if out and (logprobs := gemini_params.choice_logprobs(candidate)):
            out[0]["choices"][0]["logprobs"] = logprobs  # this fragment's tokens
        if finish:
            self._finished.add(index)
            out[-1]["choices"][0]["finish_reason"] = _finish(finish, self._calls[index] > 0)
        return out


def parse_error(status: int, content: bytes) -> GatewayError:
    text = content.decode("utf-8", "replace").strip()[:500] or f"Gemini returned HTTP {status}."
    return _google_error(loads(content), status) or GatewayError(status, text)


def _google_error(data: object, status: int | None) -> GatewayError | None:
    """Google's {"error": {code, message, status}} → a GatewayError with the same meaning."""
    if isinstance(data, list) and data:  # streamGenerateContent without alt=sse wraps it
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    name, code = error.get("status"), error.get("code")
    status = status or (code if isinstance(code, int) and code >= 400 else 500)
    message = str(error.get("message") or f"Gemini returned HTTP {status}.")
    kind = _ERROR_TYPES.get(name, "api_error") if name else ""
    return GatewayError(status, message, kind, code=str(name).lower() if name else None)
