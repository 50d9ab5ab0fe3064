"""/logs/analytics/: requests, errors, latency, tokens, cost and images over time, as charts.

The page takes the list's filters (the same form, the same query string) plus a bucket and a
grouping; htmx swaps the charts when a filter changes. /logs/analytics/data/ answers the
same numbers as JSON. The numbers: logs_ui/analytics_data.py.
"""

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET
from django_htmx.http import push_url

from logs_ui import analytics_data
from logs_ui.access import viewer_required
from logs_ui.forms import RANGES, LogFilterForm, clean_query, known_values

DEFAULT_RANGE = "24h"
CHARTS = (  # (series, title, unit): what static/analytics.js draws, in this order
    ("requests", "Requests", "count"),
    ("error_rate", "Error rate", "percent"),
    ("latency_p50", "Latency p50", "ms"),
    ("latency_p95", "Latency p95", "ms"),
    ("ttft_p50", "Time to first token p50", "ms"),
    ("prompt_tokens", "Prompt tokens", "count"),
    ("completion_tokens", "Completion tokens", "count"),
    ("cost_usd", "Cost (known prices)", "usd"),
    ("images", "Images sent", "count"),
    ("image_bytes", "Image bytes sent", "bytes"),
)


class AnalyticsForm(LogFilterForm):
    """The list's filters, a time range that defaults to the last day, a bucket, a grouping."""

    range = forms.ChoiceField(
        choices=[("all", "Any time")] + [(k, label) for k, (label, _) in RANGES.items()],
        required=False,
    )
    bucket = forms.ChoiceField(
        choices=[("", "Auto")] + [(b, f"By {b}") for b in analytics_data.BUCKETS],
        required=False,
    )
    group = forms.ChoiceField(
        choices=[(k, f"Group: {v.lower()}") for k, v in analytics_data.GROUPS.items()]
        + [("metadata", "Group: metadata key…")],
        required=False,
    )
    meta_key = forms.CharField(required=False, max_length=100)

    def __init__(self, query: QueryDict) -> None:
        if not any(query.get(name) for name in ("range", "since", "until")):
            query = query.copy()
            query["range"] = DEFAULT_RANGE
        super().__init__(query)

    def to_filter(self):
        if getattr(self, "cleaned_data", {}).get("range") == "all":
            self.cleaned_data["range"] = ""
            found = super().to_filter()
            self.cleaned_data["range"] = "all"
        else:
            found = super().to_filter()
        found.skip_estimates = True  # unless the endpoint filter is "estimate"
        return found

    def clean(self) -> dict:
        data = super().clean()
        if data.get("group") == "metadata" and not data.get("meta_key"):
            self.add_error("meta_key", "Name the metadata key to group by.")
        return data


def _answer(form: AnalyticsForm, first: bool = False) -> dict | None:
    if not form.is_valid():
        return None
    data = form.cleaned_data
    found = analytics_data.plan(
        form.to_filter(), data.get("bucket", ""), data.get("group", ""), data.get("meta_key", "")
    )
    return analytics_data.series(found, first) if found else None


@require_GET
@viewer_required
def analytics(request: HttpRequest) -> HttpResponse:
    """The page answers with the newest ANALYTICS_FIRST_LOG_ROWS rows where it reads the log
    (a day by metadata at 10M records: ~1.7 s for all of it), and its charts then ask again
    with rows=all for the whole range (up to ANALYTICS_MAX_LOG_ROWS)."""
    form = AnalyticsForm(request.GET)
    query = clean_query(request.GET)
    whole = query.pop("rows", None) == ["all"]
    context = {
        "form": form,
        "data": _answer(form, first=not whole),
        "charts": CHARTS,
        "analytics": True,
        "providers": lambda: known_values("provider"),
        "models": lambda: known_values("model"),
        "query": query.urlencode(),
    }
    htmx = request.htmx
    swap = htmx and not htmx.history_restore_request and htmx.target == "charts"
    response = render(request, "logs_ui/analytics.html" + ("#charts" if swap else ""), context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    if swap:
        query = context["query"]
        push_url(response, f"{request.path}?{query}" if query else request.path)
    return response


@require_GET
@viewer_required
def analytics_json(request: HttpRequest) -> HttpResponse:
    """The page's numbers as JSON (the same query string); 400 with the form's errors."""
    form = AnalyticsForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    return JsonResponse(_answer(form) or {"times": [], "groups": [], "source": None})
