"""Dataset downloads: /logs/export/ for the logs UI (login), GET /v1/logs/export (a gateway
key that may read the logs). Both take the list's filters and answer the zip as a stream,
with the record count and image bytes in headers first (the UI's progress bar reads them)."""

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from exports.export import Export, ExportTooLarge, plan, stream
from gateway import auth
from gateway.api.logs import get_only, parse_filter
from gateway.db import orm
from gateway.errors import GatewayError
from logs_ui.access import viewer_required
from logs_ui.forms import LogFilterForm


@viewer_required
@require_GET
def export_dataset(request: HttpRequest) -> HttpResponse:
    form = LogFilterForm(request.GET)
    if not form.is_valid():
        errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
        return JsonResponse({"error": "Bad filter.", "fields": errors}, status=400)
    try:
        export = plan(form.to_filter())
    except ExportTooLarge as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return _response(request, export)


@get_only
async def api_export(request: HttpRequest) -> HttpResponse:
    try:
        await auth.check(request.headers, read_logs=True)
        log_filter, _ = parse_filter(request)
        export = await orm(plan)(log_filter)
    except GatewayError as error:
        return error.response()
    except ExportTooLarge as exc:
        return GatewayError(400, str(exc), code="export_too_large").response()
    return _response(request, export)


def _response(request: HttpRequest, export: Export) -> StreamingHttpResponse:
    chunks = stream(export)
    # Under ASGI the chunks must come from an async iterator (Django would read a sync one
    # whole into a list first); under WSGI (tests' live server) from a sync one.
    content = _async(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(content, content_type="application/zip")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="iris-dataset-{stamp}.zip"'
    response["X-Iris-Export-Records"] = str(export.records)
    response["X-Iris-Export-Image-Bytes"] = str(export.image_bytes)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


async def _async(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Each chunk made in Django's sync thread (the ORM's), one at a time."""
    step = sync_to_async(next)
    try:
        while (chunk := await step(chunks, None)) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close)()
