"""Replay a logged request through the normal request path (gateway/service.py), on the same
or another provider and model, with the stored bytes of its images; the replay is logged as
its own record, linked to the original by a Replay row and by its metadata.

    replay(log, provider="@claude", model="claude-sonnet-4-5")  # the logs UI: authenticate=False
    replay(log, provider="openai", headers=request.headers, authenticate=True)  # the API
"""

from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from django.http import HttpResponse

from gateway import imageproxy, service, targets
from gateway import log as request_log
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.models import RequestLog
from gateway.responses import proxy as responses_proxy
from replays import body as replay_body
from replays.models import Replay

METADATA_KEY = "iris_replay_of"  # the new record's metadata: the original's request id

_ENDPOINTS = {
    "chat.completions": service.CHAT,
    "responses": service.Endpoint("responses", responses_proxy.parse, responses_proxy.forward),
    "images.generations": imageproxy.GENERATIONS_ENDPOINT,
}
# The caller's headers a replay does not pass on: the route is the replay's own, and the body
# is made here (its length and type are not the caller's).
_NOT_PASSED = {
    "content-length",
    "content-type",
    "host",
    "cookie",
    "x-csrftoken",
    "x-portkey-provider",
    "x-portkey-virtual-key",
    "x-portkey-config",
    "x-portkey-metadata",
}


@dataclass(frozen=True)
class Replayed:
    """What a replay answered. `request_id` names the new record (the log writer saves it a
    moment later); `response` is the answer's JSON, or the error's."""

    request_id: str
    status: int
    response: dict
    latency_ms: float | None
    original_id: int
    target: str


async def replay(
    log: RequestLog,
    *,
    provider: str,
    model: str | None = None,
    overrides: dict | None = None,
    headers: Mapping[str, str] | None = None,
    user: str = "",
    authenticate: bool = False,
) -> Replayed:
    """Send the logged request again to `provider` (`@slug`, or a provider kind with its key
    in `headers`), `model` instead of the original's ("" = the @slug's default), `overrides`
    merged into the body. A stream request is replayed whole unless overrides ask to stream.
    Raises GatewayError (400, 409) when the record cannot be replayed; an error of the replay
    itself (routing, the upstream) is answered in Replayed, as its record logs it."""
    provider = _provider(provider)
    replay_body.kind_of(log)  # a clear 400 for what cannot be replayed
    endpoint = _ENDPOINTS[log.endpoint or "chat.completions"]
    call_headers = _headers(log, provider, headers or {})
    model_name, sent = await orm(_prepare)(log, model, overrides)

    async def read(record: request_log.Record) -> bytes:
        return sent

    path = replay_body.KINDS[log.endpoint or "chat.completions"].path
    record = request_log.Record.begin(path, call_headers)
    # A replay goes where its user said: not where the key's default config would send it.
    call = service.Call(
        path, call_headers, read, authenticate=authenticate, record=record, default_config=False
    )
    response = await service.complete(call, endpoint)
    answer = await _answer(response, record)
    target = f"{provider} {record.model or model_name}".strip()[:300]
    await orm(_link)(log, record.request_id, user, target)
    return Replayed(
        request_id=record.request_id,
        status=response.status_code,
        response=answer,
        latency_ms=record.latency_ms,
        original_id=log.pk,
        target=target,
    )


def _prepare(log: RequestLog, model: str | None, overrides: Mapping | None) -> tuple[str, bytes]:
    """(the model asked for, the body's bytes): in a thread, as images make it big."""
    body = replay_body.replay_body(log, model, overrides)
    return str(body.get("model") or ""), orjson.dumps(body)


def _provider(provider: object) -> str:
    if not isinstance(provider, str) or not provider.strip():
        raise replay_body.refused(
            "Name the provider to replay on: an @slug from the admin, or a provider kind "
            "(with its key in the Authorization header).",
            "missing_provider",
            "provider",
        )
    return provider.strip()


def _headers(log: RequestLog, provider: str, given: Mapping[str, str]) -> dict[str, str]:
    """The replay's request headers: the caller's (its gateway key, a provider key, options)
    but for the route and the body's, the provider, and metadata naming the original."""
    headers = {k.lower(): v for k, v in given.items() if k.lower() not in _NOT_PASSED}
    metadata = targets.metadata(given)  # the caller's own, checked (400 if not strings)
    metadata[METADATA_KEY] = log.request_id
    headers["x-portkey-provider"] = provider
    headers["x-portkey-metadata"] = orjson.dumps(metadata).decode()
    headers["content-type"] = "application/json"
    return headers


async def _answer(response: HttpResponse, record: request_log.Record) -> dict:
    """The answer as JSON; a stream is read to its end and its assembled answer kept."""
    if getattr(response, "streaming", False):
        async for _ in response.streaming_content:  # the record assembles the chunks
            pass
        return record.response_body or {}
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {"body": response.content[:10_000].decode("utf-8", "replace")}
    return answer if isinstance(answer, dict) else {"body": answer}


def _link(log: RequestLog, request_id: str, user: str, target: str) -> Replay:
    return Replay.objects.create(
        original=log, request_id=request_id, user=user[:150], target=target
    )


def original_of(request_id: str) -> Replay | None:
    """The Replay row that made the record `request_id`, if it is a replay."""
    return Replay.objects.select_related("original").filter(request_id=request_id).first()


def find_log(ref: str) -> RequestLog:
    """A record by its numeric id or its x-iris-request-id; 404 otherwise."""
    ref = str(ref).strip()
    found = None
    if ref.isdigit() and len(ref) < 19:
        found = RequestLog.objects.filter(pk=int(ref)).first()
    elif len(ref) == 32:
        found = RequestLog.objects.filter(request_id=ref.lower()).first()
    if found is None:
        raise GatewayError(404, f"No log record {ref[:40]!r}.", code="log_not_found")
    return found
