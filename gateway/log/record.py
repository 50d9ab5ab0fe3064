"""What is captured of one request on the proxy path: plain data, cheap to build, written
off the path by the writer (gateway/log/pipeline.py)."""

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from gateway.chat import Chat
from gateway.errors import GatewayError
from gateway.imagejob import ImageJob
from gateway.images import Image
from gateway.log.ids import new_id
from gateway.redact import redact_headers, scrub_text


@dataclass
class Record:
    """Everything known about one request; plain data, cheap to build on the hot path."""

    path: str
    request_headers: dict
    endpoint: str = "chat.completions"
    request_id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=timezone.now)
    started: float = field(default_factory=time.perf_counter)
    api_key_id: int | None = None
    provider: str = ""
    provider_slug: str = ""  # the admin's Provider record, when routed by `@slug`
    model: str = ""
    trace_id: str = ""
    metadata: dict = field(default_factory=dict)
    raw_body: bytes = b""
    chat: Chat | ImageJob | None = None  # the parsed request, whichever the endpoint
    upstream_url: str = ""
    upstream_body: dict | None = None  # the JSON sent upstream, when not the client's bytes
    dropped_params: list[str] = field(default_factory=list)  # left out on the client's opt-in
    status_code: int = 0
    response_body: dict | None = None
    error_type: str = ""
    error_message: str = ""
    is_stream: bool = False
    chunk_count: int = 0
    ttft_ms: float | None = None
    latency_ms: float | None = None
    usage: dict | None = None
    prompt: str = ""  # a request made through a saved prompt: its id, version and variables
    prompt_version: int | None = None
    prompt_variables: dict | None = None
    submitted: bool = False  # handed to the writer (see submit)
    # Routing by a config (gateway/configs/): its id ("inline" for JSON in the header), each
    # attempt as the log shows it, and the cache's answer (HIT, MISS, REFRESH, DISABLED).
    config_id: str = ""
    attempts: list[dict] = field(default_factory=list)
    cache_status: str = ""
    # Output images an upstream answered with as URLs (they expire): fetched for the log at
    # once, after the answer (see gateway/log/__init__.py's snapshots).
    url_outputs: list[Image] = field(default_factory=list)
    # Streamed partial images: (output index, partial_image_index, base64). With the streamed
    # final images, kept within GATEWAY_MAX_RESPONSE_BYTES; how many were not kept past it.
    partial_images: list[tuple[int, int, str]] = field(default_factory=list)
    images_not_kept: int = 0
    _streamed_image_bytes: int = 0
    _estimate: object = None  # gateway/log/economics.py's, once computed (False: failed)
    # Stream assembly: text and tool calls per choice index.
    _choices: dict = field(default_factory=dict)
    _stream_head: dict = field(default_factory=dict)

    @classmethod
    def begin(cls, path: str, headers: Mapping[str, str]) -> "Record":
        return cls(
            path=path,
            request_headers=redact_headers(dict(headers)),
            trace_id=headers.get("x-portkey-trace-id", "")[:200],
        )

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def first_byte(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = self.elapsed_ms()

    def finish(self, status: int, body: dict | None) -> None:
        self.status_code = status
        self.response_body = body
        if body and isinstance(body.get("usage"), dict):
            self.usage = body["usage"]
        self.latency_ms = self.elapsed_ms()

    def fail(self, error: GatewayError) -> None:
        self.error_type = error.type
        self.error_message = scrub_text(error.message)
        if not self.status_code:
            self.status_code = error.status
        if self.response_body is None:
            self.response_body = error.body()
        self.latency_ms = self.elapsed_ms()

    def client_gone(self) -> None:
        """The client hung up: mid-stream (the status stays 200) or before any answer (499,
        as nginx logs it)."""
        if not self.error_type:
            self.error_type, self.error_message = "client_disconnected", "Client went away."
        self.status_code = self.status_code or 499
        self.latency_ms = self.elapsed_ms()

    def add_chunk(self, chunk: dict) -> None:
        """Accumulate one streamed chunk (text, tool calls, images, finish reason, usage), or
        one typed event of an Images API stream."""
        if self.endpoint != "chat.completions":  # typed events: the Responses, Images APIs
            if self.endpoint == "responses":
                self._add_response_event(chunk)
            else:
                self._add_image_event(chunk)
            return
        self.chunk_count += 1
        if not self._stream_head:
            self._stream_head = {k: chunk.get(k) for k in ("id", "created", "model")}
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            state = self._choices.setdefault(
                choice.get("index", 0), {"content": [], "tool_calls": {}, "finish_reason": None}
            )
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self.ttft_ms is None:
                    self.ttft_ms = self.elapsed_ms()
                state["content"].append(delta["content"])
            if isinstance(delta.get("reasoning_content"), str):  # thinking (providers/*_thinking)
                state.setdefault("reasoning", []).append(delta["reasoning_content"])
            for call in delta.get("tool_calls") or ():
                slot = state["tool_calls"].setdefault(
                    call.get("index", 0),
                    {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
                )
                slot["id"] = call.get("id") or slot["id"]
                fn = call.get("function") or {}
                slot["function"]["name"] += fn.get("name") or ""
                slot["function"]["arguments"] += fn.get("arguments") or ""
            for image in delta.get("images") or ():  # a Gemini picture (see providers/gemini)
                state.setdefault("images", []).append(image)
            if choice.get("finish_reason"):
                state["finish_reason"] = choice["finish_reason"]

    def _add_image_event(self, event: dict) -> None:
        """An Images API stream event: a partial image (kept within the byte budget), a
        completed image (kept as the answer's data), or anything else (counted)."""
        self.chunk_count += 1
        self.first_byte()
        kind, b64 = str(event.get("type") or ""), event.get("b64_json")
        outputs = self._choices.setdefault(0, {"data": [], "head": {}})
        size = len(b64) if isinstance(b64, str) else 0
        if size and self._streamed_image_bytes + size > settings.GATEWAY_MAX_RESPONSE_BYTES:
            b64, self.images_not_kept = None, self.images_not_kept + 1  # counted, not kept
        self._streamed_image_bytes += size if b64 else 0
        if kind.endswith(".partial_image") and isinstance(b64, str):
            # Partial images name no output: they are taken to be of the next one to complete.
            index = event.get("partial_image_index")
            self.partial_images.append(
                (len(outputs["data"]), index if isinstance(index, int) else 0, b64)
            )
        elif kind.endswith(".completed"):
            image = {k: event[k] for k in ("b64_json", "url", "revised_prompt") if k in event}
            if size and b64 is None:
                image["b64_json"] = "[not kept: past GATEWAY_MAX_RESPONSE_BYTES]"
            outputs["data"].append(image)
            head = {k: v for k, v in event.items() if k not in ("b64_json", "type", "usage")}
            outputs["head"] = head
            if isinstance(event.get("usage"), dict):
                self.usage = event["usage"]

    def _add_response_event(self, event: dict) -> None:
        """A Responses API stream event: the last one carrying the whole response (created,
        in progress, completed, failed, incomplete) is the answer; text deltas time the first
        token."""
        self.chunk_count += 1
        if event["type"] == "response.output_text.delta":
            self.first_byte()
        response = event.get("response")
        if isinstance(response, dict):
            self._stream_head = response
            if isinstance(response.get("usage"), dict):
                self.usage = response["usage"]

    def assembled(self) -> dict:
        """The streamed reply put back together as one chat.completion, or one
        ImagesResponse for an Images API stream."""
        if self.endpoint == "responses":
            response = dict(self._stream_head)
            if self.error_type and response.get("status") in ("in_progress", "queued"):
                # cut short (the client left, the upstream failed, shutdown): say so
                response["status"] = "failed"
                response["error"] = {"code": self.error_type, "message": self.error_message}
            return response
        if self.endpoint.startswith("images."):
            outputs = self._choices.get(0) or {"data": [], "head": {}}
            head = dict(outputs["head"])
            created = head.pop("created_at", None)
            body = {"created": created, **head, "data": outputs["data"], "usage": self.usage}
            if self.images_not_kept:
                body["iris_images_not_kept"] = self.images_not_kept
            return body
        choices = []
        for index, state in sorted(self._choices.items()):
            message: dict = {"role": "assistant", "content": "".join(state["content"]) or None}
            if state.get("images"):
                message["images"] = state["images"]
            if state.get("reasoning"):
                message["reasoning_content"] = "".join(state["reasoning"])
            if state["tool_calls"]:
                message["tool_calls"] = [
                    state["tool_calls"][k] for k in sorted(state["tool_calls"])
                ]
            choices.append(
                {"index": index, "message": message, "finish_reason": state["finish_reason"]}
            )
        return {
            **self._stream_head,
            "object": "chat.completion",
            "choices": choices,
            "usage": self.usage,
        }
