"""POST /v1/replays (a bulk replay of a logs filter's records), GET /v1/replays/{id} (its
progress and results), POST /v1/replays/{id}/resume and /cancel. A gateway key that may read
the logs is required; the replays themselves go through the request path with the caller's
headers (a provider key where a target is not an @slug), held in memory, never stored."""

from types import SimpleNamespace

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt

from batches import results, runner
from batches.agreement import parse_rule
from batches.models import Batch
from gateway import auth
from gateway.api.logs import parse_filter
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.models import ApiKey


def _method(allowed: str):
    def wrap(view):
        @csrf_exempt
        async def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method != allowed:
                response = GatewayError(405, f"Use {allowed}.", code="method_not_allowed")
                response = response.response()
                response["Allow"] = allowed
                return response
            try:
                key = await auth.check(request.headers, read_logs=True)
                return await view(request, key, *args, **kwargs)
            except GatewayError as error:
                return error.response()

        return checked

    return wrap


@_method("POST")
async def create(request: HttpRequest, key: ApiKey | None) -> HttpResponse:
    try:
        spec = orjson.loads(request.body or b"{}")
    except orjson.JSONDecodeError:
        raise GatewayError(400, "The body is not JSON.", code="invalid_json") from None
    if not isinstance(spec, dict):
        raise GatewayError(400, "The body is a JSON object.", code="invalid_request")
    batch = await orm(_create)(spec, key)
    runner.start(batch.id, headers=request.headers, user=_who(key), authenticate=True)
    answer = {"id": batch.id, "object": "replay.batch", "status": batch.status}
    return JsonResponse({**answer, "total": batch.total}, status=202)


def _create(spec: dict, key: ApiKey | None) -> Batch:
    query = _query(spec.get("filter"))
    log_filter, _ = parse_filter(SimpleNamespace(GET=query))
    try:
        targets = runner.parse_targets(spec.get("targets"))
        for target in targets:
            if target["provider"].startswith("@"):
                auth.check_provider(key, target["provider"][1:])
        return runner.create(
            log_filter,
            query=query.urlencode(),
            source="api",
            targets=targets,
            limit=runner.bounded(
                "limit",
                spec.get("limit"),
                runner.DEFAULT_LIMIT,
                runner.max_records(),
                "GATEWAY_MAX_BATCH_RECORDS",
            ),
            concurrency=runner.bounded(
                "concurrency",
                spec.get("concurrency"),
                runner.DEFAULT_CONCURRENCY,
                runner.max_concurrency(),
                "GATEWAY_MAX_BATCH_CONCURRENCY",
            ),
            rule=parse_rule(spec.get("agreement")),
            created_by=_who(key),
        )
    except ValueError as exc:  # BatchError, a bad agreement rule
        raise GatewayError(400, str(exc), code="invalid_batch") from None


def _query(value: object) -> QueryDict:
    """The filter object as the query string GET /v1/logs would take: lists repeat a
    parameter, and metadata may be an object of key: value."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise GatewayError(
            400, "filter is an object of GET /v1/logs parameters.", code="invalid_filter"
        )
    query = QueryDict(mutable=True)
    for name, given in value.items():
        if name in ("limit", "cursor"):  # the batch's own limit; all records from the start
            continue
        if name == "metadata" and isinstance(given, dict):
            given = [f"{k}={v}" for k, v in given.items()]
        for one in given if isinstance(given, list) else [given]:
            if isinstance(one, dict | list) or one is None:
                raise GatewayError(400, f"filter.{name} is not a value.", code="invalid_filter")
            query.appendlist(name, str(one).lower() if isinstance(one, bool) else str(one))
    return query


@_method("GET")
async def detail(request: HttpRequest, key: ApiKey | None, batch_id: int) -> HttpResponse:
    return JsonResponse(await orm(_detail)(batch_id))


def _detail(batch_id: int) -> dict:
    return results.as_json(results.results(_batch(batch_id)))


@_method("POST")
async def resume(request: HttpRequest, key: ApiKey | None, batch_id: int) -> HttpResponse:
    batch = await orm(_batch)(batch_id)
    if not await orm(runner.claim)(batch.id):
        message = "Only an interrupted batch can be resumed; this one is " + batch.status + "."
        raise GatewayError(409, message, code="batch_not_interrupted")
    runner.start(batch.id, headers=request.headers, user=_who(key), authenticate=True)
    return JsonResponse({"id": batch.id, "object": "replay.batch", "status": "running"}, status=202)


@_method("POST")
async def cancel(request: HttpRequest, key: ApiKey | None, batch_id: int) -> HttpResponse:
    batch = await orm(_batch)(batch_id)
    await orm(runner.cancel)(batch.id)
    return JsonResponse(await orm(_detail)(batch.id))


def _batch(batch_id: int) -> Batch:
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise GatewayError(404, f"No bulk replay {batch_id}.", code="batch_not_found")
    return batch


def _who(key: ApiKey | None) -> str:
    return f"key:{key.name}" if key else ""
