"""POST /v1/estimate: what a request would cost in input tokens and whether its provider would
take it, without sending it.

The body and headers are those of the endpoint named by `?endpoint=`: `chat.completions` (the
default) or `responses`. Keys, scopes, `@slug` routing, x-iris-image-fit and the 400s for a
bad body are that endpoint's (gateway/service.py). Images go through what the request path
does before sending (URLs fetched where the provider takes bytes, auto-fit, conversion); the
other URL images are fetched too (guarded and bounded as every fetch), only to learn their
size. The preflight's problems are listed, not raised: the answer is a 200 with `fits`.

Logged, as endpoint "estimate" with no upstream: every request Iris answers has a record (a
key's use, the URLs it made Iris fetch, what it was told); the logs filter by endpoint.
"""

import asyncio
import logging
from decimal import Decimal

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from gateway import (
    estimate,
    fetching,
    imageprep,
    preflight,
    pricing,
    providers,
    service,
)
from gateway import log as request_log
from gateway.chat import Chat
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.providers.base import Target
from gateway.responses import proxy as responses_proxy
from gateway.responses.passthrough import PASSTHROUGH

log = logging.getLogger(__name__)

# ?endpoint= → the parser of that endpoint's body.
PARSERS = {"chat.completions": service.parse, "responses": responses_proxy.parse}


@service.logs_requests
@csrf_exempt
async def create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = GatewayError(405, "Use POST.", code="method_not_allowed").response()
        response["Allow"] = "POST"
        return response
    name = request.GET.get("endpoint") or "chat.completions"
    if name not in PARSERS:
        return GatewayError(
            400,
            f"endpoint must be one of: {', '.join(PARSERS)}.",
            code="invalid_endpoint",
            param="endpoint",
        ).response()

    async def answer(parsed, target: Target, record: request_log.Record) -> HttpResponse:
        if name == "responses":  # a continued conversation counts its earlier turns
            await responses_proxy.with_history(parsed, target, record.api_key_id)
        body = await estimate_request(parsed, target, name)
        record.finish(200, body)
        request_log.submit(record)
        return JsonResponse(body)

    endpoint = service.Endpoint("estimate", PARSERS[name], answer)
    return await service.complete(service.Call.of(request), endpoint)


async def estimate_request(parsed, target: Target, endpoint: str) -> dict:
    """The estimate of a parsed request (a Chat, a ResponsesRequest) bound for `target`."""
    root = "messages" if isinstance(parsed, Chat) else "input"
    images = [img for img in parsed.images if not img.is_document]
    params = {
        f"{root}.{img.message}.content.{img.part}.image_url": i for i, img in enumerate(images)
    }
    found: list[dict] = []
    fitted = None
    try:
        fitted = await _prepare(parsed, target)
    except GatewayError as error:  # what the request path would answer with a 400
        if root == "input":  # prepare_images words a chat's places
            error.message = error.message.replace("messages[", "input[")
            error.param = (error.param or "").replace("messages.", "input.") or None
        found.append(
            _problem(params.get(error.param or ""), error.message, error.param, error.code)
        )
    missing = [img for img in images if img.origin == "url" and img.data is None]
    await fetching.fetch_images(missing)  # sent as URLs: fetched only to be measured
    sizes = fitted.sizes if fitted else {}
    named = {p["param"] for p in found}
    for problem, img in preflight.problems(images, target.provider, parsed.model, sizes):
        message, param = preflight.describe(problem, img, target.provider, root)
        if param not in named or problem.limit != "readable":  # a fetch failure, once
            code = preflight.code(problem)
            found.append(_problem(params.get(param), message, param, code, problem.limit))
    # In a thread: tiktoken loads its encoding on first use, and counts in proportion to text.
    texts = estimate.request_texts(parsed)
    earlier = list(getattr(parsed, "history_images", ()))  # previous_response_id's turns
    result = await asyncio.to_thread(
        estimate.estimate, target.provider, parsed.model, [*images, *earlier], texts, parsed.body
    )
    image_tokens = result.image_tokens
    # Prices may come from the admin's rows (cached, but read from the database at first).
    cost = await orm(input_cost)(
        target.provider, parsed.model, endpoint, result.text_tokens, image_tokens
    )
    return {
        "object": "estimate",
        "endpoint": endpoint,
        "provider": target.provider,
        "model": parsed.model,
        "image_fit": target.options.get(preflight.OPTION, "off"),
        "images": [
            {**_image(item, i, found, sizes), "earlier_turn": i >= len(images)}
            for i, item in enumerate(result.images)
        ],
        "estimated_prompt_tokens": result.prompt_tokens,
        "image_tokens": image_tokens,
        "text_tokens": result.text_tokens,
        "text_method": result.text_method,
        "estimated_cost_usd": cost,
        "problems": found,
        "fits": not found,
    }


def _problem(
    image: int | None, message: str, param: str | None, code: str | None, limit: str | None = None
) -> dict:
    return {"image": image, "message": message, "param": param, "code": code, "limit": limit}


async def _prepare(parsed, target: Target) -> preflight.FitReport | None:
    """What the request path does to images before its preflight: a Responses body bound for
    OpenAI or Azure goes as sent (auto-fit alone), any other through prepare_images."""
    passthrough = not isinstance(parsed, Chat) and target.provider in PASSTHROUGH
    if not passthrough:
        provider = providers.get(target.provider)
        return await imageprep.prepare_images(parsed, provider, target, check=False)
    if not (parsed.images and preflight.wanted(target)):
        return None
    module = providers.get(target.provider)
    accepted = module.IMAGE_MIME_TYPES
    report = await preflight.fit(parsed.images, target, parsed.model, parsed.body, accepted)
    return report.finish(parsed.images)


def _image(
    item: estimate.ImageEstimate, index: int, found: list[dict], sizes: dict[int, tuple[int, int]]
) -> dict:
    img = item.image
    out = item.as_json(index)
    out.update(
        origin=img.origin,
        mime=img.mime or None,
        bytes=img.size if img.data is not None else None,
        sent=None,
        problems=[p["message"] for p in found if p["image"] == index],
    )
    if img.converted:  # auto-fit or a conversion: what goes upstream instead
        width, height = sizes.get(id(img), (img.width, img.height))
        out["sent"] = {
            "mime": img.payload_mime,
            "bytes": len(img.payload),
            "width": width,
            "height": height,
        }
    return out


def input_cost(
    provider: str, model: str, endpoint: str, text_tokens: int, image_tokens: int | None
) -> str | None:
    """USD for the input side, a decimal string as the logs API's cost_usd: text tokens at
    the model's input price, image tokens at its image input price (the input price where it
    has none). None: unknown (no price, or an image whose tokens are unknown), never 0."""
    if image_tokens is None:
        return None
    usage = {
        "prompt_tokens": text_tokens + image_tokens,
        "completion_tokens": 0,
        "total_tokens": text_tokens + image_tokens,
    }
    try:
        cost = pricing.record_cost(provider, model, endpoint, usage, None)
    except Exception:
        log.exception("no price for %s %s", provider, model)
        return None
    prices = cost.as_json() if cost else {}
    per_million = prices.get("input_usd_per_million")
    if per_million is None:
        return None
    image_price = prices.get("image_input_usd_per_million")
    image_price = per_million if image_price is None else image_price
    total = Decimal(text_tokens) * Decimal(str(per_million))
    total += Decimal(image_tokens) * Decimal(str(image_price))
    return pricing.decimal_str(total / 1_000_000)
