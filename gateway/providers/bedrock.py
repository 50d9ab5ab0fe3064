"""AWS Bedrock Converse API (converse and converse-stream), signed with botocore's SigV4
(signed_request, shared with the image models' InvokeModel in bedrock_images.py).

Docs: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
      https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
      https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-call.html
Quirks:
- Images are bytes only (base64 in JSON), no URLs: the core fetches URL images first.
- PDFs (chat `file` parts) become `document` blocks; their limits and the image limits are
  in bedrock_media.py.
- The model id goes in the path, URL-encoded (`:` → %3A); SigV4 canonicalises that path once
  more, so the signature is computed by botocore over the exact URL and bytes that are sent.
- There is no system role: system text goes to a top-level `system` list, and the
  conversation must start with a user turn, with same-role turns merged (bedrock_messages.py).
- The stream is AWS's binary event-stream framing, not SSE:
  https://docs.aws.amazon.com/AmazonS3/latest/API/RESTSelectObjectAppendix.html
- response_format: outputConfig.textFormat where the model has it, else a forced tool whose
  input becomes message.content; tools, top_k, service_tier, user and the parameters Converse
  cannot honour (400s unless the client opts into dropping them) are in bedrock_structured.py.
  What was left out goes to Upstream.dropped.
- reasoning_effort: Claude's thinking, reasoningContent ↔ reasoning_content and thinking_blocks
  (bedrock_thinking.py).
"""

import re
from urllib.parse import quote

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer, ParserError

from gateway.chat import Chat
from gateway.errors import GatewayError
from gateway.providers import (
    base,
    bedrock_media,
    bedrock_messages,
    bedrock_structured,
    bedrock_thinking,
)
from gateway.providers.bedrock_media import IMAGE_MIME_TYPES, MAX_IMAGE_BYTES  # noqa: F401
from gateway.providers.bedrock_models import list_models_request, parse_models  # noqa: F401

NAME = "bedrock"
ACCEPTS_REASONING_EFFORT = True  # Claude models (bedrock_thinking.py); others answer 400
ACCEPTS_IMAGE_URLS = False
DEFAULT_BASE_URL = "https://bedrock-runtime.{region}.amazonaws.com"
SIGNING_NAME = "bedrock"  # the service model's signingName, not its endpoint prefix

# OpenAI parameter → inferenceConfig member (max_completion_tokens wins over max_tokens).
_PARAMS = {
    "max_tokens": "maxTokens",
    "max_completion_tokens": "maxTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "stop": "stopSequences",
}
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
# Bedrock's exception names by HTTP status; parse_error only sees status and body.
_EXCEPTIONS = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
_NO_KEYS = (
    "Bedrock needs x-portkey-aws-access-key-id and x-portkey-aws-secret-access-key "
    "(or a Bedrock API key as Authorization: Bearer)."
)
_NO_REGION = "Bedrock needs the AWS region in x-portkey-aws-region."
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")  # us-east-1, us-gov-west-1, eu-central-2
_STREAM_ERROR_TYPES = {
    "validationException": "invalid_request_error",
    "throttlingException": "rate_limit_error",
}


def build_request(chat: Chat, target: base.Target) -> base.Upstream:
    """The signed Converse (or ConverseStream) request; 400 for limits or missing credentials."""
    bedrock_media.check(chat)
    dropped = bedrock_structured.check_params(chat.body, target.options, chat.model)
    action = "converse-stream" if chat.stream else "converse"
    accept = "application/vnd.amazon.eventstream" if chat.stream else "application/json"
    body = _body(chat, target.options, dropped)
    upstream = signed_request(target, model_path(chat.model, action), body, accept=accept)
    upstream.dropped = dropped
    return upstream


def model_path(model: str, action: str) -> str:
    return f"/model/{quote(model, safe='')}/{action}"


def signed_request(
    target: base.Target, path: str, sent: dict, *, accept: str = "application/json"
) -> base.Upstream:
    """`sent` as JSON to Bedrock Runtime at `path`, signed with the target's AWS keys (SigV4)
    or carrying its Bedrock API key; 400 for missing credentials or a bad region."""
    options = target.options
    key_id, secret = options.get("aws-access-key-id", ""), options.get("aws-secret-access-key", "")
    region = options.get("aws-region", "").strip()
    if region and not _REGION.fullmatch(region):  # it becomes part of the host name
        raise GatewayError(
            400,
            f"x-portkey-aws-region: {region[:40]!r} is not an AWS region.",
            code="invalid_region",
            param="x-portkey-aws-region",
        )
    if bool(key_id) != bool(secret) or not (key_id or target.api_key):
        raise GatewayError(400, _NO_KEYS, code="missing_credentials")
    if not region and (key_id or not target.base_url):  # a custom host + API key needs none
        raise GatewayError(400, _NO_REGION, code="missing_region", param="x-portkey-aws-region")
    url = (target.base_url or DEFAULT_BASE_URL.format(region=region)).rstrip("/") + path
    headers = {"content-type": "application/json", "accept": accept, **target.headers}
    body = orjson.dumps(sent)
    if not key_id:  # API keys: https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html
        return base.Upstream(
            "POST", url, {**headers, "authorization": f"Bearer {target.api_key}"}, body, sent
        )
    # Sign what is sent: this URL (its host, its encoded path) and these bytes.
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    token = options.get("aws-session-token") or None
    SigV4Auth(Credentials(key_id, secret, token), SIGNING_NAME, region).add_auth(request)
    signed = {k.lower(): v for k, v in request.headers.items()}
    return base.Upstream("POST", url, signed, body, sent)


def _body(chat: Chat, options: dict, dropped: list[str]) -> dict:
    plan = bedrock_structured.plan(chat.body, chat.model, dropped)
    thinking = bedrock_thinking.plan(chat, options, dropped, plan)
    system, messages = bedrock_messages.translate(chat)
    body: dict = {"messages": messages}
    if system:
        body["system"] = system
    config: dict = {}
    for name, member in _PARAMS.items():
        value = chat.body.get(name)
        if value is not None:
            config[member] = (
                [value] if member == "stopSequences" and isinstance(value, str) else value
            )
    if config:
        body["inferenceConfig"] = config
    tools = bedrock_structured.tool_config(chat.body, messages, chat.model, plan, dropped)
    if tools:
        body["toolConfig"] = tools
    body |= bedrock_structured.extras(chat.body, chat.model, plan)
    if thinking:
        bedrock_thinking.apply(body, thinking)
    return body


def parse_response(data: dict, chat: Chat) -> dict:
    """A Converse response as an OpenAI chat.completion (Converse has no id: a new one)."""
    message = (data.get("output") or {}).get("message") or {}
    blocks = message.get("content") or ()
    json_tool = bedrock_structured.forced_tool(chat.body, chat.model)
    texts, calls, answer = [b["text"] for b in blocks if "text" in b], [], None
    for use in (b["toolUse"] for b in blocks if "toolUse" in b):
        arguments = orjson.dumps(use.get("input", {})).decode()
        if json_tool and use.get("name") == json_tool and answer is None:
            answer = arguments  # the JSON answer, not a call for the client to run
        else:
            calls.append(_call(use, arguments=arguments))
    if json_tool:  # any text beside the forced tool would spoil the JSON
        texts = [] if answer is None else [answer]
    reply: dict = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        reply["tool_calls"] = calls
    reply.update(bedrock_thinking.reasoning(blocks))
    finish = _FINISH.get(data.get("stopReason", ""), "stop")
    if answer is not None and not calls and finish == "tool_calls":
        finish = "stop"
    choice = {"index": 0, "message": reply, "logprobs": None, "finish_reason": finish}
    head = {"id": base.new_completion_id(), "object": "chat.completion", "created": base.now()}
    return {**head, "model": chat.model, "choices": [choice], "usage": _usage(data.get("usage"))}


def _call(tool_use: dict, *, arguments: str) -> dict:
    return {
        "id": tool_use.get("toolUseId", ""),
        "type": "function",
        "function": {"name": tool_use.get("name", ""), "arguments": arguments},
    }


def _usage(data: dict | None) -> dict:
    """Converse's TokenUsage as OpenAI's: its inputTokens leave out the prompt cache's reads
    and writes (as Anthropic's do), which OpenAI's prompt_tokens include; the cache counts are
    kept under Anthropic's names for the price (gateway/pricing.py)."""
    data = data or {}
    read, write = data.get("cacheReadInputTokens") or 0, data.get("cacheWriteInputTokens") or 0
    out = base.usage((data.get("inputTokens") or 0) + read + write, data.get("outputTokens") or 0)
    if read or write:
        out["prompt_tokens_details"] = {"cached_tokens": read}
        out["cache_read_input_tokens"], out["cache_creation_input_tokens"] = read, write
    return {**out, "total_tokens": data.get("totalTokens", out["total_tokens"])}


class Stream:
    """ConverseStream event-stream frames in, OpenAI chunks out, one event at a time."""

    def __init__(self, chat: Chat, *, max_event_bytes: int = base.MAX_EVENT_BYTES) -> None:
        self._chat = chat
        self._buffer = EventStreamBuffer()  # botocore refuses frames over 16 MB by itself
        self._max = max_event_bytes
        self._id, self._created = base.new_completion_id(), base.now()
        self._started = self._finished = self._failed = False
        self._pending = 0  # bytes fed but not yet decoded into a whole message
        self._tools: dict[int, int] = {}  # contentBlockIndex → OpenAI tool_calls index
        self._json_tool = bedrock_structured.forced_tool(chat.body, chat.model)
        self._json_block: int | None = None  # the forced tool's block: its input is content
        self._thoughts = bedrock_thinking.StreamThoughts()

    def feed(self, data: bytes) -> list[dict]:
        if self._failed:
            return []
        self._buffer.add_data(data)
        self._pending += len(data)
        out: list[dict] = []
        try:
            for message in self._buffer:
                self._pending -= message.prelude.total_length
                out.extend(self._event(message.headers, message.payload))
        except ParserError as exc:
            message = f"Upstream sent a malformed event-stream frame ({exc})."
            out.append(self._error(message, "api_error", "bad_frame"))
        if self._pending > self._max and not self._failed:
            raise base.EventTooLarge(self._max)
        return out

    def close(self) -> list[dict]:
        if self._failed or (self._finished and not self._pending):
            return []
        where = "in the middle of an event" if self._pending else "before messageStop"
        return [self._error(f"Upstream stream ended {where}.", "api_error", "truncated_stream")]

    def _event(self, headers: dict, payload: bytes) -> list[dict]:
        try:
            data = orjson.loads(payload or b"{}")
        except orjson.JSONDecodeError:
            data = {"message": payload[:200].decode("utf-8", "replace")}
        data = data if isinstance(data, dict) else {}
        if headers.get(":message-type", "event") != "event":  # "exception" or "error"
            name = headers.get(":exception-type") or headers.get(":error-code") or "error"
            text = data.get("message") or data.get("Message") or headers.get(":error-message")
            return [
                self._error(str(text or name), _STREAM_ERROR_TYPES.get(name, "api_error"), name)
            ]
        event = headers.get(":event-type")
        if event == "messageStart":
            return [self._chunk({"content": ""})]
        block = data.get("contentBlockIndex", 0)
        if event == "contentBlockStart":
            tool = (data.get("start") or {}).get("toolUse")
            if tool and self._json_tool == tool.get("name") and self._json_block is None:
                self._json_block = block
            elif tool:
                index = self._tool_index(block)
                return [
                    self._chunk({"tool_calls": [{"index": index, **_call(tool, arguments="")}]})
                ]
        elif event == "contentBlockDelta":
            delta = data.get("delta") or {}
            if isinstance(delta.get("reasoningContent"), dict):
                thought = self._thoughts.delta(delta["reasoningContent"])
                return [self._chunk(thought)] if thought else []
            if "text" in delta and not self._json_tool:
                return [self._chunk({"content": delta["text"]})]
            if "toolUse" in delta and block == self._json_block:
                return [self._chunk({"content": delta["toolUse"].get("input", "")})]
            if "toolUse" in delta:
                index = self._tool_index(block)
                args = delta["toolUse"].get("input", "")
                return [
                    self._chunk({"tool_calls": [{"index": index, "function": {"arguments": args}}]})
                ]
        elif event == "messageStop":
            self._finished = True
            finish = _FINISH.get(data.get("stopReason", ""), "stop")
            if finish == "tool_calls" and self._json_block is not None and not self._tools:
                finish = "stop"  # the only tool called was the JSON answer
            return [self._chunk({}, finish_reason=finish)]
        elif event == "metadata" and self._chat.include_usage and "usage" in data:
            head = {"id": self._id, "model": self._chat.model, "created": self._created}
            return [base.chunk(**head, usage=_usage(data["usage"]))]
        return []  # contentBlockStop, unknown events: nothing to say

    def _tool_index(self, block: int) -> int:
        return self._tools.setdefault(block, len(self._tools))

    def _chunk(self, delta: dict, *, finish_reason: str | None = None) -> dict:
        if not self._started:  # the first chunk always carries the role
            self._started, delta = True, {"role": "assistant", **delta}
        head = {"id": self._id, "model": self._chat.model, "created": self._created}
        return base.chunk(**head, delta=delta, finish_reason=finish_reason)

    def _error(self, message: str, type_: str, code: str) -> dict:
        self._failed = True
        return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def parse_error(status: int, content: bytes) -> GatewayError:
    """Bedrock's {"message"} (or {"Message"}) body as an OpenAI error, named by status."""
    message, data = base.error_message(content, f"Bedrock returned HTTP {status}.")
    message = str(data.get("message") or data.get("Message") or message)
    # Some AWS front ends name the exception in the body ("__type": "…#ValidationException").
    name = str(data.get("__type") or data.get("code") or "").rpartition("#")[2].partition(":")[0]
    name = name or _EXCEPTIONS.get(status, "")
    lowered = message.lower()
    if status == 403 and ("signature" in lowered or "security token" in lowered):
        return GatewayError(status, message, "authentication_error", code=name or None)
    if status == 400 and ("too long" in lowered or "context window" in lowered):
        return GatewayError(status, message, code="context_length_exceeded")
    if status == 400 and "content filter" in lowered:  # Nova Canvas: "…our content filters"
        return GatewayError(status, message, code="content_policy_violation")
    return GatewayError(status, message, code=name or None)
