"""The provider contract and the helpers every provider module shares. No Django, no I/O.

Each module in this package exposes: NAME, ACCEPTS_IMAGE_URLS, build_request(chat, target),
parse_response(data, chat), Stream(chat) with feed(bytes)/close(), and parse_error(status,
content). The core (gateway/proxy.py) drives them; they never touch the network.
"""

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from gateway.chat import Chat
from gateway.errors import GatewayError

SECRET_OPTIONS = (
    "aws-access-key-id",
    "aws-secret-access-key",
    "aws-session-token",
    "azure-ad-token",
)


@dataclass(frozen=True)
class Target:
    """Where a request goes and with which credentials, whatever the provider."""

    provider: str
    base_url: str = ""
    # Secrets stay out of repr(): a Target in a traceback or a log line must not leak them.
    api_key: str = field(default="", repr=False)
    # provider-specific: azure deployment, aws region and keys…
    options: dict = field(default_factory=dict, repr=False)
    headers: dict = field(default_factory=dict, repr=False)  # extra headers to send upstream
    timeout: float | None = None
    # An admin-set base URL may be private (a local vLLM); a client-supplied one is guarded.
    base_url_trusted: bool = False
    slug: str = ""  # the admin's Provider record this came from, when routed by `@slug`

    def secrets(self) -> list[str]:
        """The credentials this target carries, to mask should an upstream echo one back."""
        values = (self.api_key, *(self.options.get(name) or "" for name in SECRET_OPTIONS))
        return [value for value in values if len(value) >= 8]


@dataclass
class Upstream:
    """One HTTP request to send: bytes, not a dict, so signatures cover exactly what is sent."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes
    # The JSON behind content, for the log; None when content is the client's own bytes.
    sent: dict | None = None
    # Request parameters the translation left out (by the client's opt-in, or degraded such as
    # a `strict` the model cannot enforce), as dotted paths: the log records them.
    dropped: list[str] = field(default_factory=list)


class Stream(Protocol):
    # Raises EventTooLarge past max_event_bytes (given to the constructor) in one event.
    def feed(self, data: bytes) -> list[dict]: ...
    def close(self) -> list[dict]: ...


class Provider(Protocol):
    NAME: str
    ACCEPTS_IMAGE_URLS: bool

    def build_request(self, chat: Chat, target: Target) -> Upstream: ...
    def parse_response(self, data: dict, chat: Chat) -> dict: ...
    def Stream(self, chat: Chat, *, max_event_bytes: int = ...) -> Stream: ...  # noqa: N802
    def parse_error(self, status: int, content: bytes) -> GatewayError: ...


@dataclass
class SSEEvent:
    event: str
    data: str


# An event (or a line) longer than this ends the stream: without a cap, an upstream that never
# sends a line break grows the buffer without bound. The gateway passes its own setting.
MAX_EVENT_BYTES = 16 << 20
_LINE_BREAK = re.compile(rb"\r\n?|\n")


class EventTooLarge(ValueError):
    """An upstream stream event outgrew the limit: the stream cannot go on."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an upstream stream event is larger than {limit} bytes")
        self.limit = limit


class SSEDecoder:
    """Incremental Server-Sent Events parser (WHATWG rules): bytes in, complete events out.
    Raises EventTooLarge once the event being read holds more than max_event_bytes."""

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._buffer = bytearray()
        self._scanned = 0  # the buffer holds no line break before this offset
        self._event = ""
        self._data: list[str] = []
        self._data_bytes = 0
        self._max = max_event_bytes

    def feed(self, data: bytes) -> list[SSEEvent]:
        buffer = self._buffer
        buffer += data
        events, start = [], 0
        # Each byte is scanned once: a long line arriving in pieces costs no rescans.
        while found := _LINE_BREAK.search(buffer, max(start, self._scanned)):
            if found.end() == len(buffer) and found[0] == b"\r":
                break  # a CR at the very end: the LF of a CRLF may be in the next piece
            line = buffer[start : found.start()].decode("utf-8", "replace")
            start = found.end()
            if event := self._line(line):
                events.append(event)
        del buffer[:start]
        self._scanned = len(buffer) - buffer.endswith(b"\r")
        if len(buffer) + self._data_bytes > self._max:
            raise EventTooLarge(self._max)
        return events

    def close(self) -> list[SSEEvent]:
        """Flush a last event that the upstream did not end with a blank line."""
        tail = self._buffer.decode("utf-8", "replace")
        self._buffer, self._scanned = bytearray(), 0
        lines = [tail, ""] if tail else [""]
        return [event for line in lines if (event := self._line(line))]

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = SSEEvent(self._event or "message", "\n".join(self._data))
            self._event, self._data, self._data_bytes = "", [], 0
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
            self._data_bytes += len(value)
        elif name == "event":
            self._event = value
        return None


def encode_sse(chunk: dict) -> bytes:
    """One SSE event; a typed event (the Images and Responses APIs') names its type, as
    OpenAI's do. Chat chunks have no `type`."""
    kind = chunk.get("type")
    head = (
        b"event: " + kind.encode() + b"\n" if isinstance(kind, str) and kind.isprintable() else b""
    )
    return head + b"data: " + orjson.dumps(chunk) + b"\n\n"


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


def chunk(
    *,
    id: str,
    model: str,
    created: int,
    delta: dict | None = None,
    finish_reason: str | None = None,
    usage: dict | None = None,
) -> dict:
    """An OpenAI chat.completion.chunk; delta None means the usage-only last chunk."""
    out: dict = {"id": id, "object": "chat.completion.chunk", "created": created, "model": model}
    if delta is None:
        out["choices"] = []
        out["usage"] = usage
    else:
        out["choices"] = [
            {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        ]
    return out


def usage(prompt: int, completion: int, **details: int) -> dict:
    out = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    out.update(details)
    return out


def error_message(content: bytes, fallback: str) -> tuple[str, dict]:
    """Decode an upstream error body; return (message, parsed JSON or {})."""
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        text = content.decode("utf-8", "replace").strip()
        return (text[:500] or fallback), {}
    return fallback, data if isinstance(data, dict) else {}
