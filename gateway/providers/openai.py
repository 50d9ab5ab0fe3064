"""OpenAI Chat Completions, and any OpenAI-compatible server (vLLM, Ollama, LM Studio…).

Docs: https://platform.openai.com/docs/api-reference/chat
The body is already OpenAI's, so it is forwarded byte for byte: no re-serialisation on
the hot path, and images (URLs and data URIs) reach the upstream exactly as sent.
"""

import orjson

from gateway.chat import Chat
from gateway.errors import GatewayError
from gateway.providers.base import MAX_EVENT_BYTES, SSEDecoder, Target, Upstream, error_message

NAME = "openai"
ACCEPTS_IMAGE_URLS = True
IMAGE_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
DEFAULT_BASE_URL = "https://api.openai.com/v1"


def build_request(chat: Chat, target: Target) -> Upstream:
    headers = {"content-type": "application/json", "accept": _accept(chat), **target.headers}
    if target.api_key:
        headers["authorization"] = f"Bearer {target.api_key}"
    base = (target.base_url or DEFAULT_BASE_URL).rstrip("/")
    return Upstream("POST", f"{base}/chat/completions", headers, *body_bytes(chat))


def body_bytes(chat: Chat) -> tuple[bytes, dict | None]:
    """The client's bytes as they came, unless the core changed an image: converted it for
    the API, or fetched a URL the upstream could not reach (then the bytes go inline). With
    the JSON sent, for the log, when it is not the client's."""
    if not any(img.converted or (img.origin == "url" and img.data) for img in chat.images):
        return chat.raw, None
    messages = [dict(m) for m in chat.body["messages"]]
    for img in chat.images:
        if img.data is None:
            continue  # a URL image the upstream fetches itself
        content = messages[img.message]["content"] = list(messages[img.message]["content"])
        part = content[img.part] = dict(content[img.part])
        prefix = (
            img.data_uri_prefix
            if img.origin == "base64" and not img.converted
            else (f"data:{img.payload_mime};base64,")
        )
        part["image_url"] = {**part["image_url"], "url": prefix + img.payload_base64}
    sent = {**chat.body, "messages": messages}
    return orjson.dumps(sent), sent


def list_models_request(target: Target) -> Upstream:
    """GET /models: the models the key can use (OpenAI's, or an OpenAI-compatible server's)."""
    headers = {"accept": "application/json", **target.headers}
    if target.api_key:
        headers["authorization"] = f"Bearer {target.api_key}"
    base = (target.base_url or DEFAULT_BASE_URL).rstrip("/")
    return Upstream("GET", f"{base}/models", headers, b"")


def parse_models(data: dict) -> list[str]:
    """The model ids of OpenAI's list shape."""
    items = data.get("data") if isinstance(data, dict) else None
    return [m["id"] for m in items or () if isinstance(m, dict) and isinstance(m.get("id"), str)]


def parse_response(data: dict, chat: Chat) -> dict:
    return data


class Stream:
    """OpenAI already streams chat.completion.chunk events: decode them, drop [DONE]. A stream
    that ends without [DONE] (or an error event) was cut short: the client gets an error
    event, not a clean end."""

    def __init__(self, chat: Chat, *, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._sse = SSEDecoder(max_event_bytes)
        self._done = False

    def feed(self, data: bytes) -> list[dict]:
        return self._chunks(self._sse.feed(data))

    def close(self) -> list[dict]:
        out = self._chunks(self._sse.close())
        if not self._done:
            out.append(_stream_error("Upstream's stream ended before [DONE]."))
        return out

    def _chunks(self, events: list) -> list[dict]:
        out = []
        for event in events:
            if event.data.strip() == "[DONE]":
                self._done = True
                continue
            try:
                chunk = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                chunk = None
            if not isinstance(chunk, dict):
                chunk = _stream_error(f"Upstream sent a malformed event: {event.data[:200]}")
            self._done |= "error" in chunk  # an error event ends a stream, as OpenAI's do
            out.append(chunk)
        return out


def _stream_error(message: str) -> dict:
    return {"error": {"message": message, "type": "api_error", "code": "bad_upstream_stream"}}


def parse_error(status: int, content: bytes) -> GatewayError:
    message, data = error_message(content, f"Upstream returned HTTP {status}.")
    error = data.get("error")
    if isinstance(error, dict):
        return GatewayError(
            status,
            str(error.get("message") or message),
            str(error.get("type") or ""),
            code=_str_or_none(error.get("code")),
            param=_str_or_none(error.get("param")),
        )
    if isinstance(error, str):  # some OpenAI-compatible servers (Ollama) send a bare string
        return GatewayError(status, error)
    return GatewayError(status, message)


def _accept(chat: Chat) -> str:
    return "text/event-stream" if chat.stream else "application/json"


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
