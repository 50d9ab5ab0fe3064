"""The logs list's filters: its query string, validated by a Form and turned into a LogFilter."""

from datetime import datetime, timedelta
from decimal import Decimal

from django import forms
from django.core.cache import cache
from django.core.validators import RegexValidator
from django.http import QueryDict
from django.utils import timezone

from feedback.query import FEEDBACK_FILTERS
from gateway.logquery import ROUTING, SORTS, LogFilter
from gateway.logquery_pages import parse_cursor
from logs_ui.known import distinct_values

STATUS_CHOICES = [
    ("", "Any status"),
    ("2xx", "2xx success"),
    ("4xx", "4xx client error"),
    ("5xx", "5xx server error"),
    ("error", "Any error"),
]
RANGES = {
    "15m": ("Last 15 minutes", timedelta(minutes=15)),
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(days=1)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
}
RANGE_CHOICES = [("", "Any time")] + [(key, label) for key, (label, _) in RANGES.items()]
IMAGE_CHOICES = [("", "Images: any"), ("1", "With images"), ("0", "Without images")]
OUTPUT_CHOICES = [("", "Outputs: any"), ("1", "Generated images"), ("0", "No generated images")]
ENDPOINT_CHOICES = [
    ("", "All endpoints"),
    ("chat.completions", "chat.completions"),
    ("responses", "responses"),
    ("images.generations", "images.generations"),
    ("images.edits", "images.edits"),
    ("images.variations", "images.variations"),
    # /v1/estimate: listed, but left out of totals and analytics unless chosen here.
    ("estimate", "estimate"),
]
ROUTING_CHOICES = [("", "Routing: any"), *ROUTING.items()]
COST_CHOICES = [("", "Cost: any"), ("known", "Cost known"), ("unknown", "Cost unknown")]
_CHOICES_TTL = 60  # seconds; distinct values over a big table are worth caching


class ListInput(forms.TextInput):
    """A text input whose value is each value of its parameter (?metadata=a=1&metadata=b=2)."""

    def value_from_datadict(self, data: QueryDict, files: object, name: str) -> list[str]:
        return [v for v in data.getlist(name) if v.strip()] if hasattr(data, "getlist") else []


class MetadataField(forms.Field):
    """key=value pairs, each a metadata filter; all must match."""

    widget = ListInput

    def to_python(self, value: list[str] | None) -> dict[str, str]:
        pairs = {}
        for item in value or []:
            key, sep, val = item.partition("=")
            if not sep or not key.strip():
                raise forms.ValidationError(f"“{item}” is not key=value.", code="invalid")
            pairs[key.strip()] = val.strip()
        return pairs


FEEDBACK_CHOICES = [("", "Any feedback or none"), *FEEDBACK_FILTERS.items()]


class LogFilterForm(forms.Form):
    """Every filter of /logs/, with the same names as the JSON API's where they overlap."""

    status_choices = STATUS_CHOICES

    q = forms.CharField(required=False, max_length=200)
    provider = forms.CharField(required=False, max_length=50)
    model = forms.CharField(required=False, max_length=200)
    status = forms.CharField(
        required=False,
        validators=[RegexValidator(r"^(2xx|4xx|5xx|error|\d{3})$", "Use 2xx, 4xx, 5xx, error.")],
    )
    range = forms.ChoiceField(choices=RANGE_CHOICES, required=False)
    since = forms.DateTimeField(required=False)
    until = forms.DateTimeField(required=False)
    has_images = forms.ChoiceField(choices=IMAGE_CHOICES, required=False)
    has_output_images = forms.ChoiceField(choices=OUTPUT_CHOICES, required=False)
    endpoint = forms.ChoiceField(choices=ENDPOINT_CHOICES, required=False)
    trace_id = forms.CharField(required=False, max_length=200)
    metadata = MetadataField(required=False)
    image = forms.CharField(
        required=False,
        validators=[RegexValidator(r"^[0-9a-f]{64}$", "An image is named by its sha256.")],
    )
    prompt = forms.SlugField(required=False, max_length=64)
    cost_min = forms.DecimalField(required=False, min_value=0, max_digits=16, decimal_places=10)
    cost_max = forms.DecimalField(required=False, min_value=0, max_digits=16, decimal_places=10)
    cost = forms.ChoiceField(choices=COST_CHOICES, required=False)
    routing = forms.ChoiceField(choices=ROUTING_CHOICES, required=False)
    config = forms.CharField(required=False, max_length=64)  # a saved config's id, or "inline"
    feedback = forms.ChoiceField(choices=FEEDBACK_CHOICES, required=False)  # feedback/query.py
    label = forms.CharField(required=False, max_length=100)  # a feedback label
    sort = forms.ChoiceField(choices=list(SORTS.items()), required=False)
    live = forms.BooleanField(required=False)
    # An id, "id@cost" when sorted by cost, "id@created_at" in a time window
    # (logquery_pages.page_of).
    before = forms.CharField(required=False, max_length=64)
    after = forms.IntegerField(required=False, min_value=0)

    def clean_before(self) -> tuple[int, Decimal | None, datetime | None] | None:
        value = self.cleaned_data.get("before")
        try:
            return parse_cursor(value) if value else None
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None

    def to_filter(self) -> LogFilter:
        """The filter of every valid field (an invalid one is shown, and ignored)."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        since = data.get("since")
        if data.get("range"):
            recent = timezone.now() - RANGES[data["range"]][1]
            since = max(since, recent) if since else recent
        has_images, has_outputs = data.get("has_images"), data.get("has_output_images")
        before, before_cost, before_at = data.get("before") or (None, None, None)
        cost = data.get("cost")
        model, contains = model_filter(data.get("model", ""))
        return LogFilter(
            provider=data.get("provider", ""),
            model=model,
            model_contains=contains,
            status=data.get("status", ""),
            trace_id=data.get("trace_id", ""),
            metadata=data.get("metadata") or {},
            since=since,
            until=data.get("until"),
            has_images=None if not has_images else has_images == "1",
            has_output_images=None if not has_outputs else has_outputs == "1",
            endpoint=data.get("endpoint", ""),
            search=data.get("q", ""),
            image_sha256=data.get("image", ""),
            prompt=data.get("prompt", ""),
            cost_min=data.get("cost_min"),
            cost_max=data.get("cost_max"),
            cost_unknown=None if not cost else cost == "unknown",
            routing=data.get("routing", ""),
            config=data.get("config", ""),
            feedback=data.get("feedback", ""),
            label=data.get("label", ""),
            sort=data.get("sort", ""),
            before=before,
            before_cost=before_cost,
            before_at=before_at,
            after=data.get("after"),
        )

    @property
    def by_cost(self) -> bool:
        return self.is_bound and self.data.get("sort") in ("cost", "-cost")

    @property
    def metadata_values(self) -> list[str]:
        return [v for v in self.data.getlist("metadata") if v.strip()]

    @property
    def is_filtered(self) -> bool:
        """Whether any filter narrows the list (paging and live tail do not count)."""
        ignored = {"live", "before", "after", "sort"}
        return any(value for name, value in self.data.lists() if name not in ignored and any(value))


def clean_query(query: QueryDict) -> QueryDict:
    """The filters of a query string without empty values and page cursors: a tidy URL."""
    clean = QueryDict(mutable=True)
    for name, values in query.lists():
        if name not in {"before", "after"}:
            clean.setlist(name, [v for v in values if v.strip()])
    for name in [n for n, v in clean.lists() if not v]:
        del clean[name]
    return clean


def model_filter(value: str) -> tuple[str, bool]:
    """The model box as (name, contains): a model seen under that name, in any case, is
    matched exactly (the model index serves it, and the totals' rollups can answer); anything
    else is a case-insensitive part of the name, a scan of the rows the other filters leave."""
    value = value.strip()
    same = [m for m in known_values("model") if m.lower() == value.lower()] if value else []
    return (same[0], False) if len(same) == 1 else (value, bool(value))


def known_values(field: str) -> list[str]:
    """The distinct providers or models seen, for the filter dropdowns."""
    key = f"iris:logs:known:{field}"
    values = cache.get(key)
    if values is None:
        values = distinct_values(field)  # a skip scan: DISTINCT read every record (4-6 s at 10M)
        cache.set(key, values, _CHOICES_TTL)
    return values
