"""The provider contract and the helpers every provider module shares. No Django, no I/O.

Each module in this package exposes: NAME, ACCEPTS_IMAGE_URLS, build_request(chat, target),
parse_response(data, chat), Stream(chat) with feed(bytes)/close(), and parse_error(status,
content). The core (gateway/proxy.py) drives them; they never touch the network.
"""

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


class Stream(Protocol):
    def feed(self, data: bytes) -> list[dict]: ...
    def close(self) -> list[dict]: ...


class Provider(Protocol):
    NAME: str
    ACCEPTS_IMAGE_URLS: bool

    def build_request(self, chat: Chat, target: Target) -> Upstream: ...
    def parse_response(self, data: dict, chat: Chat) -> dict: ...
    def Stream(self, chat: Chat) -> Stream: ...  # noqa: N802 - a class in each module
    def parse_error(self, status: int, content: bytes) -> GatewayError: ...


@dataclass
class SSEEvent:
    event: str
    data: str


class SSEDecoder:
    """Incremental Server-Sent Events parser (WHATWG rules): bytes in, complete events out."""

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, data: bytes) -> list[SSEEvent]:
        self._buffer += data
        events = []
        while True:
            line, sep, rest = _split_line(self._buffer)
            if not sep:
                return events
            self._buffer = rest
            if event := self._line(line.decode("utf-8", "replace")):
                events.append(event)

    def close(self) -> list[SSEEvent]:
        """Flush a last event that the upstream did not end with a blank line."""
        tail, self._buffer = self._buffer.decode("utf-8", "replace"), b""
        lines = [tail, ""] if tail else [""]
        return [event for line in lines if (event := self._line(line))]

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = SSEEvent(self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None


def _split_line(buffer: bytes) -> tuple[bytes, bool, bytes]:
    """Split at the first CRLF, LF or CR; a CR at the very end waits for a possible LF."""
    lf, cr = buffer.find(b"\n"), buffer.find(b"\r")
    if cr == -1 or (lf != -1 and lf < cr):
        if lf == -1:
            return buffer, False, b""
        return buffer[:lf], True, buffer[lf + 1 :]
    if cr == len(buffer) - 1:
        return buffer, False, b""
    end = cr + 2 if buffer[cr + 1 : cr + 2] == b"\n" else cr + 1
    return buffer[:cr], True, buffer[end:]


def encode_sse(chunk: dict) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


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
