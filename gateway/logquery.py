"""Which requests of the log a filter selects (filter_logs) and what they come to (totals),
shared by the logs API and UI. Pages and cursors: gateway/logquery_pages.py; one record as the
API and UI show it: gateway/logrecord.py."""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Count, F, Func, Max, Min, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL

from feedback.query import filter_by_feedback
from gateway.models import LogImage, RequestLog

STATUS_CLASSES = {"2xx": (200, 299), "4xx": (400, 499), "5xx": (500, 599)}
ESTIMATE = "estimate"  # the endpoint of /v1/estimate's records
# How a list can be ordered: newest first (""), or by cost, cheapest or dearest first; by
# cost, the requests whose cost is unknown come last, newest first.
SORTS = {"": "Newest first", "-cost": "Cost: highest first", "cost": "Cost: lowest first"}
# What a config did to a request (gateway/configs/): the `routing` filter's values.
ROUTING = {
    "retried": "Retried",
    "fell_back": "Fell back",
    "cached": "Cache hit",
    "config": "Any config",
}
TRIGRAM = 3  # the shortest search an index serves (a trigram)
_FTS = "gateway_requestlog_fts"  # SQLite (migration 0016): FTS5 over search_text
_METADATA = "gateway_logmetadata"  # SQLite (migration 0016): (key, value, log_id)
RARE_ROWS = 5_000  # see _by_index_if_rare and _joined
MODEL_NAMES_WALKED = 1000  # a model "contains" filter looks through at most this many names
_LOOSE_SCAN = """WITH RECURSIVE names(name) AS (
    SELECT MIN(model) FROM gateway_requestlog
    UNION ALL
    SELECT (SELECT MIN(model) FROM gateway_requestlog WHERE model > names.name)
    FROM names WHERE names.name IS NOT NULL
) SELECT name FROM names LIMIT %s"""


@dataclass
class LogFilter:
    provider: str = ""
    model: str = ""
    # `model` is a case-insensitive part of the name (the list's filter box): a scan of the
    # rows the other filters leave, no index serves it (the list asks it only of unknown names).
    model_contains: bool = False
    status: str = ""  # "200", "2xx", "4xx", "5xx" or "error"
    trace_id: str = ""
    request_id: str = ""
    # Feedback (feedback/query.py): "any", "positive", "negative" or "none"; a feedback label.
    feedback: str = ""
    label: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None
    has_images: bool | None = None  # images sent
    has_output_images: bool | None = None  # images made
    endpoint: str = ""  # "chat.completions", "images.generations", …, "estimate"
    # Leave out /v1/estimate's records (no usage, no cost: they would count as requests of
    # unknown cost and skew latency) unless the endpoint filter asks for them: analytics, totals.
    skip_estimates: bool = False
    search: str = ""
    image_sha256: str = ""  # only requests that sent this image
    prompt: str = ""  # only requests made through this saved prompt
    cost_min: Decimal | None = None  # USD; a cost bound leaves out the unknown costs
    cost_max: Decimal | None = None
    cost_unknown: bool | None = None  # True: only requests whose cost is unknown; False: known
    routing: str = ""  # a key of ROUTING
    config: str = ""  # only requests routed by this config: its id, or "inline"
    sort: str = ""  # a key of SORTS
    before: int | None = None  # keyset cursor: only ids below this (by cost: see page_of)
    before_cost: Decimal | None = None  # by cost: the cost of the cursor's row
    before_at: datetime | None = None  # in a time window: the created_at of the cursor's row
    after: int | None = None  # live tail: only ids above this


def filter_logs(
    f: LogFilter,
    queryset: QuerySet | None = None,
    *,
    every_match: bool = False,
    by_time: bool = False,
    ordered: bool = False,
) -> QuerySet:
    """The rows the filter selects, newest first, past the id cursors (the sort and the cost
    cursor are page_of's). every_match: for an aggregate of all of them (the totals), where
    SQLite's search and metadata ids are read whole rather than probed row by row. by_time:
    the window a plain range, for page_of's order by (created_at, id) (see _in_window).
    ordered (and by_time): the page's order has an index of its own (cost_usd's, created_at's)."""
    qs = RequestLog.objects.all() if queryset is None else queryset
    # Ordered by time or cost, SQLite (no statistics) would read a common provider's rows by
    # its index and sort them all (500,000 at 1M) rather than walk the order's index (created_at,
    # cost_usd): the filter's index is used only when it finds few rows.
    plain: Callable[..., QuerySet] = lambda qs, **lookups: qs.filter(**lookups)  # noqa: E731
    common = _by_index_if_rare if by_time or ordered else plain
    if f.provider:  # by cost: the (provider, cost_usd, id) index serves it (migration 0019)
        qs = qs.filter(provider=f.provider) if ordered else common(qs, provider__exact=f.provider)
    if f.model:
        exact = f.model_contains is False
        qs = common(qs, model__exact=f.model) if exact else _model_containing(qs, f.model)
    if f.status in STATUS_CLASSES:
        low, high = STATUS_CLASSES[f.status]
        qs = _by_index_if_rare(qs, status_code__gte=low, status_code__lte=high)
    elif f.status == "error":
        qs = qs.filter(Q(status_code__gte=400) | ~Q(error_type=""))
    elif f.status.isdigit():
        qs = qs.filter(status_code=int(f.status))
    if f.trace_id:
        qs = qs.filter(trace_id=f.trace_id)
    if f.request_id:
        qs = qs.filter(request_id=f.request_id)
    if f.feedback or f.label:
        qs = filter_by_feedback(qs, f.feedback, f.label)
    for key, value in f.metadata.items():
        qs = _with_metadata(qs, key, value, every_match)
    if f.since or f.until:
        window = {"created_at__gte": f.since, "created_at__lt": f.until}
        window = {k: v for k, v in window.items() if v is not None}
        qs = qs.filter(**window) if by_time else _by_index_if_rare(qs, **window)
    if f.has_images is not None:
        qs = qs.filter(image_count__gt=0) if f.has_images else qs.filter(image_count=0)
    if f.has_output_images is not None:
        made = Q(output_image_count__gt=0)
        qs = qs.filter(made if f.has_output_images else ~made)
    if f.endpoint:
        qs = common(qs, endpoint__exact=f.endpoint)
    elif f.skip_estimates:
        qs = qs.exclude(endpoint=ESTIMATE)
    if f.search:
        qs = _searched(qs, f.search, every_match)
    if f.prompt:
        qs = qs.filter(prompt=f.prompt)
    if f.image_sha256:
        uses = LogImage.objects.filter(blob_id=f.image_sha256).values("log_id")
        qs = qs.filter(id__in=uses)
    if f.cost_min is not None:
        qs = qs.filter(cost_usd__gte=f.cost_min)
    if f.cost_max is not None:
        qs = qs.filter(cost_usd__lte=f.cost_max)
    if f.cost_unknown is not None:
        qs = qs.filter(cost_usd__isnull=f.cost_unknown)
    if f.routing == "config":  # routed by a config: config_id's index serves "> ''"
        qs = _by_index_if_rare(qs, config_id__gt="")
    elif f.routing:
        qs = qs.filter(_routed(f.routing))
    if f.config:
        qs = qs.filter(config_id=f.config)
    if f.before:
        qs = qs.filter(id__lt=f.before)
    if f.after:
        qs = qs.filter(id__gt=f.after)
    return qs.order_by("-id")


def _by_index_if_rare(qs: QuerySet, **lookups: object) -> QuerySet:
    """A range test on one indexed column, for SQLite's planner, which has no statistics: it
    would walk the column's index and sort every match (status 2xx: 930,000 of 1M), or walk
    the log newest first past every miss (the last 15 minutes of an idle day: all of it).
    So the matches are counted by the index up to RARE_ROWS: fewer, and they are read by it
    (their ids); more, and the log is walked newest first with the index out of the way, a
    page filling fast. PostgreSQL plans these well by its statistics."""
    if connection.vendor != "sqlite":
        return qs.filter(**lookups)
    matching = RequestLog.objects.filter(**lookups).order_by().values("id")
    if matching[:RARE_ROWS].count() < RARE_ROWS:
        return qs.filter(id__in=matching)
    column = next(iter(lookups)).split("__")[0]
    field = RequestLog._meta.get_field(column)
    unindexed = Func(F(column), template="+%(expressions)s", output_field=field)  # "+col"
    alias = f"_unindexed_{column}"
    return qs.alias(**{alias: unindexed}).filter(
        **{alias + "__" + key.split("__", 1)[1]: value for key, value in lookups.items()}
    )


def _model_containing(qs: QuerySet, part: str) -> QuerySet:
    """Records whose model name holds `part` in any case: the few distinct names that do,
    then the model index (a scan of the log tested every row: 1M rows when nothing matched)."""
    names = _model_names()
    if names is None:  # too many names to walk one by one: the scan
        return qs.filter(model__icontains=part)
    return _by_index_if_rare(qs, model__in=[n for n in names if part.casefold() in n.casefold()])


def _model_names() -> list[str] | None:
    """Every distinct model name, each found by one seek of the model index (a loose index
    scan), or None past MODEL_NAMES_WALKED of them."""
    with connection.cursor() as cursor:
        cursor.execute(_LOOSE_SCAN, [MODEL_NAMES_WALKED + 1])
        names = [name for (name,) in cursor.fetchall() if name is not None]
    return None if len(names) > MODEL_NAMES_WALKED else names


def _searched(qs: QuerySet, text: str, every_match: bool = False) -> QuerySet:
    """Records whose search_text holds `text`, case-insensitively. By index from 3 characters
    (PostgreSQL: pg_trgm, migration 0006; SQLite: FTS5's trigram tokenizer, 0016, the text
    one quoted phrase, so that quotes, AND, * or NEAR mean themselves). 1-2 characters make
    no trigram: a scan, bounded to the newest LOG_SEARCH_SHORT_ROWS records."""
    if len(text) < TRIGRAM:
        newest = RawSQL(
            "SELECT MAX(id) - %s FROM gateway_requestlog", [settings.LOG_SEARCH_SHORT_ROWS]
        )
        return qs.filter(search_text__icontains=text, id__gt=newest)
    if connection.vendor != "sqlite":
        return qs.filter(search_text__icontains=text)
    phrase = '"' + text.replace('"', '""') + '"'
    ids = f"SELECT rowid FROM {_FTS} WHERE {_FTS} MATCH %s"
    if text.isascii() and not every_match and not _rare(ids, [phrase]):
        # A common word: LIKE (ASCII case-insensitive, the same matches as the trigram index's
        # for ASCII) on the log walked newest first fills a page sooner than FTS5 probed per
        # row (q=invoice at 1M: 275 ms of CPU) or its ids read first (83,000 ids: ~130 ms).
        return qs.filter(search_text__icontains=text)
    return qs.filter(id__in=RawSQL(ids, [phrase]))


def _with_metadata(qs: QuerySet, key: str, value: str, every_match: bool = False) -> QuerySet:
    """Records whose metadata has `key` (one literal key, never a path) set to the string
    `value`. PostgreSQL: jsonb containment, by the GIN index of migration 0003. SQLite: the
    (key, value, log) table that migration 0016's triggers keep, walked by its primary key."""
    if connection.vendor == "postgresql":
        return qs.filter(metadata__contains={key: value})  # values are always strings
    found = f"SELECT log_id FROM {_METADATA} WHERE key = %s AND value = %s"
    if every_match:  # the totals: reading the ids costs less than probing every record
        return qs.filter(id__in=RawSQL(found, [key, value]))
    return _joined(qs, found, "log_id", [key, value])


def _joined(qs: QuerySet, ids: str, column: str, params: list) -> QuerySet:
    """Records whose id the side table's query `ids` finds. Few (under RARE_ROWS): their ids,
    newest first, each record read by its key. Many (a common word, app=ocr): reading them
    all costs more than walking the log newest first and asking the side table of each row,
    which fills a page after a few dozen rows."""
    if _rare(ids, params):
        return qs.filter(id__in=RawSQL(ids, params))
    return qs.filter(_Probe(ids, column, params))


def _rare(ids: str, params: list) -> bool:
    """Whether the side table's query finds fewer than RARE_ROWS records (counted up to that)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({ids} LIMIT %s)", [*params, RARE_ROWS])
        return cursor.fetchone()[0] < RARE_ROWS


class _Probe(Func):
    """EXISTS (ids AND column = the row's id): the row's id compiled as Django names it, so
    that the test holds inside a subquery too (an export's images: `id__in=logs`)."""

    output_field = BooleanField()

    def __init__(self, ids: str, column: str, params: list) -> None:
        super().__init__(F("id"))
        self.ids, self.column, self.params = ids, column, params

    def as_sql(self, compiler, connection, **extra) -> tuple[str, list]:
        outer, outer_params = compiler.compile(self.source_expressions[0])
        return f"EXISTS ({self.ids} AND {self.column} = {outer})", [*self.params, *outer_params]


def _routed(routing: str) -> Q:
    if routing == "retried":
        return Q(retried=True)
    if routing == "fell_back":
        return Q(fell_back=True)
    if routing == "cached":
        return Q(cache_status="HIT")
    if routing == "config":
        return ~Q(config_id="")
    raise ValueError(f"routing is one of {', '.join(ROUTING)}.")


@dataclass
class Totals:
    requests: int
    cost_usd: Decimal | None  # the known costs summed; None when no cost is known
    cost_unknown: int  # requests whose cost is unknown
    # More than LOG_TOTALS_MAX_ROWS matched: the figures are those of the newest that many.
    capped: bool = False
    # The matches among the newest `scanned` records only (0: all were looked at), logged
    # since `scanned_since`: finding more would have meant walking far back (see totals).
    scanned: int = 0
    scanned_since: datetime | None = None

    @property
    def known(self) -> int:
        return self.requests - self.cost_unknown


def totals(f: LogFilter, scan: int | None = None) -> Totals:
    """What the requests the filter selects (all pages) cost, in one aggregate query over
    the newest LOG_TOTALS_MAX_ROWS of them at most: counting every match read the whole log
    (metadata app=ocr at 10M on PostgreSQL: 12.9 s). One more is read to tell "more".

    Reaching that many can itself mean walking far back when matches are sparse but not rare
    (PostgreSQL walks the log newest first for a word in 1 record of 12, or feedback on 1 in
    100: 117,000 and 1,050,000 rows, 0.4 and 4 s at 10M). So the newest `scan` records
    (LOG_TOTALS_SCAN_ROWS on PostgreSQL) are looked at first: if their matches, spread over
    the whole log at that rate, would pass the cap, the totals are theirs and say so
    (Totals.scanned); otherwise (few or no matches there) the whole log is asked as before."""
    unbounded = replace(f, since=None, until=None, before=None, before_cost=None, after=None)
    qs = filter_logs(unbounded, every_match=True)
    if f.since or f.until:
        qs = qs.filter(in_window(f.since, f.until))
    cap = settings.LOG_TOTALS_MAX_ROWS
    scan = _scan_rows() if scan is None else scan
    bounds = RequestLog.objects.aggregate(low=Min("id"), high=Max("id")) if scan > 0 else {}
    low, high = bounds.get("low"), bounds.get("high")
    if low is not None and high - low >= scan:
        floor = high - scan  # the newest `scan` ids (fewer records where ids were skipped)
        newest = _capped_sums(qs.filter(id__gt=floor), cap)
        if newest.capped:
            return newest
        first = RequestLog.objects.filter(id__gt=floor).order_by("id")
        since = first.values_list("created_at", flat=True).first()
        expected = newest.requests * (high - low) / scan
        window_inside = f.since is not None and since is not None and f.since >= since
        if newest.requests and expected > cap and not window_inside:
            return replace(newest, scanned=scan, scanned_since=since)
    return _capped_sums(qs, cap)


def _scan_rows() -> int:
    """LOG_TOTALS_SCAN_ROWS where the totals walk the log (PostgreSQL); SQLite reads a
    search's or metadata's matching ids whole instead (every_match), within its targets."""
    return settings.LOG_TOTALS_SCAN_ROWS if connection.vendor == "postgresql" else 0


def _capped_sums(qs: QuerySet, cap: int) -> Totals:
    """Count and cost of the newest `cap` rows of qs, reading one more to tell "more"."""
    found = qs.order_by("-id")[: cap + 1].aggregate(
        requests=Count("id"),
        cost=Sum("cost_usd"),
        unknown=Count("id", filter=Q(cost_usd__isnull=True)),
        oldest=Min("id"),
    )
    requests, cost, unknown = found["requests"], found["cost"], found["unknown"]
    if requests <= cap:
        return Totals(requests, cost, unknown)
    # The one past the cap is the oldest read: its cost is taken back out of the sums.
    oldest = RequestLog.objects.filter(id=found["oldest"]).values_list("cost_usd", flat=True)
    extra = next(iter(oldest[:1]), None)  # purged meanwhile: taken out as an unknown cost
    if extra is None:
        unknown -= 1
    else:
        cost -= extra
    return Totals(cap, cost if cap > unknown else None, unknown, capped=True)


def in_window(since: datetime | None, until: datetime | None, field: str = "pk") -> Q:
    """Rows created in [since, until) (field: "pk" for RequestLog, "log_id" for LogImage).
    SQLite, without statistics, would rather walk another filter's index (provider=openai:
    half the log) than created_at's: there the window is a subquery of ids from created_at's
    index. PostgreSQL plans the plain range well, and a subquery worse (a nested loop)."""
    prefix = "" if field == "pk" else "log__"
    if connection.vendor != "sqlite":
        q = Q()
        if since:
            q &= Q(**{f"{prefix}created_at__gte": since})
        if until:
            q &= Q(**{f"{prefix}created_at__lt": until})
        return q
    ids = RequestLog.objects.all()
    if since:
        ids = ids.filter(created_at__gte=since)
    if until:
        ids = ids.filter(created_at__lt=until)
    return Q(**{f"{field}__in": ids.values("pk")})


def decimal_or_none(text: str | None) -> Decimal | None:
    """A USD amount from a query string; ValueError if it is not a plain non-negative number."""
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"“{text[:40]}” is not an amount in USD.") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"“{text[:40]}” is not an amount in USD.")
    return value
