"""Reading feedback for log records, and the list's feedback filters.

A record's feedback is every Feedback whose trace_id is the record's trace_id or its
request_id (see feedback/models.py). Each lookup below goes by an index: Feedback's
(trace_id, value), FeedbackLabel's (name, trace_id), RequestLog's trace_id index and its unique
request_id.
"""

import json
from collections.abc import Iterable

from django.db import connection
from django.db.models import (
    BooleanField,
    CharField,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)

from feedback.models import Feedback, FeedbackLabel
from gateway.models import RequestLog

# The filters resolve the matching records' ids first while feedback is this rare: at most
# KEYS_LISTED distinct trace ids, matching at most IDS_LISTED records (a trace shared by many
# requests counts each). Past either, the log is walked newest first (see filter_by_feedback).
KEYS_LISTED = 2_000
IDS_LISTED = 10_000

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


def filter_by_feedback(qs: QuerySet, kind: str = "", label: str = "") -> QuerySet:
    """RequestLog rows narrowed by feedback ("any", "positive", "negative", "none") and label.

    Rare feedback (the usual case: 50,000 feedback at 10M records): its trace ids (up to
    KEYS_LISTED, by Feedback's or FeedbackLabel's index), then the ids of their records (up to
    IDS_LISTED, one seek of RequestLog's trace_id and request_id indexes per trace id), then
    the records by their ids, newest first. (A join or `id IN (subquery)` let PostgreSQL
    misjudge the log's distinct trace ids and hash-join all of it: 10 s at 10M.) Common
    feedback: the log walked newest first, each row tested against the trace ids hashed once,
    a page filling after a few thousand rows. Positive and negative then sum each candidate's
    feedback, both keys together."""
    if not kind and not label:
        return qs
    keys = _keys(label)
    ids = _ids_with(keys)
    if kind == "none" and not label:
        if ids is not None:
            return qs.exclude(id__in=ids)
        if connection.vendor == "postgresql":
            return qs.exclude(_HasFeedback(""))
        return qs.exclude(trace_id__in=keys).exclude(request_id__in=keys)
    if ids is not None:
        qs = qs.filter(id__in=ids)
    elif connection.vendor == "sqlite":  # "+col": SQLite would read every match by index
        qs = qs.alias(_fb_trace=_unindexed("trace_id"), _fb_request=_unindexed("request_id"))
        qs = qs.filter(Q(_fb_trace__in=keys) | Q(_fb_request__in=keys))
    else:
        qs = qs.filter(_HasFeedback(label))
    if kind in ("positive", "negative"):
        sign = {"_fb_net__gt": 0} if kind == "positive" else {"_fb_net__lt": 0}
        qs = qs.alias(_fb_net=_net()).filter(**sign)
    return qs


class _HasFeedback(Func):
    """PostgreSQL: EXISTS a feedback (with this label, if any) naming the row's trace id or
    request id, asked per row of the log walked newest first, by the feedback's trace_id
    index (FeedbackLabel's (name, trace_id) for a label). `IN (subquery)` hashed every
    feedback's trace id twice before the first row (50,000: ~100 ms a page). OFFSET 0 keeps
    PostgreSQL from turning the EXISTS into a join over the whole log."""

    output_field = BooleanField()

    def __init__(self, label: str) -> None:
        super().__init__(F("trace_id"), F("request_id"))
        self.label = label

    def as_sql(self, compiler, connection, **extra) -> tuple[str, list]:
        trace, trace_params = compiler.compile(self.source_expressions[0])
        request, request_params = compiler.compile(self.source_expressions[1])
        keys = f"ARRAY[NULLIF({trace}, ''), {request}]::varchar[]"  # no trace: no key
        if self.label:
            table, named = FeedbackLabel._meta.db_table, "name = %s AND "
        else:
            table, named = Feedback._meta.db_table, ""
        sql = f"EXISTS (SELECT 1 FROM {table} WHERE {named}trace_id = ANY({keys}) OFFSET 0)"
        return sql, [*([self.label] if self.label else []), *trace_params, *request_params]


def _unindexed(column: str) -> Func:
    """The column as `+column`: SQLite then walks the log newest first rather than read every
    match by the column's index and sort them (20,000 feedback at 1M: 230 ms for positive)."""
    return Func(F(column), template="+%(expressions)s", output_field=CharField())


def _keys(label: str) -> QuerySet:
    """The trace ids with any feedback, or with a feedback carrying this label: a values()
    query over one index (not DISTINCT: as `IN (…)` PostgreSQL hashes them once anyway)."""
    found = FeedbackLabel.objects.filter(name=label) if label else Feedback.objects.all()
    return found.exclude(trace_id="").order_by().values("trace_id")


def _ids_with(keys: QuerySet) -> list[int] | None:
    """The ids of the records the trace ids name (as their trace_id or request_id), or None
    past KEYS_LISTED trace ids or IDS_LISTED records: then walking the log costs less."""
    listed = list(keys.values_list("trace_id", flat=True).distinct()[: KEYS_LISTED + 1])
    if len(listed) > KEYS_LISTED:
        return None
    if not listed:
        return []
    log = RequestLog._meta.db_table
    if connection.vendor == "postgresql":
        # LATERAL: one index seek per trace id, whatever the planner guesses of the log.
        sql = f"""SELECT r.id FROM unnest(%s::text[]) AS k(key) CROSS JOIN LATERAL (
            SELECT id FROM {log} WHERE trace_id = k.key
            UNION ALL SELECT id FROM {log} WHERE request_id = k.key) AS r LIMIT %s"""
        params = [listed, IDS_LISTED + 1]
    else:
        keys_json = json.dumps(listed)
        sql = f"""SELECT id FROM {log} WHERE trace_id IN (SELECT value FROM json_each(%s))
            UNION ALL SELECT id FROM {log} WHERE request_id IN (SELECT value FROM json_each(%s))
            LIMIT %s"""
        params = [keys_json, keys_json, IDS_LISTED + 1]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return None if len(rows) > IDS_LISTED else sorted({row[0] for row in rows})


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
