"""A PDF's pages in the logs UI: each page's picture, one page opened large, more pages of a
card's strip. The PDF's own bytes are served, as a sandboxed download, by views.image."""

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from gateway.images import PDF_MIME
from gateway.models import Blob, RequestLog
from logs_ui import pdfpages, thumbnails
from logs_ui.access import viewer_required
from logs_ui.views import _immutable, thumbnail_placeholder


@require_GET
@viewer_required
async def page_picture(request: HttpRequest, sha256: str, page: int, size: int) -> HttpResponse:
    """Page `page` (from 1) as a WebP, drawn once; immutable like thumbnails."""
    if size not in pdfpages.SIZES:
        raise Http404("No such size.")
    tag = pdfpages.etag(sha256, page, size)
    if tag in request.headers.get("If-None-Match", ""):
        return _immutable(HttpResponseNotModified(), tag)
    blob = await Blob.objects.filter(pk=sha256, mime=PDF_MIME).afirst()
    if blob is None or not 1 <= page <= blob.frames:
        raise Http404("No such page.")
    try:
        data = await pdfpages.aget_or_make(blob, page, size)
    except thumbnails.ThumbnailError as exc:
        return thumbnail_placeholder(size, exc)
    return _immutable(HttpResponse(data, content_type="image/webp"), tag)


def _document(sha256: str) -> Blob:
    return get_object_or_404(Blob, pk=sha256, mime=PDF_MIME)


def _log_id(request: HttpRequest) -> int | None:
    """The request the document is shown for (?log=), when there is one: the link back."""
    value = request.GET.get("log", "")
    return int(value) if value.isdigit() and len(value) < 19 else None


def _log(log_id: int | None) -> RequestLog | None:
    return RequestLog.objects.filter(pk=log_id).only("id", "model").first() if log_id else None


@require_GET
@viewer_required
def page_large(request: HttpRequest, sha256: str, page: int) -> HttpResponse:
    """One page of a document, large, with the pages before and after it."""
    blob = _document(sha256)
    if not 1 <= page <= blob.frames:
        raise Http404("No such page.")
    log_id = _log_id(request)
    try:  # drawn here (then cached), so that a page PDFium cannot draw is told, not a blank
        pdfpages.get_or_make(blob, page, pdfpages.LARGE)
        problem = ""
    except thumbnails.ThumbnailError as exc:
        problem = str(exc)
    context = {
        "blob": blob,
        "page": page,
        "problem": problem,
        "pages": pdfpages.Pages(sha256, blob.frames, log_id=log_id),
        "size": pdfpages.LARGE,
        "log": _log(log_id),
    }
    return render(request, "logs_ui/document.html", context)


@require_GET
@viewer_required
def more_pages(request: HttpRequest, sha256: str) -> HttpResponse:
    """The next pages of a card's strip (htmx), from ?start=; as a page of its own without htmx."""
    blob = _document(sha256)
    start = request.GET.get("start", "1")
    start = int(start) if start.isdigit() and len(start) < 10 else 1
    if not 1 <= start <= blob.frames:
        raise Http404("No such page.")
    log_id = _log_id(request)
    pages = pdfpages.Pages(
        sha256, blob.frames, start=start, log_id=log_id, length=pdfpages.MORE_PAGES
    )
    if request.htmx:
        return render(request, "logs_ui/document.html#pages", {"pages": pages, "lazy": True})
    context = {"blob": blob, "pages": pages, "lazy": True, "log": _log(log_id)}
    return render(request, "logs_ui/document.html", context)
