"""Portkey's feedback API on Iris: POST /v1/feedback (one object, or a list as the SDK's
bulk_create sends) and PUT /v1/feedback/{id}; GET of both to read feedback back.

Any active gateway key may give feedback (an app's key collects its users' thumbs, and app
keys may not read the logs); reading feedback back needs a key that may read the logs, and a
key that may not can only update its own. Feedback is accepted for a trace id with no record
yet: records are written in the background and may land after the feedback.
"""

import orjson
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from feedback import query, validate
from feedback.models import Feedback
from gateway import auth
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.models import ApiKey

MAX_BULK = 100


def _method_not_allowed(allowed: str) -> HttpResponse:
    response = GatewayError(405, f"Use {allowed}.", code="method_not_allowed").response()
    response["Allow"] = allowed
    return response


def _body(request: HttpRequest) -> object:
    try:
        return orjson.loads(request.body or b"null")
    except orjson.JSONDecodeError:
        raise GatewayError(400, "The body is not valid JSON.", code="invalid_json") from None


def _invalid(error: validate.Invalid) -> GatewayError:
    return GatewayError(400, error.message, code="invalid_feedback", param=error.param)


@csrf_exempt
async def feedback_list(request: HttpRequest) -> HttpResponse:
    if request.method not in ("POST", "GET", "HEAD"):
        return _method_not_allowed("POST, GET")
    try:
        if request.method != "POST":
            await auth.check(request.headers, read_logs=True)
            return JsonResponse(await orm(_list)(request.GET.get("trace_id", "")))
        key = await auth.check(request.headers)
        body = _body(request)
        items = body if isinstance(body, list) else [body]
        if not items or len(items) > MAX_BULK:
            raise GatewayError(
                400, f"Send 1 to {MAX_BULK} feedback objects.", code="invalid_feedback"
            )
        many = isinstance(body, list)
        try:
            checked = [
                validate.fields(item, creating=True, prefix=f"{n}." if many else "")
                for n, item in enumerate(items)
            ]
        except validate.Invalid as error:
            raise _invalid(error) from None
        ids = await orm(_create)(checked, key)
    except GatewayError as error:
        return error.response()
    return JsonResponse(
        {"status": "success", "message": "Feedback created successfully", "feedback_ids": ids}
    )


def _create(items: list[dict], key: ApiKey | None) -> list[str]:
    with transaction.atomic():
        made = [_new(item, key) for item in items]
    return [str(fb.id) for fb in made]


def _new(item: dict, key: ApiKey | None) -> Feedback:
    meta = item.get("metadata", {})
    user = meta.get("_user") if isinstance(meta.get("_user"), str) else ""
    fb = Feedback(source="api", api_key=key, user_name=user[:150], **item)
    fb.save()
    return fb


def _list(trace_id: str) -> dict:
    if not trace_id:
        raise GatewayError(
            400, "Name the trace: ?trace_id=.", code="invalid_feedback", param="trace_id"
        )
    rows = Feedback.objects.filter(trace_id=trace_id).order_by("created_at")[:1000]
    return {"object": "list", "data": [query.as_dict(fb) for fb in rows]}


@csrf_exempt
async def feedback_detail(request: HttpRequest, feedback_id: str) -> HttpResponse:
    if request.method not in ("PUT", "GET", "HEAD"):
        return _method_not_allowed("PUT, GET")
    try:
        if request.method != "PUT":
            await auth.check(request.headers, read_logs=True)
            fb = await orm(_get)(feedback_id, None)
            return JsonResponse(query.as_dict(fb))
        key = await auth.check(request.headers)
        try:
            changes = validate.fields(_body(request), creating=False)
        except validate.Invalid as error:
            raise _invalid(error) from None
        await orm(_update)(feedback_id, key, changes)
    except GatewayError as error:
        return error.response()
    return JsonResponse(
        {
            "status": "success",
            "message": "Feedback updated successfully",
            "feedback_ids": [feedback_id],
        }
    )


def _get(feedback_id: str, key: ApiKey | None) -> Feedback:
    """The feedback; a 404 for an unknown or malformed id, and for another key's feedback when
    `key` may not read the logs (it learns nothing of what others said)."""
    try:
        fb = Feedback.objects.filter(pk=feedback_id).first()
    except ValidationError:  # not a UUID
        fb = None
    if fb is not None and key is not None and not key.can_read_logs and fb.api_key_id != key.id:
        fb = None
    if fb is None:
        raise GatewayError(
            404, f"No feedback with id {feedback_id[:64]}.", code="feedback_not_found"
        )
    return fb


def _update(feedback_id: str, key: ApiKey | None, changes: dict) -> None:
    with transaction.atomic():
        fb = _get(feedback_id, key)
        for name, new in changes.items():
            setattr(fb, name, new)
        fb.save()
