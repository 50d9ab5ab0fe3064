"""POST /v1/logs/{id}/replay: replay a logged request (replays/core.py) for an API client.

{id} is the record's numeric id or its x-iris-request-id. The body names the provider
("@slug", or a provider kind with its key in Authorization as for any request), optionally a
model and overrides. The answer carries the replay's status: the new record's id (null until
the log writer has written it), its request id, and the response.
"""

import asyncio

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from gateway import auth, offload, service
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.log import submitted_lately
from gateway.models import RequestLog
from replays import core

_WAIT_FOR_ROW = 2.0  # seconds: the writer writes within LOG_FLUSH_SECONDS, then it is null


@csrf_exempt
async def log_replay(request: HttpRequest, ref: str) -> HttpResponse:
    if request.method != "POST":
        response = GatewayError(405, "Use POST.", code="method_not_allowed").response()
        response["Allow"] = "POST"
        return response
    try:
        key = await auth.check(request.headers, read_logs=True)
        spec = await _spec(request)
        log = await orm(core.find_log)(ref)
        done = await core.replay(
            log,
            provider=spec.get("provider"),  # type: ignore[arg-type] - checked by replay
            model=spec.get("model"),
            overrides=spec.get("overrides"),
            headers=request.headers,
            user=f"key:{key.name}" if key else "api",
            authenticate=True,
        )
    except GatewayError as error:
        return error.response()
    answer = {
        "object": "replay",
        "id": await _row_id(done.request_id),
        "request_id": done.request_id,
        "status": done.status,
        "replay_of": {"id": log.pk, "request_id": log.request_id},
        "target": done.target,
        "latency_ms": done.latency_ms,
        "response": done.response,
    }
    if done.status >= 400 and isinstance(done.response.get("error"), dict):
        answer["error"] = done.response["error"]  # where OpenAI-shaped clients look for it
    response = JsonResponse(answer, status=done.status or 502)
    response["x-iris-request-id"] = done.request_id
    return response


async def _spec(request: HttpRequest) -> dict:
    size = int(request.headers.get("content-length") or 0)
    raw = await offload.by_size(size, service.read_body, request)
    try:
        spec = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise GatewayError(400, f"The body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(spec, dict):
        raise GatewayError(400, "The body must be a JSON object.", code="invalid_json")
    if unknown := sorted(set(spec) - {"provider", "model", "overrides"}):
        raise GatewayError(
            400,
            f"Unknown field {unknown[0]!r}: a replay takes provider, model and overrides.",
            code="unknown_parameter",
            param=unknown[0],
        )
    return spec


async def _row_id(request_id: str) -> int | None:
    """The new record's id once written: worth a short wait, as the writer is quick."""
    deadline = asyncio.get_running_loop().time() + _WAIT_FOR_ROW
    while True:
        found = await orm(_id_of)(request_id)
        late = asyncio.get_running_loop().time() > deadline
        if found is not None or late or not submitted_lately(request_id):
            return found
        await asyncio.sleep(0.05)


def _id_of(request_id: str) -> int | None:
    return RequestLog.objects.filter(request_id=request_id).values_list("id", flat=True).first()
