"""The logs UI: the list, the live tail, one request, its raw JSON, its images and thumbnails.

Pages are sync views; image views are async, with Pillow and storage reads in a thread.
"""

import asyncio
import functools
import mimetypes
import operator
import time
from collections import defaultdict
from dataclasses import dataclass, replace

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseStopPolling, push_url

from gateway import http, logquery
from gateway.images import PDF_MIME, ImageError, sniff
from gateway.log import blobs
from gateway.logquery import LogFilter, filter_logs
from gateway.logquery_pages import page_of
from gateway.logrecord import original_request
from gateway.models import Blob, LogImage, RequestLog
from logs_ui import (
    analytics_data,
    attempts,
    conversation,
    imagejobs,
    imageview,
    pdfpages,
    responses,
    snippets,
    thumbnails,
)
from logs_ui.access import viewer_required
from logs_ui.forms import LogFilterForm, clean_query, known_values
from logs_ui.tailstate import TailState

PAGE_SIZE = 50
TAIL_LIMIT = 100  # per poll; the next poll picks up the rest, oldest first
STRIP = 4  # thumbnails shown in a list row
_LIST_ONLY = (  # columns a list row never shows, some of them large
    "request_body",
    "response_body",
    "request_headers",
    "upstream_url",
    "upstream_body",
    "prompt_variables",
    "search_text",
    "cost_breakdown",
    "attempts",  # the row shows only the retried / fell back / cached badges
)
_IMMUTABLE = "private, max-age=31536000, immutable"  # private: behind a login
RAW_PARTS = ("request", "upstream", "response", "headers")


@require_GET
@viewer_required
def log_list(request: HttpRequest) -> HttpResponse:
    """Newest requests first, filtered by the query string; htmx gets only the part it swaps."""
    form = LogFilterForm(request.GET)
    valid = form.is_valid()
    log_filter = form.to_filter()
    fragment = _fragment(request)
    if fragment == "#totals":  # asked for once the rows are shown: it reads every match
        totals = _totals(log_filter) if valid else None
        response = render(request, "logs_ui/log_list.html#totals", {"totals": totals})
        patch_vary_headers(response, ("HX-Request", "HX-Target"))
        return response
    rows, cursor = page_of(log_filter, PAGE_SIZE, _shape) if valid else ([], None)
    by_time = not form.by_cost
    context = {
        "form": form,
        "rows": _with_thumbnails(rows),
        "cursor": cursor,
        "newest": _newest(rows, log_filter) if by_time else _latest_id(),
        "live": valid and form.cleaned_data["live"] and by_time,  # new rows go on top
        "empty_install": not rows and not form.is_filtered and not RequestLog.objects.exists(),
        "providers": lambda: known_values("provider"),
        "models": lambda: known_values("model"),
        "api_base": request.build_absolute_uri("/v1"),
        "query": clean_query(request.GET).urlencode(),
        "oob": fragment == "#results",  # the form stays: its "Clear filters" is sent out of band
    }
    response = render(request, "logs_ui/log_list.html" + fragment, context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    if fragment in {"#results", "#logs"}:
        # The form sends every field, empty or not; the address bar gets a tidy, shareable URL.
        query = clean_query(request.GET).urlencode()
        push_url(response, f"{request.path}?{query}" if query else request.path)
    return response


def _totals(log_filter: LogFilter) -> object:
    """The list's count and cost; a model-name part is not something rollups can count."""
    if log_filter.model_contains:
        return logquery.totals(replace(log_filter, skip_estimates=True))
    return analytics_data.totals(log_filter)


def _newest(rows: list, log_filter: LogFilter) -> int:
    """The live tail's floor: the highest id of the first page (a window's page is in
    created_at order, not id order), or the latest id past the first page."""
    if not rows or log_filter.before:
        return _latest_id()
    return max(row.id for row in rows)


def _latest_id() -> int:
    return RequestLog.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _fragment(request: HttpRequest) -> str:
    """Which part of the page an htmx request swaps: the results, the whole list, or more rows."""
    htmx = request.htmx
    if not htmx or htmx.history_restore_request:
        return ""
    targets = {"results": "#results", "logs": "#logs", "totals": "#totals"}
    return targets.get(htmx.target or "", "#rows")


@require_GET
@viewer_required
def log_tail(request: HttpRequest) -> HttpResponse:
    """Rows the live tail has not shown yet (logs_ui/tailstate.py: above its floor, not in
    its shown ids); 204 when there are none and its floor stays."""
    form = LogFilterForm(request.GET)
    if not form.is_valid() or not form.cleaned_data["live"]:
        return HttpResponseStopPolling()
    state = TailState.parse(request.GET)
    log_filter = form.to_filter()
    log_filter.before, log_filter.after = None, state.floor
    unseen = _rows(log_filter)
    if shown := state.ranges():  # one condition: chained excludes copy the tree each time
        unseen = unseen.exclude(functools.reduce(operator.or_, (Q(id__range=run) for run in shown)))
    # Oldest first, so a burst larger than TAIL_LIMIT arrives over several polls, without gaps.
    rows = list(unseen.order_by("id")[:TAIL_LIMIT])
    floor = state.floor
    state.saw(row.id for row in rows)
    now = time.time()
    if state.mark is None or now - state.mark_at >= settings.LOGS_TAIL_SETTLE_SECONDS:
        if state.mark is not None:  # every id up to the mark has committed (or never will)
            state.settle(state.mark if len(rows) < TAIL_LIMIT else min(state.mark, rows[-1].id))
        state.mark, state.mark_at = _latest_id(), now
    state.bound()
    if not rows and state.floor == floor:
        return HttpResponse(status=204)
    context = {"form": form, "rows": _with_thumbnails(rows[::-1]), "tail": state, "fresh": True}
    return render(request, "logs_ui/log_list.html#tail", context)


def _rows(log_filter: LogFilter) -> QuerySet:
    return _shape(filter_logs(log_filter))


def _shape(qs: QuerySet) -> QuerySet:
    return qs.defer(*_LIST_ONLY)


@dataclass
class Preview:
    """One small picture of a list row: an image's thumbnail, or a PDF's first page."""

    url: str
    pages: int | None = None  # a PDF's page count


class Strip:
    """The first few previews of a row's images and documents (sent, or made), and how many
    more there are."""

    def __init__(self, previews: list[Preview | None]) -> None:
        viewable = [p for p in previews if p]
        self.thumbs = viewable[:STRIP]
        self.more = len(viewable) - len(self.thumbs)
        self.unviewable = len(previews) - len(viewable)

    def __bool__(self) -> bool:
        return bool(self.thumbs or self.unviewable)


def _with_thumbnails(rows: list[RequestLog]) -> list[RequestLog]:
    """Give each row a strip of the images and documents it sent and one of the images the
    model made, in one query for the whole page (masks and partial images are left to the
    request's page). Every row is asked about: a row's image_count leaves its PDFs out."""
    previews: dict[tuple[int, str], list[Preview | None]] = defaultdict(list)
    found = LogImage.objects.filter(
        log_id__in=[row.id for row in rows], role__in=("input", "output")
    ).values_list("log_id", "role", "blob_id", "blob__width", "blob__mime", "blob__frames")
    for log_id, role, sha, width, mime, frames in found if rows else ():
        previews[(log_id, role)].append(_preview(sha, width, mime, frames))
    for row in rows:
        row.sent = Strip(previews[(row.id, "input")])
        row.made = Strip(previews[(row.id, "output")])
    return rows


def _preview(sha: str | None, width: int | None, mime: str | None, frames: int) -> Preview | None:
    if sha and mime == PDF_MIME:
        return Preview(reverse("logs_ui:document-picture", args=[sha, 1, pdfpages.LIST]), frames)
    if sha and mime == imageview.SVG:  # shown as itself, through <img> only
        return Preview(reverse("logs_ui:image", args=[sha]))
    if sha and width is not None:
        return Preview(reverse("logs_ui:thumbnail", args=[sha, 96]))
    return None


@require_GET
@viewer_required
def log_detail(request: HttpRequest, log_id: int) -> HttpResponse:
    """One request: the conversation beside the model's output, every image, the raw JSON."""
    log = get_object_or_404(RequestLog.objects.select_related("api_key"), pk=log_id)
    images = conversation.image_views(log)
    resp = responses.responses_request(log, images.inputs)
    refused = None if resp else conversation.refused(log)
    if refused:  # refused for one bad image: its messages all the same, the image marked
        log.model = log.model or refused.model  # shown, never saved
        messages = conversation.messages(log, refused.inputs, refused.body)
    else:
        messages = resp.messages if resp else conversation.messages(log, images.inputs)
    context = {
        "log": log,
        "job": imagejobs.image_request(log, images),
        "resp": resp,
        "messages": messages,
        "documents": [p.document for m in messages for p in m.parts if p.document],
        "replies": conversation.replies(log, images),
        "error": conversation.error(log),
        "unparsed": None if refused else (log.request_body or {}).get("_unparsed"),
        "replayable": snippets.replayable(log, log.request_body),
        "parts": RAW_PARTS,
        "prompt_variables": conversation.prompt_variables(log),
        "chain": attempts.chain(log, admin=request.user.is_staff),
    }
    return render(request, "logs_ui/log_detail.html", context)


def _raw(log: RequestLog, part: str) -> object:
    """The stored JSON behind one raw tab (the headers tab adds where the request went)."""
    if part == "request":
        return log.request_body
    if part == "upstream":  # what Iris sent, when it is not what the client sent
        return log.upstream_body or {"note": "Sent upstream as received: see Request JSON."}
    if part == "response":
        return log.response_body
    headers = log.request_headers
    return {"path": log.path, "request headers (redacted)": headers, "upstream": log.upstream_url}


@require_GET
@viewer_required
def log_raw(request: HttpRequest, log_id: int, part: str) -> HttpResponse:
    """The stored JSON of one request, as a lazily loaded tab (htmx) or as JSON."""
    if part not in RAW_PARTS:
        raise Http404("No such part.")
    log = get_object_or_404(RequestLog, pk=log_id)
    data = _raw(log, part)
    if not request.htmx:
        response = JsonResponse(data, safe=False, json_dumps_params={"indent": 2})
        response["X-Content-Type-Options"] = "nosniff"
        return response
    context = {"log": log, "part": part, "data": data, "parts": RAW_PARTS}
    return render(request, "logs_ui/log_detail.html#raw", context)


@require_GET
@viewer_required
def log_snippet(request: HttpRequest, log_id: int, kind: str) -> HttpResponse:
    """The request as a curl command or a Python script, images inlined as sent."""
    log = get_object_or_404(RequestLog, pk=log_id)
    try:
        body = original_request(log)
    except OSError:  # an image of the request is missing from blob storage
        return _gone()
    if not snippets.replayable(log, body) or kind not in {"curl", "python"}:
        raise Http404("This request cannot be replayed.")
    headers = snippets.replay_headers(log)
    if kind == "curl":
        url = request.build_absolute_uri(snippets.PATHS[log.endpoint])
        text = snippets.curl(body, url=url, headers=headers)
    else:
        base_url = request.build_absolute_uri("/v1")
        text = snippets.python(body, base_url=base_url, headers=headers, endpoint=log.endpoint)
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@viewer_required
async def thumbnail(request: HttpRequest, sha256: str, size: int) -> HttpResponse:
    """A WebP thumbnail, made once; immutable, since the bytes behind a SHA-256 never change."""
    if size not in thumbnails.SIZES:
        raise Http404("No such size.")
    tag = thumbnails.etag(sha256, size)
    if tag in request.headers.get("If-None-Match", ""):
        return _immutable(HttpResponseNotModified(), tag)
    blob = await Blob.objects.filter(pk=sha256).afirst()
    if blob is None:
        raise Http404("No such image.")
    try:
        data = await asyncio.to_thread(thumbnails.get_or_make, blob, size)
    except thumbnails.ThumbnailError as exc:
        return thumbnail_placeholder(size, exc)
    return _immutable(HttpResponse(data, content_type="image/webp"), tag)


def thumbnail_placeholder(size: int, exc: Exception) -> HttpResponse:
    """A neutral tile where no thumbnail can be made; the header says why (never a 500)."""
    response = HttpResponse(thumbnails.placeholder(size), content_type="image/webp")
    response["X-Iris-Thumbnail-Error"] = str(exc)[:200].encode("ascii", "replace").decode()
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@viewer_required
async def image(request: HttpRequest, sha256: str) -> HttpResponse:
    """The image's bytes as sent, with their real type; never run as a page in our origin."""
    tag = f'"{sha256}"'
    if tag in request.headers.get("If-None-Match", ""):
        return _immutable(HttpResponseNotModified(), tag)
    blob = await Blob.objects.filter(pk=sha256).afirst()
    if blob is None:
        raise Http404("No such image.")
    try:
        data = await asyncio.to_thread(blobs.read, blob.storage_name)
    except FileNotFoundError:  # the row outlived its file
        return _gone()
    except Exception as exc:  # S3 down or timing out (an OSError too): not "missing"
        message = f"Blob storage is unavailable ({type(exc).__name__}); try again."
        return HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
    mime = blob.mime or "application/octet-stream"
    inline = mime in conversation.INLINE_TYPES and "download" not in request.GET
    extension = mimetypes.guess_extension(mime) or ".bin"
    name = _download_stem(request.GET.get("name", "")) or sha256[:16]
    response = _untrusted(HttpResponse(data, content_type=mime), f"{name}{extension}", inline)
    return _immutable(response, tag)


def _download_stem(name: str) -> str:
    """The name a download is saved under (?name=, the filename the client gave), reduced to
    plain characters and without its extension: the one for the real type is added."""
    stem = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].rsplit(".", 1)[0]
    return "".join(c for c in stem if c.isalnum() or c in " -_()")[:100].strip()


def _gone() -> HttpResponse:
    message = "The image's bytes are missing from blob storage."
    return HttpResponse(message, status=404, content_type="text/plain; charset=utf-8")


@require_GET
@viewer_required
async def live_image(request: HttpRequest, image_id: int) -> HttpResponse:
    """A URL image of which no copy was kept, fetched now through the private-network guard."""
    found = await LogImage.objects.filter(pk=image_id, blob__isnull=True).exclude(url="").afirst()
    if found is None:
        raise Http404("No such image.")
    try:
        fetched = await http.fetch_guarded(found.url)
        mime = (await asyncio.to_thread(sniff, fetched.data)).mime
    except (http.FetchError, ImageError) as exc:
        return HttpResponse(f"Cannot show this URL: {exc}", status=502, content_type="text/plain")
    if mime not in conversation.INLINE_TYPES:
        return HttpResponse(f"The URL holds {mime}.", status=502, content_type="text/plain")
    response = _untrusted(HttpResponse(fetched.data, content_type=mime), f"image-{image_id}", True)
    response["Cache-Control"] = "private, max-age=300"
    return response


def _untrusted(response: HttpResponse, filename: str, inline: bool) -> HttpResponse:
    """Headers for bytes a client sent us: no sniffing, no scripts, download unless an image."""
    response["Content-Disposition"] = content_disposition_header(not inline, filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response


def _immutable(response: HttpResponse, tag: str) -> HttpResponse:
    response["ETag"] = tag
    response["Cache-Control"] = _IMMUTABLE
    return response
