"""POST /v1/responses to openai and azure-openai, which speak the Responses API: the body
goes as sent (rebuilt only to continue a conversation Iris kept or to carry auto-fit's
smaller images) and the typed events come back unchanged. gateway/responses/proxy.py routes
here; it also uses upstream_address (a provider's own responses, by id) and error_event (the
translated path's streams)."""

from collections.abc import Callable

import orjson
from django.conf import settings
from django.http import HttpResponse

from gateway import log as request_log
from gateway import offload, preflight, proxy
from gateway.errors import GatewayError
from gateway.providers import azure, openai
from gateway.providers.base import MAX_EVENT_BYTES, SSEDecoder, Target, Upstream
from gateway.responses.request import ResponsesRequest, as_items

PASSTHROUGH = frozenset({"openai", "azure-openai"})
_TERMINAL = frozenset({"response.completed", "response.failed", "response.incomplete", "error"})


async def forward(
    req: ResponsesRequest, target: Target, record: request_log.Record
) -> HttpResponse:
    """Send the request to OpenAI or Azure as it came and answer the client with theirs; the
    record is submitted in every case."""
    module = azure if target.provider == "azure-openai" else openai
    url, headers = upstream_address(target, "")
    headers["accept"] = "text/event-stream" if req.stream else "application/json"
    fitted = await _fit_and_check(req, target, module)
    content, sent = req.raw, None
    if req.history or any(img.converted for img in req.images):
        size = len(req.raw) + sum(len(img.payload) for img in req.images)
        content, sent = await offload.by_size(size, _rebuilt, req)
    upstream = Upstream("POST", url, {"content-type": "application/json", **headers}, content, sent)
    response = await proxy.send(upstream, target, record)
    req.raw = record.raw_body = b""
    await proxy.raise_for_status(response, module, record)
    passed = proxy.passed_headers(response, fitted)
    if req.stream:
        record.is_stream = True
        parser = PassthroughStream(max_event_bytes=settings.GATEWAY_MAX_SSE_EVENT_BYTES)
        relay = proxy.relay(
            response, parser, record, target.secrets(), done=b"", error_event=error_event(parser)
        )
        return proxy.event_stream(relay, passed)
    record.first_byte()
    data_bytes, data = await proxy.read_json(response, record)
    record.finish(200, data)
    request_log.submit(record)
    return HttpResponse(data_bytes, content_type="application/json", headers=passed)


async def _fit_and_check(req: ResponsesRequest, target: Target, module) -> object:
    """What the chat path's imageprep.prepare_images does for images, for a body sent as it
    is: auto-fit (when on) and the provider's preflight, its 400s naming input[k].content[j].
    URL images go as URLs (OpenAI fetches them), so they are neither fitted nor measured here."""
    if not req.images:
        return None
    fitted = None
    if preflight.wanted(target):
        accepted = module.IMAGE_MIME_TYPES
        fitted = await preflight.fit(req.images, target, req.model, req.body, accepted)
    sizes = fitted.sizes if fitted else None
    preflight.check(req.images, target, req.model, sizes, root="input")
    return fitted.finish(req.images) if fitted else None


def _rebuilt(req: ResponsesRequest) -> tuple[bytes, dict]:
    """The body to send when it is not the client's bytes: a conversation Iris kept, continued
    here (sent whole), and each image auto-fit replaced, as a data URI, by its smaller copy.
    With the JSON sent, for the log (which finds the fitted copies in it: rows.py)."""
    body = orjson.loads(req.raw)
    items = as_items(body.get("input"))
    if req.history:
        sent = {**req.logged_body(), "input": [*req.history_logged, *req.input_items()]}
        logged = sent["input"]
    else:
        sent = req.logged_body()
        logged = sent["input"] = list(as_items(sent.get("input")))
    skip = len(req.history_logged) if req.history else 0
    for img in req.images:
        if img.converted:
            uri = f"data:{img.payload_mime};base64,{img.payload_base64}"
            _place(items, img, uri)
            _place(logged, img, uri, skip)
    body["input"] = [*req.history, *items] if req.history else items
    if req.history:  # Iris's own id: the upstream gets the conversation instead
        body.pop("previous_response_id", None)
        sent.pop("previous_response_id", None)
    return orjson.dumps(body), sent


def _place(items: list, img, uri: str, skip: int = 0) -> None:
    """The image's part of items[skip + img.message] set to `uri`, copying the item and its
    content on the way (they may be the parsed request's own)."""
    k = skip + img.message
    item = items[k] = dict(items[k])
    content = item["content"] = list(item["content"])
    content[img.part] = {**content[img.part], "image_url": uri}


def upstream_address(target: Target, path: str) -> tuple[str, dict[str, str]]:
    """The URL of `{base}/responses{path}` at OpenAI or Azure, and its auth headers. Azure
    serves the Responses API at {resource}/openai/v1/responses (its v1 API, the default here)
    or at /openai/responses?api-version=<preview> (learn.microsoft.com/azure/ai-foundry/
    openai/how-to/responses)."""
    if target.provider == "openai":
        base = (target.base_url or openai.DEFAULT_BASE_URL).rstrip("/")
        auth_header = {"authorization": f"Bearer {target.api_key}"} if target.api_key else {}
        return f"{base}/responses{path}", {**target.headers, **auth_header}
    options = target.options
    base = target.base_url or azure.DEFAULT_BASE_URL.format(
        resource=azure.option(options, "resource-name")
    )
    version = azure.option(options, "api-version", default="v1")
    base = base.rstrip("/")
    url = (
        f"{base}/v1/responses{path}"
        if version == "v1"
        else f"{base}/responses{path}?api-version={version}"
    )
    return url, {**target.headers, **azure.auth_headers(target)}


class PassthroughStream:
    """OpenAI's typed Responses events, decoded as they are (relayed unchanged). A stream
    that ends before a terminal event was cut short: the client gets an error event."""

    def __init__(self, *, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._sse = SSEDecoder(max_event_bytes)
        self._ended = False
        self._sequence = 0  # one past the last sequence_number seen

    def next_sequence(self) -> int:
        return self._sequence

    def feed(self, data: bytes) -> list[dict]:
        return self._events(self._sse.feed(data))

    def close(self) -> list[dict]:
        out = self._events(self._sse.close())
        if not self._ended:
            out.append(_stream_error("The upstream's stream ended before the response did."))
        return out

    def _events(self, decoded: list) -> list[dict]:
        out = []
        for event in decoded:
            if event.data.strip() == "[DONE]":
                self._ended = True
                continue
            try:
                data = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                data = None
            if not isinstance(data, dict):
                data = _stream_error(f"Upstream sent a malformed event: {event.data[:200]}")
            self._ended |= data.get("type") in _TERMINAL or "error" in data
            if isinstance(number := data.get("sequence_number"), int):
                self._sequence = number + 1
            out.append(data)
        return out


def error_event(parser) -> Callable[[GatewayError], dict]:
    """An error of Iris's own mid-stream (a transport failure, shutdown), as the Responses
    API's streams send theirs: a typed `error` event, numbered after the parser's last. For
    the translated path's streams too (proxy.py)."""

    def event(error: GatewayError) -> dict:
        return {
            "type": "error",
            "code": error.code or error.type,
            "message": error.message,
            "param": error.param,
            "sequence_number": parser.next_sequence(),
        }

    return event


def _stream_error(message: str) -> dict:
    error = {"type": "api_error", "code": "bad_upstream_stream", "message": message, "param": None}
    return {"type": "error", **{k: error[k] for k in ("code", "message", "param")}, "error": error}
