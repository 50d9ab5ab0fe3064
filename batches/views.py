"""The logs UI's bulk replay: the "Replay these…" form and a batch's page (progress polled
by htmx, the answers side by side, each target's agreement)."""

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from batches import results, runner
from batches.forms import BatchForm
from batches.models import Batch
from gateway.logquery_pages import page_of
from gateway.models import Provider
from logs_ui.access import viewer_required
from logs_ui.forms import LogFilterForm, clean_query
from replays.views import can_replay


def replayer_required(view: Callable) -> Callable:
    """Starting, resuming or stopping a batch spends provider money: it needs what one replay
    needs (staff, or the "add replay" permission), not only the right to read the logs."""

    @viewer_required
    @wraps(view)
    def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not can_replay(request.user):
            raise PermissionDenied("You need staff status or the “add replay” permission.")
        return view(request, *args, **kwargs)

    return checked


@require_http_methods(["GET", "POST"])
@replayer_required
def batch_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = BatchForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                batch = runner.create(
                    data["filter"],
                    query=data["query"],
                    source="ui",
                    targets=data["targets"],
                    limit=data["limit"],
                    concurrency=data["concurrency"],
                    rule=data["rule"],
                    created_by=request.user.get_username(),
                )
            except runner.BatchError as exc:
                form.add_error(None, str(exc))
            else:
                user = request.user.get_username()
                runner.start(batch.id, headers={}, user=user, authenticate=False)
                return redirect("logs_ui:batch", batch.id)
        query = form.data.get("query", "")
    else:
        query = clean_query(request.GET).urlencode()
        form = BatchForm(initial={"query": query, "limit": min(50, runner.max_records())})
    context = {
        "form": form,
        "query": query,
        "matching": _matching(query),
        "slugs": list(Provider.objects.filter(enabled=True).values_list("slug", flat=True)),
        "max_records": runner.max_records(),
        "max_concurrency": runner.max_concurrency(),
    }
    return render(request, "logs_ui/batch_new.html", context, status=400 if form.errors else 200)


def _matching(query: str) -> tuple[int, bool]:
    """How many records the filter selects, counted up to the most a batch may take."""
    filters = LogFilterForm(QueryDict(query))
    if not filters.is_valid():
        return 0, False
    rows, more = page_of(filters.to_filter(), runner.max_records(), lambda qs: qs.only("id"))
    return len(rows), more is not None


@viewer_required
def batch_page(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(Batch, pk=batch_id)
    context = {"found": results.results(batch)}
    if request.htmx and request.htmx.target == "batch-results":
        return render(request, "logs_ui/batch_page.html#results", context)
    return render(request, "logs_ui/batch_page.html", context)


@require_POST
@replayer_required
def batch_resume(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = runner.note_stale(get_object_or_404(Batch, pk=batch_id))
    if runner.claim(batch.id):
        runner.start(batch.id, headers={}, user=request.user.get_username(), authenticate=False)
    else:
        messages.info(request, f"Only an interrupted batch can be resumed; it is {batch.status}.")
    return redirect("logs_ui:batch", batch.id)


@require_POST
@replayer_required
def batch_cancel(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(Batch, pk=batch_id)
    runner.cancel(batch.id)
    return redirect("logs_ui:batch", batch.id)
