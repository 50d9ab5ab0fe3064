"""The Responses API on the shared request path (gateway/service.py): the I/O.

POST /v1/responses goes to openai and azure-openai as sent (their typed events relayed
unchanged: passthrough.py), and through the provider's chat translator elsewhere (here, with
translate.py and events.py). previous_response_id and item_reference of a response Iris made
read the log (store.py), for both paths. GET/DELETE/input_items of a response Iris made read
the log too; of a provider's own response, they go to the provider the headers name.
"""

import asyncio
import re
import time
from contextlib import contextmanager

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from gateway import auth, imageprep, offload, providers, proxy, service, targets
from gateway import log as request_log
from gateway.chat import Chat
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.models import RequestLog
from gateway.providers import azure, openai
from gateway.providers.base import Target, Upstream
from gateway.responses import events, passthrough, store, translate
from gateway.responses.request import (
    ResponsesRequest,
    decode_items,
    iris_id,
    parse_request,
    request_id_of,
)


async def parse(headers: service.Headers, raw: bytes) -> ResponsesRequest:
    """parse_request; a provider `@slug` in the headers lends its default model."""
    try:
        return await _parse(raw)
    except GatewayError as error:
        raw = await targets.with_default_model(headers, raw, error)
        return await _parse(raw)


async def _parse(raw: bytes) -> ResponsesRequest:
    limits = {
        "max_depth": settings.GATEWAY_MAX_JSON_DEPTH,
        "max_images": settings.GATEWAY_MAX_IMAGES_PER_REQUEST,
    }
    # A PDF's page count takes PDFium's lock, which a logs UI render may hold: never on the loop.
    if b"file_data" in raw:
        return await asyncio.to_thread(parse_request, raw, **limits)
    return await offload.by_size(len(raw), parse_request, raw, **limits)


async def forward(
    req: ResponsesRequest, target: Target, record: request_log.Record
) -> HttpResponse:
    """Send the request upstream and answer the client; the record is submitted in every case."""
    await with_history(req, target, record.api_key_id)
    if target.provider in passthrough.PASSTHROUGH:
        return await passthrough.forward(req, target, record)
    await _resolve_references(req, record.api_key_id)
    return await _translated(req, target, record)


async def with_history(req: ResponsesRequest, target: Target, key_id: int | None) -> None:
    """The conversation before a request that continues one Iris made, attached from the log
    (/v1/estimate counts it too); an unknown id is a 404 where the provider keeps no state."""
    previous = req.previous_response_id
    if previous and request_id_of(previous):
        await _attach_history(req, previous, key_id)
    elif previous and target.provider not in passthrough.PASSTHROUGH:
        raise store.not_found(previous, "previous_response_id")


async def _resolve_references(req: ResponsesRequest, key_id: int | None) -> None:
    """Each `item_reference` to an output item of a response Iris made (the AI SDK sends its
    earlier replies so) replaced by that item, from the log; an unknown one is a 404."""
    items = req.body.get("input")
    places = [
        k
        for k, item in enumerate(items if isinstance(items, list) else ())
        if isinstance(item, dict) and item.get("type") == "item_reference"
    ]
    if len(places) > MAX_REFERENCES:
        raise GatewayError(
            400,
            f"{len(places)} item references; at most {MAX_REFERENCES} are resolved per request.",
            code="too_many_references",
            param="input",
        )
    logs: dict[str, RequestLog | None] = {}  # each response looked up once
    budget = settings.GATEWAY_MAX_BODY_BYTES - len(req.raw)
    for k in places:
        item_id = items[k].get("id")
        match = events.OUTPUT_ITEM.fullmatch(item_id) if isinstance(item_id, str) else None
        if match and match[1] not in logs:
            logs[match[1]] = await _find(match[1], key_id)
        log = logs.get(match[1]) if match else None
        output = (log.response_body or {}).get("output") if log else None
        index = int(match[2]) if match else -1
        if not isinstance(output, list) or not 0 <= index < len(output):
            raise GatewayError(
                404,
                f"Item with id '{str(item_id)[:80]}' not found.",
                code="not_found",
                param=f"input.{k}.id",
            )
        items[k] = output[index]
        budget -= len(orjson.dumps(items[k]))
        if budget < 0:
            raise GatewayError(
                400,
                "The referenced items make the request larger than the gateway's body limit "
                "(GATEWAY_MAX_BODY_BYTES).",
                code="request_too_large",
                param=f"input.{k}",
            )


async def _attach_history(req: ResponsesRequest, previous: str, key_id: int | None) -> None:
    """The conversation before this request, from the log: each earlier record's input and
    output, oldest first (following previous_response_id at most store.MAX_DEPTH times)."""
    chain: list[RequestLog] = []
    rid: str | None = request_id_of(previous)
    while rid is not None:
        log = await _find(rid, key_id)
        if log is None:
            raise store.not_found(iris_id(rid), "previous_response_id")
        chain.append(log)
        if len(chain) > store.MAX_DEPTH:
            raise GatewayError(
                400,
                f"The conversation is more than {store.MAX_DEPTH} responses long.",
                code="conversation_too_long",
                param="previous_response_id",
            )
        rid = store.check_previous(log)
    budget = settings.GATEWAY_MAX_BODY_BYTES - len(req.raw)
    full, logged, size = await orm(store.conversation)(chain, budget)
    req.history_images, req.history_documents = await offload.by_size(
        size, decode_items, full, "previous_response_id"
    )
    req.history, req.history_logged = full, logged


async def _find(request_id: str, key_id: int | None) -> RequestLog | None:
    """The stored response, waiting briefly for a record the log writer has not written yet
    (a client's next turn can come before the writer's next batch): up to a few seconds for
    one this process answered lately, a moment for any other (another worker's)."""
    patience = settings.LOG_FLUSH_SECONDS + settings.LOG_FSYNC_SECONDS
    patience += 2.0 if request_log.submitted_lately(request_id) else 0.25
    deadline = time.monotonic() + patience
    while (log := await orm(store.find)(request_id, key_id)) is None:
        if time.monotonic() > deadline:
            return None
        if not await orm(_pending)(request_id):  # written since the look-up: once more
            return await orm(store.find)(request_id, key_id)
        await asyncio.sleep(0.05)
    return log


def _pending(request_id: str) -> bool:
    """Worth waiting for: no row yet (a row that exists but is not answerable won't become so)."""
    return not RequestLog.objects.filter(request_id=request_id).exists()


async def _translated(
    req: ResponsesRequest, target: Target, record: request_log.Record
) -> HttpResponse:
    provider = providers.get(target.provider)
    takes_reasoning = bool(getattr(provider, "ACCEPTS_REASONING_EFFORT", False))
    drop = str(target.options.get("drop-params", "")).lower() in ("true", "1", "yes")
    plan = translate.to_chat(req, provider.NAME, takes_reasoning=takes_reasoning, drop=drop)
    chat = Chat(raw=b"", body=plan.body)
    try:
        with _placed(plan, chat):
            fitted = await imageprep.prepare_images(chat, provider, target)
            upstream = await proxy.build_request(provider, chat, target)
    except GatewayError as error:
        raise translate.rename_error(error, plan) from None
    response = await proxy.send(upstream, target, record)
    record.dropped_params = [*plan.dropped, *record.dropped_params]
    req.raw = record.raw_body = b""
    await proxy.raise_for_status(response, provider, record)
    passed = proxy.passed_headers(response, fitted)
    response_id = iris_id(record.request_id)
    if req.stream:
        record.is_stream = True
        chat_stream = provider.Stream(chat, max_event_bytes=settings.GATEWAY_MAX_SSE_EVENT_BYTES)
        parser = events.ResponseStream(chat_stream, req, response_id)
        relay = proxy.relay(
            response,
            parser,
            record,
            target.secrets(),
            done=b"",
            error_event=passthrough.error_event(parser),
        )
        return proxy.event_stream(relay, passed)
    record.first_byte()
    _, data = await proxy.read_json(response, record)
    body = events.to_response(provider.parse_response(data, chat), req, response_id)
    record.finish(200, body)
    request_log.submit(record)
    return HttpResponse(orjson.dumps(body), content_type="application/json", headers=passed)


@contextmanager
def _placed(plan: translate.ChatPlan, chat: Chat):
    """The request's images and PDFs where the chat body has them, while the provider
    translates (the same objects: what it encodes is what the log recognises); then back
    at their input item and part, which the log records."""
    saved = [(img, img.message, img.part) for img, _, _ in plan.placements]
    for img, message, part in plan.placements:
        img.message, img.part = message, part
    chat.images = [img for img, _, _ in plan.placements if not img.is_document]
    chat.documents = [img for img, _, _ in plan.placements if img.is_document]
    try:
        yield
    finally:
        for img, message, part in saved:
            img.message, img.part = message, part


# GET/DELETE /v1/responses/{id} and GET /v1/responses/{id}/input_items


async def retrieve(request: HttpRequest, response_id: str) -> HttpResponse:
    return await _by_id(request, response_id, "GET", "")


async def delete(request: HttpRequest, response_id: str) -> HttpResponse:
    return await _by_id(request, response_id, "DELETE", "")


async def input_items(request: HttpRequest, response_id: str) -> HttpResponse:
    return await _by_id(request, response_id, "GET", "/input_items")


async def _by_id(request: HttpRequest, response_id: str, method: str, path: str) -> HttpResponse:
    try:
        key = await auth.check(request.headers)
        if not _RESPONSE_ID.fullmatch(response_id):  # it goes into an upstream URL
            raise store.not_found(response_id)
        rid = request_id_of(response_id)
        if rid is None:
            return await _at_provider(request, key, response_id, method, path)
        log = await _find(rid, key.pk if key else None)
        if log is None:
            raise store.not_found(response_id)
        if method == "DELETE":
            await orm(store.mark_deleted)(log)
            return _json({"id": response_id, "object": "response", "deleted": True})
        if path:
            return _json(await orm(store.item_list)(log, _list_query(request)))
        if request.GET.get("stream") in ("true", "1"):
            raise GatewayError(
                400,
                "stream=true is not supported for a response Iris made; GET it whole.",
                code="unsupported_parameter",
                param="stream",
            )
        return _json(log.response_body)
    except GatewayError as error:
        return error.response()
    except Exception as exc:  # a bug of ours: OpenAI's shape, logged
        return service.internal_error(exc, request.path).response()


def _list_query(request: HttpRequest) -> dict:
    try:
        limit = int(request.GET.get("limit") or 20)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise GatewayError(400, "limit must be an integer from 1 to 100.", param="limit")
    order = request.GET.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise GatewayError(400, "order must be 'asc' or 'desc'.", param="order")
    return {"limit": limit, "order": order, "after": request.GET.get("after")}


class _NoBody:
    """What targets.resolve needs of a request that names no model (a GET, a DELETE)."""

    model = ""

    def set_model(self, model: str) -> None:
        pass


async def _at_provider(request, key, response_id: str, method: str, path: str) -> HttpResponse:
    """A provider's own response id: the request goes to the provider the headers name."""
    target = await targets.resolve(request.headers, _NoBody(), key=key)  # type: ignore[arg-type]
    if target.provider not in passthrough.PASSTHROUGH:
        raise store.not_found(response_id)
    if target.slug and not await orm(store.made_by)(response_id, key):
        # The admin's credentials: only the key that made a response may reach it.
        raise store.not_found(response_id)
    url, headers = passthrough.upstream_address(target, f"/{response_id}{path}")
    if query := request.META.get("QUERY_STRING"):
        url += ("&" if "?" in url else "?") + query
    record = request_log.Record(path=request.path, request_headers={})  # not logged
    upstream = Upstream(method, url, {"accept": "application/json", **headers}, b"")
    response = await proxy.send(upstream, target, record)
    module = azure if target.provider == "azure-openai" else openai
    try:
        await proxy.raise_for_status(response, module, record)
    except GatewayError as error:
        targets.scrub(error, record, target)
        raise
    content, _ = await proxy.read_json(response, record)
    return HttpResponse(content, content_type="application/json")


_RESPONSE_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")
MAX_REFERENCES = 100  # item_reference items resolved per request


def _json(data: object) -> HttpResponse:
    return HttpResponse(orjson.dumps(data), content_type="application/json")
