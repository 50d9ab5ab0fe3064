"""GET /v1/logs, /v1/logs/{id}, /v1/logs/{id}/images/{image_id}: the log, for tools and tests.

{id} is the record's number or the x-iris-request-id its response carried (32 hex digits).
"""

import re
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from feedback.query import FEEDBACK_FILTERS
from gateway import auth
from gateway.db import orm
from gateway.errors import GatewayError
from gateway.logquery import ROUTING, SORTS, LogFilter, decimal_or_none
from gateway.logquery_pages import page_of, parse_cursor
from gateway.logrecord import (
    INPUT_ROLES,
    SUMMARY_FIELDS,
    image_dict,
    original_request,
    output_dict,
    output_order,
    revised_prompts,
    summary_dict,
)
from gateway.models import LogImage, RequestLog


def get_only(view):
    """A read-only view: any method but GET (or HEAD) answers a 405 in OpenAI's shape, as the
    rest of /v1/ does, not Django's HTML (nor its CSRF page: nothing here changes state)."""

    @csrf_exempt
    async def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            response = GatewayError(405, "Use GET.", code="method_not_allowed").response()
            response["Allow"] = "GET, HEAD"
            return response
        return await view(request, *args, **kwargs)

    return checked


@get_only
async def log_list(request: HttpRequest) -> HttpResponse:
    try:
        await auth.check(request.headers, read_logs=True)
        log_filter, limit = parse_filter(request)
    except GatewayError as error:
        return error.response()
    return JsonResponse(await orm(_list)(log_filter, limit))


def _list(log_filter: LogFilter, limit: int) -> dict:
    only = (*SUMMARY_FIELDS, "created_at", "api_key")  # no bodies: a list never shows them
    rows, cursor = page_of(log_filter, limit, lambda qs: qs.select_related("api_key").only(*only))
    # next_cursor: pass it back as ?cursor=. An id when sorted by time (and in the unknown-cost
    # tail of a cost sort); "id@cost" while a cost sort walks the known costs; "id@created_at"
    # with since or until (a window is listed by created_at, then id).
    return {
        "object": "list",
        "data": [summary_dict(r) for r in rows],
        "has_more": cursor is not None,
        "next_cursor": cursor,
    }


REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def by_ref(qs: QuerySet, ref: int | str, via: str = "") -> QuerySet:
    """The record `ref` names, its id or its request id (x-iris-request-id), in `qs`
    (`via="log__"` from its images); no record for anything else."""
    ref = str(ref).lower()
    if REQUEST_ID.match(ref):  # 32 characters: never an id (a bigint has at most 19 digits)
        return qs.filter(**{f"{via}request_id": ref})
    if ref.isdigit() and len(ref) <= 19:
        return qs.filter(**{f"{via}id": int(ref)})
    return qs.none()


@get_only
async def log_detail(request: HttpRequest, log_id: int | str) -> HttpResponse:
    try:
        await auth.check(request.headers, read_logs=True)
        return JsonResponse(await orm(_detail)(request, log_id))
    except GatewayError as error:
        return error.response()


def _detail(request: HttpRequest, log_id: int | str) -> dict:
    log = by_ref(RequestLog.objects.select_related("api_key"), log_id).first()
    if log is None:
        raise GatewayError(404, f"No log with id {log_id}.", code="log_not_found")
    out = summary_dict(log)
    out.update(
        path=log.path,
        upstream_url=log.upstream_url,
        request_headers=log.request_headers,
        request_body=log.request_body,
        upstream_body=log.upstream_body,  # null: the client's body went as it was
        response_body=log.response_body,
        original_request=None,
    )
    if request.GET.get("original"):
        try:
            out["original_request"] = original_request(log)
        except OSError:  # FileNotFoundError: an image's row outlived its file
            out["original_request_error"] = "An image's bytes are missing from blob storage."
    images = list(log.images.select_related("blob"))
    revised = revised_prompts(log.response_body)
    inputs = [img for img in images if img.role in INPUT_ROLES]
    made = sorted((img for img in images if img.role not in INPUT_ROLES), key=output_order)
    out["images"] = [_linked(request, img, image_dict(img)) for img in inputs]
    out["output_images"] = [_linked(request, img, output_dict(img, revised)) for img in made]
    # The first revised prompt (dall-e-3 makes one image); each output also carries its own.
    out["revised_prompt"] = next(iter(revised.values()), None)
    return out


def _linked(request: HttpRequest, image: LogImage, item: dict) -> dict:
    if image.blob_id:
        url = reverse("api-log-image", args=[image.log_id, image.id])
        item["content_url"] = request.build_absolute_uri(url)
    return item


@get_only
async def log_image(request: HttpRequest, log_id: int | str, image_id: int) -> HttpResponse:
    try:
        await auth.check(request.headers, read_logs=True)
        images = LogImage.objects.select_related("blob").filter(pk=image_id, blob__isnull=False)
        image = await by_ref(images, log_id, via="log__").afirst()
        if image is None:
            raise GatewayError(404, "No such image.", code="image_not_found")
    except GatewayError as error:
        return error.response()
    blob = image.blob
    try:
        file = await sync_to_async(default_storage.open)(blob.storage_name)
    except OSError:  # FileNotFoundError: the row outlived its file
        message = "The image's bytes are missing from blob storage."
        return GatewayError(404, message, code="image_missing").response()
    response = FileResponse(
        file,
        content_type=blob.mime or "application/octet-stream",
        as_attachment=True,
        filename=f"{blob.sha256[:16]}{'.pdf' if blob.mime == 'application/pdf' else ''}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    # A model's SVG (output_format svg) may hold scripts: never run as a page of this origin.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


def parse_filter(request: HttpRequest) -> tuple[LogFilter, int]:
    q = request.GET
    try:
        limit = min(max(int(q.get("limit", 50)), 1), 200)
        metadata = dict(item.split("=", 1) for item in q.getlist("metadata") if "=" in item)
        has_images, has_outputs = q.get("has_images"), q.get("has_output_images")
        cursor = parse_cursor(q["cursor"]) if q.get("cursor") else (None, None, None)
        before, before_cost, before_at = cursor
        if q.get("sort", "") not in SORTS:
            raise ValueError(f"sort is one of {', '.join(s for s in SORTS if s)}.")
        if q.get("cost", "") not in ("", "known", "unknown"):
            raise ValueError("cost is known or unknown.")
        if q.get("routing", "") not in ("", *ROUTING):
            raise ValueError(f"routing is one of {', '.join(ROUTING)}.")
        if q.get("feedback", "") not in ("", *FEEDBACK_FILTERS):
            raise ValueError(f"feedback is one of {', '.join(FEEDBACK_FILTERS)}.")
        return LogFilter(
            provider=q.get("provider", ""),
            model=q.get("model", ""),
            status=q.get("status", ""),
            trace_id=q.get("trace_id", ""),
            request_id=q.get("request_id", ""),
            image_sha256=q.get("image", ""),
            prompt=q.get("prompt", ""),
            metadata=metadata,
            search=q.get("q", ""),
            since=_time(q.get("since")),
            until=_time(q.get("until")),
            has_images=_flag(has_images),
            has_output_images=_flag(has_outputs),
            endpoint=q.get("endpoint", ""),
            cost_min=decimal_or_none(q.get("cost_min")),
            cost_max=decimal_or_none(q.get("cost_max")),
            cost_unknown={"known": False, "unknown": True}.get(q.get("cost", "")),
            routing=q.get("routing", ""),
            config=q.get("config", ""),
            feedback=q.get("feedback", ""),
            label=q.get("label", ""),
            sort=q.get("sort", ""),
            before=before,
            before_cost=before_cost,
            before_at=before_at,
        ), limit
    except ValueError as exc:
        raise GatewayError(400, f"Bad filter: {exc}", code="invalid_filter") from None


def _flag(value: str | None) -> bool | None:
    return None if value is None else value.lower() in {"1", "true"}


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
