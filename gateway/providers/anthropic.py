"""Anthropic Messages API: OpenAI chat completions in, Claude messages out, and back again.

Docs: https://docs.anthropic.com/en/api/messages, /en/api/errors, /en/api/versioning,
      /en/docs/build-with-claude/streaming, /en/docs/build-with-claude/vision,
      /en/docs/agents-and-tools/tool-use/implement-tool-use
- Images and PDFs (file parts → document blocks, in tool results too) and their limits, the
  32 MB request cap among them: anthropic_media.py.
- No system role in `messages`: system and developer messages become the top-level `system`.
- Roles must alternate: "tool" messages become user turns of tool_result blocks, and
  consecutive same-role turns are merged into one.
- `max_tokens` is required upstream, optional in OpenAI's API: DEFAULT_MAX_TOKENS fills in.
- Pinned to anthropic-version 2023-06-01 (overridable with x-portkey-anthropic-version): the
  2026-10-21 version, which the 2.x SDKs send, answers 400 to temperature/top_p/top_k.
- usage.input_tokens leaves out cached tokens, OpenAI's prompt_tokens counts them: summed.
  https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#tracking-cache-performance
- response_format: output_config.format where the model has it, else a forced tool whose input
  becomes message.content; parameters Claude cannot honour are 400s unless the client opts into
  dropping them. Both in anthropic_structured.py; what was left out goes to Upstream.dropped.
- The messages → turns translation (roles, blocks, tool results): anthropic_messages.py.
- reasoning_effort: Claude's thinking (adaptive + output_config.effort, or a token budget);
  thinking blocks come back as message.reasoning_content and message.thinking_blocks (with
  their signatures, to send back), in streams delta.reasoning_content: anthropic_thinking.py.
"""

import orjson

from gateway.chat import Chat, invalid
from gateway.errors import GatewayError
from gateway.providers import anthropic_media as media
from gateway.providers import anthropic_messages, anthropic_thinking, base
from gateway.providers.anthropic_media import MAX_IMAGE_BASE64, MAX_IMAGE_SIDE  # noqa: F401
from gateway.providers.anthropic_models import (  # noqa: F401
    API_VERSION,
    DEFAULT_BASE_URL,
    list_models_request,
    parse_models,
)
from gateway.providers.anthropic_structured import (
    SERVICE_TIERS,
    apply_structured,
    check_params,
    forced_tool,
    strict_tool,
    structured,
)
from gateway.providers.base import SSEDecoder, Target, Upstream

NAME = "anthropic"
ACCEPTS_REASONING_EFFORT = True
ACCEPTS_IMAGE_URLS = True  # a {"type": "url"} image source; Anthropic fetches it
IMAGE_MIME_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
DEFAULT_MAX_TOKENS = 4096

_PARAMS = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k"}
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",  # a server tool paused the turn; the text so far is complete
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_TOOL_CHOICE = {"auto": "auto", "required": "any", "none": "none"}
# Anthropic error type → OpenAI error type; the Anthropic type is kept as `code` when they differ.
_SAME_ERRORS = ("authentication_error", "permission_error", "not_found_error", "rate_limit_error")
_ERRORS = {kind: kind for kind in ("invalid_request_error", "api_error", *_SAME_ERRORS)} | {
    "request_too_large": "invalid_request_error",
    "billing_error": "insufficient_quota",
    "overloaded_error": "api_error",  # HTTP 529
    "timeout_error": "api_error",
}
_MAX_THINKING = 8_000_000  # characters of one thinking block kept to hand back with its signature
_CACHE_FIELDS = ("cache_creation_input_tokens", "cache_read_input_tokens")


def build_request(chat: Chat, target: Target) -> Upstream:
    media.check(chat)
    body = chat.body
    dropped = check_params(body, target.options)
    plan = structured(body, chat.model, dropped)
    forced = "response_format" if plan and not plan.native else ""
    thinking = anthropic_thinking.plan(body, chat.model, target.options, dropped, forced=forced)
    system, messages = anthropic_messages.translate(chat)
    # max_completion_tokens is OpenAI's newer name: it wins, as for Gemini and Bedrock.
    limits = (body.get("max_completion_tokens"), body.get("max_tokens"), DEFAULT_MAX_TOKENS)
    out: dict = {"model": chat.model, "messages": messages, "stream": chat.stream}
    out["max_tokens"] = next(value for value in limits if value is not None)
    if system:
        out["system"] = system
    strip = thinking.strip if thinking else ()
    sampling = _PARAMS.items()
    out.update({new: body[old] for old, new in sampling if body.get(old) is not None})
    for name in strip:  # left out for thinking, on the client's opt-in (logged as dropped)
        out.pop(_PARAMS[name], None)
    if stop := body.get("stop"):
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if user := body.get("safety_identifier") or body.get("user"):  # OpenAI's newer name wins
        out["metadata"] = {"user_id": str(user)}
    if body.get("service_tier") in SERVICE_TIERS:
        out["service_tier"] = SERVICE_TIERS[body["service_tier"]]
    if body.get("tools"):
        out["tools"] = _tools(body["tools"], chat.model, dropped)
    if choice := _tool_choice(body):
        out["tool_choice"] = choice
    if plan:
        apply_structured(out, plan, body)
    if thinking:
        out.update(thinking=thinking.config, max_tokens=thinking.max_tokens)
        if thinking.effort:
            out["output_config"] = {**out.get("output_config", {}), "effort": thinking.effort}
    headers = {
        "content-type": "application/json",
        "anthropic-version": target.options.get("anthropic-version") or API_VERSION,
        **target.headers,
    }
    if beta := target.options.get("anthropic-beta"):
        headers["anthropic-beta"] = beta
    if target.api_key:
        headers["x-api-key"] = target.api_key
    root = (target.base_url or DEFAULT_BASE_URL).rstrip("/")
    content = orjson.dumps(out)
    media.check_size(content, chat)
    return Upstream("POST", f"{root}/messages", headers, content, out, dropped)


def _tools(tools: list, model: str, dropped: list[str]) -> list[dict]:
    out = []
    for k, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or tool.get("type") != "function" or not fn.get("name"):
            raise invalid(f"tools[{k}] must be a function tool with a name.", f"tools.{k}")
        spec = {"name": fn["name"], "input_schema": fn.get("parameters") or {"type": "object"}}
        if fn.get("description"):
            spec["description"] = fn["description"]
        if strict_tool(fn, model, k, dropped):
            spec["strict"] = True
        out.append(spec)
    return out


def _tool_choice(body: dict) -> dict | None:
    choice, parallel = body.get("tool_choice"), body.get("parallel_tool_calls")
    if isinstance(choice, dict):
        out = {"type": "tool", "name": (choice.get("function") or {}).get("name", "")}
    elif choice in _TOOL_CHOICE:
        out = {"type": _TOOL_CHOICE[choice]}
    elif parallel is False and body.get("tools"):
        out = {"type": "auto"}
    else:
        return None
    # https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use#parallel-tool-use
    if parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


def parse_response(data: dict, chat: Chat) -> dict:
    json_tool = forced_tool(chat.body, chat.model)
    texts, calls, answer = [], [], None
    for block in data.get("content") or []:
        if block.get("type") == "text":
            texts.append(block.get("text") or "")
        elif block.get("type") == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            if json_tool and block.get("name") == json_tool and answer is None:
                answer = arguments  # the JSON answer, not a call for the client to run
            else:
                calls.append(_call(block, arguments))
    if json_tool:  # a forced tool leaves no text; any would spoil the JSON
        texts = [] if answer is None else [answer]
    message: dict = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    message.update(anthropic_thinking.reasoning(data.get("content") or []))
    finish = _FINISH.get(data.get("stop_reason"), "stop")
    if answer is not None and not calls and finish == "tool_calls":
        finish = "stop"
    return {
        "id": data.get("id") or base.new_completion_id(),  # msg_…: findable in Anthropic's console
        "object": "chat.completion",
        "created": base.now(),
        "model": data.get("model") or chat.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": _usage(data.get("usage") or {}),
    }


def _call(block: dict, arguments: str) -> dict:
    fn = {"name": block.get("name"), "arguments": arguments}
    return {"id": block.get("id"), "type": "function", "function": fn}


def _usage(raw: dict) -> dict:
    read = raw.get("cache_read_input_tokens") or 0
    prompt = (raw.get("input_tokens") or 0) + (raw.get("cache_creation_input_tokens") or 0) + read
    out = base.usage(prompt, raw.get("output_tokens") or 0)
    out["prompt_tokens_details"] = {"cached_tokens": read}
    if thinking := (raw.get("output_tokens_details") or {}).get("thinking_tokens"):
        out["completion_tokens_details"] = {"reasoning_tokens": thinking}
    out.update({name: raw[name] for name in _CACHE_FIELDS if raw.get(name) is not None})
    return out


class Stream:
    """Anthropic's named SSE events → OpenAI chunks; tool calls are numbered in tool_use order."""

    def __init__(self, chat: Chat, *, max_event_bytes: int = base.MAX_EVENT_BYTES) -> None:
        self._chat = chat
        self._sse = SSEDecoder(max_event_bytes)
        self._head = {"id": base.new_completion_id(), "created": base.now(), "model": chat.model}
        self._tools: dict[int, int] = {}  # content block index → OpenAI tool call index
        self._json_tool = forced_tool(chat.body, chat.model)  # its input streams as content
        self._json_block: int | None = None
        self._thinking: list[str] = []  # the open thinking block's text, for its signature
        self._thinking_size = 0
        self._usage: dict = {}
        self._stop: str | None = None
        self._done = False

    def feed(self, data: bytes) -> list[dict]:
        return self._chunks(self._sse.feed(data))

    def close(self) -> list[dict]:
        out = self._chunks(self._sse.close())
        if not self._done:
            out.append(_error(502, {"message": "Anthropic's stream ended early."}).body())
        return out

    def _chunks(self, events: list) -> list[dict]:
        out: list[dict] = []
        for event in events:
            try:
                data = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                bad = f"Anthropic sent a malformed event: {event.data[:200]}"
                data = {"type": "error", "error": {"message": bad}}
            if isinstance(data, dict) and not self._done:  # nothing counts after message_stop
                out.extend(self._event(data.get("type") or event.event, data))
        return out

    def _event(self, kind: str, data: dict) -> list[dict]:
        block, delta = data.get("content_block") or {}, data.get("delta") or {}
        if kind == "message_start":
            message = data.get("message") or {}
            self._head["model"] = message.get("model") or self._head["model"]
            self._usage.update(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        is_json = block.get("type") == "tool_use" and block.get("name") == self._json_tool
        if kind == "content_block_start" and is_json and self._json_block is None:
            self._json_block = data.get("index", -1)
            return []
        if thought := self._thought(kind, block, delta):
            return [self._chunk(thought)]
        if self._json_tool and (block.get("type") == "text" or delta.get("type") == "text_delta"):
            return []  # as in parse_response: only the tool's JSON is the answer
        if kind == "content_block_start" and block.get("type") == "tool_use":
            index = self._tools[data.get("index", -1)] = len(self._tools)
            return [self._chunk({"tool_calls": [{"index": index, **_call(block, "")}]})]
        if kind == "content_block_start" and block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if kind == "content_block_delta" and delta.get("type") == "text_delta":
            return [self._chunk({"content": delta.get("text") or ""})]
        if kind == "content_block_delta" and delta.get("type") == "input_json_delta":
            if data.get("index", -1) == self._json_block:
                return [self._chunk({"content": delta.get("partial_json") or ""})]
            index = self._tools.get(data.get("index", -1))
            if index is None or not delta.get("partial_json"):
                return []
            call = {"index": index, "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [call]})]
        if kind == "message_delta":
            self._stop = delta.get("stop_reason") or self._stop
            self._usage.update(
                (k, v) for k, v in (data.get("usage") or {}).items() if v is not None
            )
            return []
        if kind == "message_stop":
            self._done = True
            finish = _FINISH.get(self._stop, "stop")
            if finish == "tool_calls" and self._json_block is not None and not self._tools:
                finish = "stop"  # the only tool called was the JSON answer
            out = [self._chunk({}, finish_reason=finish)]
            if self._chat.include_usage:
                out.append(base.chunk(**self._head, usage=_usage(self._usage)))
            return out
        if kind == "error":
            self._done = True
            return [_error(500, data.get("error") or {}).body()]
        return []  # ping, content_block_stop, event types added later

    def _thought(self, kind: str, block: dict, delta: dict) -> dict | None:
        """Thinking as deltas: its text as reasoning_content; when its signature comes, the
        whole block as thinking_blocks (to send back); a redacted block at once."""
        if kind == "content_block_start" and block.get("type") == "redacted_thinking":
            return {"thinking_blocks": [{"type": "redacted_thinking", "data": block.get("data")}]}
        if kind == "content_block_start" and block.get("type") == "thinking":
            self._thinking, self._thinking_size = [], 0
            text = block.get("thinking") or ""
        elif kind == "content_block_delta" and delta.get("type") == "thinking_delta":
            text = delta.get("thinking") or ""
        elif kind == "content_block_delta" and delta.get("type") == "signature_delta":
            whole = "".join(self._thinking) if self._thinking_size <= _MAX_THINKING else ""
            self._thinking, self._thinking_size = [], 0
            signed = {"type": "thinking", "thinking": whole, "signature": delta.get("signature")}
            return {"thinking_blocks": [signed]}
        else:
            return None
        self._thinking_size += len(text)
        if self._thinking_size <= _MAX_THINKING:  # beyond it, the block cannot be sent back
            self._thinking.append(text)
        return {"reasoning_content": text} if text else None

    def _chunk(self, delta: dict, finish_reason: str | None = None) -> dict:
        return base.chunk(**self._head, delta=delta, finish_reason=finish_reason)


def parse_error(status: int, content: bytes) -> GatewayError:
    message, data = base.error_message(content, f"Anthropic returned HTTP {status}.")
    error = data.get("error")
    if isinstance(error, dict):
        return _error(status, error, message)
    return GatewayError(status, message)


def _error(status: int, error: dict, fallback: str = "Anthropic failed.") -> GatewayError:
    """{"type", "message"} → GatewayError; Anthropic's own type stays as `code` when renamed."""
    kind = str(error.get("type") or "")
    mapped = _ERRORS.get(kind, "")
    code = kind if kind and kind != mapped else None
    return GatewayError(status, str(error.get("message") or fallback), mapped, code=code)
