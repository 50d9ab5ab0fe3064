"""Reading feedback for log records, and the list's feedback filters.

A record's feedback is every Feedback whose trace_id is the record's trace_id or its
request_id (see feedback/models.py). Each lookup below goes by an index: Feedback's
(trace_id, value), FeedbackLabel's (name, trace_id), RequestLog's trace_id index and its unique
request_id.
"""

from collections.abc import Iterable

from django.db.models import F, FloatField, OuterRef, Q, QuerySet, Subquery, Sum, Value

from feedback.models import Feedback, FeedbackLabel
from gateway.models import RequestLog

# The list's `feedback` filter: its values and what they show.
FEEDBACK_FILTERS = {
    "any": "Has feedback",
    "positive": "Positive",
    "negative": "Negative",
    "none": "No feedback",
}


def keys_of(log: RequestLog) -> list[str]:
    """The trace ids a feedback may name to reach this record."""
    return [k for k in (log.trace_id, log.request_id) if k]


def for_log(log: RequestLog) -> QuerySet:
    """The record's feedback, oldest first."""
    return Feedback.objects.filter(trace_id__in=keys_of(log)).select_related("api_key")


def for_logs(logs: Iterable[RequestLog]) -> dict[int, list[Feedback]]:
    """Each record's feedback (by RequestLog id), in one query: for exports and pages of the
    list. Records without feedback are absent."""
    logs = list(logs)
    by_key: dict[str, list[int]] = {}
    for log in logs:
        for key in keys_of(log):
            by_key.setdefault(key, []).append(log.id)
    out: dict[int, list[Feedback]] = {}
    if not by_key:
        return out
    for fb in Feedback.objects.filter(trace_id__in=list(by_key)).order_by("created_at"):
        for log_id in by_key[fb.trace_id]:
            out.setdefault(log_id, []).append(fb)
    return out


def score(feedback: Iterable[Feedback]) -> float:
    """Σ value × weight: above 0 is "positive", below "negative"."""
    return sum(fb.value * fb.weight for fb in feedback)


def as_dict(fb: Feedback) -> dict:
    """A feedback as the API and exports write it."""
    return {
        "id": str(fb.id),
        "trace_id": fb.trace_id,
        "value": fb.value,
        "weight": fb.weight,
        "metadata": fb.metadata,
        "labels": fb.labels,
        "comment": fb.comment,
        "source": fb.source,
        "user": fb.user_name or None,
        "created_at": fb.created_at.isoformat(),
        "updated_at": fb.updated_at.isoformat(),
    }


def _traces(label: str) -> QuerySet:
    """The trace ids with any feedback, or with a feedback carrying this label: a values()
    subquery over one index."""
    if label:
        return FeedbackLabel.objects.filter(name=label).values("trace_id")
    return Feedback.objects.values("trace_id")


def _net() -> Subquery:
    """Σ value × weight of the outer record's feedback (by its trace id and its request id),
    per row by the (trace_id, value) index."""
    mine = Q(trace_id=OuterRef("trace_id")) | Q(trace_id=OuterRef("request_id"))
    total = (
        Feedback.objects.filter(mine)
        .order_by()
        .annotate(one=Value(1))
        .values("one")
        .annotate(net=Sum(F("value") * F("weight")))
        .values("net")
    )
    return Subquery(total, output_field=FloatField())


def filter_by_feedback(qs: QuerySet, kind: str = "", label: str = "") -> QuerySet:
    """RequestLog rows narrowed by feedback ("any", "positive", "negative", "none") and label.

    The candidates are the ids of the rows with feedback (with the label), each half of the
    join by its own index (trace_id's, request_id's unique one): the cost follows the feedback,
    not the log. (An OR of the two IN tests makes PostgreSQL walk the log newest first testing
    each row: slow when feedback is rare.) Positive and negative then sum each candidate's
    feedback, both keys together."""
    if not kind and not label:
        return qs
    if kind == "none" and not label:
        keys = Feedback.objects.values("trace_id")
        return qs.exclude(trace_id__in=keys).exclude(request_id__in=keys)
    traces = _traces(label)
    by_trace = RequestLog.objects.filter(trace_id__in=traces).values("id")
    by_request = RequestLog.objects.filter(request_id__in=traces).values("id")
    qs = qs.filter(id__in=by_trace.union(by_request))
    if kind in ("positive", "negative"):
        sign = {"_fb_net__gt": 0} if kind == "positive" else {"_fb_net__lt": 0}
        qs = qs.alias(_fb_net=_net()).filter(**sign)
    return qs
