"""GET /v1/models and /v1/models/{id}: the models a gateway key can reach, in OpenAI's list
shape, each named as a request would name it: `@slug/<model>`.

Each enabled provider of the admin that the key may use contributes its default model and,
where its kind can list models (the provider module's list_models_request/parse_models) and
credentials are stored, the provider's own list: fetched at most every MODEL_LIST_SECONDS,
within GATEWAY_MAX_RESPONSE_BYTES and a few seconds. A provider whose list could not be
fetched is named in `x-iris-models-unavailable` (and logged), never silently left out.

What each kind lists (its module's docstring has the details):
- openai: GET {base}/models, any OpenAI-compatible server's too;
- anthropic: GET /v1/models, its first page of up to 1000;
- google: models.list, the models that serve generateContent or predict, without "models/";
- bedrock: ListFoundationModels on the control-plane host (SigV4 for "bedrock"), the models
  invokable on demand by their id; inference profiles (us.anthropic.…) are not listed;
- azure-openai: no upstream list. Requests name a deployment, and deployments are listed only
  by the management plane (ARM, with an Entra token and a subscription), which Iris has no
  credentials for; the data plane's GET /openai/models names base models, which are not what a
  request names. So an Azure record lists its default model and its deployment, if set.
"""

import asyncio
import logging
import time

import aiohttp
import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from yarl import URL

from gateway import auth, http, offload, providers, service, targets
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.models import Provider

log = logging.getLogger(__name__)

MODEL_LIST_SECONDS = 300.0
_MAX_MODELS = 5000  # per provider: a list is a page, not a dump
_FAILED_SECONDS = 30.0
_MAX_CACHED = 1000
# (slug, record's updated_at) -> (good until, model ids, fetched ok)
_lists: dict[tuple, tuple[float, list[str], bool]] = {}
_fetching: dict[tuple, asyncio.Future] = {}


@service.with_portkey_headers
async def model_list(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return GatewayError(405, "Use GET.", code="method_not_allowed").response()
    try:
        models, unavailable = await _reachable(request)
    except GatewayError as error:
        return error.response()
    response = _json({"object": "list", "data": models})
    if unavailable:
        response["x-iris-models-unavailable"] = ",".join(unavailable)
    return response


@service.with_portkey_headers
async def model_detail(request: HttpRequest, model_id: str) -> HttpResponse:
    if request.method != "GET":
        return GatewayError(405, "Use GET.", code="method_not_allowed").response()
    try:
        models, _ = await _reachable(request)
    except GatewayError as error:
        return error.response()
    for model in models:
        if model["id"] == model_id:
            return _json(model)
    return GatewayError(
        404,
        f"The model {model_id!r} does not exist or this key cannot reach it.",
        code="model_not_found",
        param="model",
    ).response()


async def _reachable(request: HttpRequest) -> tuple[list[dict], list[str]]:
    key = await auth.check(request.headers)
    rows = await orm(_providers)()
    allowed = key.allowed_slugs if key else frozenset()
    rows = [p for p in rows if not allowed or p.slug in allowed]
    lists = await asyncio.gather(*(_provider_models(p) for p in rows))
    models, unavailable = [], []
    for provider, (ids, ok) in zip(rows, lists, strict=True):
        created = int(provider.created_at.timestamp())
        configured = [provider.default_model, *_deployment(provider)]
        names = dict.fromkeys([name for name in configured if name] + ids)
        models += [
            {
                "id": f"@{provider.slug}/{name}",
                "object": "model",
                "created": created,
                "owned_by": provider.slug,
            }
            for name in names
        ]
        if not ok:
            unavailable.append(provider.slug)
    return models, unavailable


def _deployment(provider: Provider) -> list[str]:
    """An Azure record's deployment: the model its requests reach (see the docstring)."""
    return [provider.azure_deployment_id] if provider.kind == "azure-openai" else []


def _providers() -> list[Provider]:
    rows = list(Provider.objects.filter(enabled=True).order_by("slug"))
    for provider in rows:
        try:  # credentials decrypted here, in a thread
            provider.target = targets.target_for(provider)
        except GatewayError:  # unreadable credentials: its default model only, and said so
            provider.target = None
    return rows


async def _provider_models(provider: Provider) -> tuple[list[str], bool]:
    """The provider's own model ids (cached), and whether they could be had."""
    module, target = providers.get(provider.kind), provider.target
    if target is None:
        return [], False
    if not hasattr(module, "list_models_request") or not target.secrets():
        return [], True
    key = (provider.slug, provider.updated_at)  # an edited record is listed afresh
    cached = _lists.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1], cached[2]
    if key not in _fetching:  # one fetch at a time per provider, however many callers wait
        _fetching[key] = asyncio.ensure_future(_fetch(provider, module, target))
        _fetching[key].add_done_callback(lambda _: _fetching.pop(key, None))
    ids, ok = await asyncio.shield(_fetching[key])
    # A failure is remembered briefly, so a provider that is down costs one timeout, not one
    # per caller.
    _lists[key] = (time.monotonic() + (MODEL_LIST_SECONDS if ok else _FAILED_SECONDS), ids, ok)
    if len(_lists) > _MAX_CACHED:
        _lists.pop(next(iter(_lists)))
    return ids, ok


async def _fetch(provider: Provider, module, target) -> tuple[list[str], bool]:
    try:
        upstream = module.list_models_request(target)
        session = http.session(trusted=True)  # an admin's provider: its base URL is trusted
        timeout = aiohttp.ClientTimeout(total=5)
        async with session.get(
            URL(upstream.url, encoded=True), headers=upstream.headers, timeout=timeout
        ) as response:
            content = await http.read_capped(response, settings.GATEWAY_MAX_RESPONSE_BYTES)
            if response.status >= 400:
                raise ValueError(f"HTTP {response.status}")
        data = await offload.by_size(len(content), orjson.loads, content)
        return module.parse_models(data)[:_MAX_MODELS], True
    except Exception as exc:  # any failure: the list goes without, and says so
        log.warning("listing the models of @%s failed: %s", provider.slug, type(exc).__name__)
        return [], False


def _json(data: dict) -> HttpResponse:
    return HttpResponse(orjson.dumps(data), content_type="application/json")
