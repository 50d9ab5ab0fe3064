"""The numbers behind /logs/analytics/ and the logs list's totals.

A range is cut into whole buckets (minute, hour or day; the first bucket starts at or before
the range's start, the last ends at or after its end), and each bucket into groups (one
line per provider, model, gateway key or value of a metadata key: the TOP_GROUPS with the
most requests, the rest as "(other)"). The rollups (gateway/rollups.py) answer when they can
(hour or day buckets, and filters on what they keep: analytics_sql.rollup_filters);
otherwise the log itself does. The answer says which ("source"), and so how percentiles
were computed (estimated from histograms, or exact).
"""

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from gateway import logquery, rollups
from gateway.logquery import LogFilter, Totals
from gateway.models import ApiKey, RequestLog
from gateway.pricing import decimal_str
from logs_ui import analytics_log
from logs_ui import analytics_sql as sql
from logs_ui.analytics_sql import OTHER, Cell

BUCKETS = {"minute": 60, "hour": 3600, "day": 86400}
GROUPS = {"": "Nothing", "provider": "Provider", "model": "Model", "key": "Gateway key"}
# Buckets on a chart at most, by bucket: a finer bucket over a longer range is coarsened.
# The cost of a rollup read grows with the rows it sums (hours × combinations of fields).
MAX_POINTS = {"minute": 1500, "hour": 240, "day": 100_000}
TOP_GROUPS = 8
SERIES = (
    "requests",
    "errors",
    "error_rate",
    "latency_p50",
    "latency_p95",
    "ttft_p50",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "cost_unknown",
    "images",
    "output_images",
    "image_bytes",
    "image_bytes_sent",
)


@dataclass
class Plan:
    filter: LogFilter
    bucket: str
    size: int
    offset: int  # the time zone's offset from UTC, in seconds (day buckets only)
    start: int  # epoch seconds, a bucket's start
    end: int  # epoch seconds, exclusive, a bucket's end
    group: str
    meta_key: str = ""
    note: str = ""


def plan(
    f: LogFilter, bucket: str, group: str, meta_key: str = "", now: datetime | None = None
) -> Plan | None:
    """Where the buckets fall for this filter; None when the log has no rows at all."""
    now = now or timezone.now()
    since = f.since or _first_record()
    if since is None:
        return None
    until = min(f.until, now) if f.until else now
    if bucket not in BUCKETS:
        bucket = _auto(until - since)
    note = ""
    while (until - since).total_seconds() / BUCKETS[bucket] > MAX_POINTS[bucket]:
        if bucket == "day":  # nothing coarser: the range itself is cut
            since = until - timedelta(days=MAX_POINTS["day"])
            note = f"Ranges are cut to the last {MAX_POINTS['day']:,} days."
            break
        coarser = "hour" if bucket == "minute" else "day"
        note = f"{bucket.capitalize()}s over this range would be too many points: by {coarser}."
        bucket = coarser
    size = BUCKETS[bucket]
    offset = int(timezone.localtime(now).utcoffset().total_seconds()) if size == 86400 else 0
    start = _floor(int(since.timestamp()), size, offset)
    end = -_floor(-int(until.timestamp()), size, -offset) if until > since else start + size
    end = max(end, start + size)
    group = group if group in GROUPS or (group == "metadata" and meta_key) else ""
    return Plan(f, bucket, size, offset, start, end, group, meta_key if group else "", note)


def _auto(span) -> str:
    hours = span.total_seconds() / 3600
    return "minute" if hours <= 6 else "hour" if hours <= 24 * 7 else "day"


def _floor(t: int, size: int, offset: int) -> int:
    return (t + offset) // size * size - offset


def _first_record() -> datetime | None:
    return RequestLog.objects.order_by("created_at").values_list("created_at", flat=True).first()


def uncounted(start: int | None) -> str:
    """Why the rollups cannot answer for a range from `start` (epoch seconds; None: all time):
    the log has records older than the first hour they count (logged before the upgrade that
    added them, migration 0012), until `manage.py rollup_logs` counts them. "" when they can."""
    first = _first_record()
    begin = sql.rollups_begin()
    if first is None:
        return ""
    if begin is not None and (first.timestamp() >= begin or (start or 0) >= begin):
        return ""
    since = f"before {sql.utc(begin):%Y-%m-%d %H:%M} UTC" if begin is not None else "yet"
    return (
        f"The rollups count no requests {since}, but the log has some from "
        f"{first:%Y-%m-%d %H:%M} UTC: run manage.py rollup_logs once to count them."
    )


def cells(p: Plan, first: bool = False) -> tuple[dict, str, list[str], bool]:
    """{(bucket, group): Cell}, where they came from ("rollups" or "log"), warnings about
    what they leave out, and whether more of the range is there to read. first: read at most
    ANALYTICS_FIRST_LOG_ROWS log rows (the page's first answer; the rest follows)."""
    where = sql.rollup_filters(p.filter)
    hourly = p.size != 60 and p.offset % rollups.HOUR == 0 and p.group != "metadata"
    # By minute, for the last ANALYTICS_MINUTE_ROLLUP_HOURS: a day of them from the log read
    # 166,000 rows at 10M records on PostgreSQL (5-7 s).
    minutely = p.size == 60 and p.group != "metadata" and where is not None
    if where is not None and (hourly or minutely and sql.minutes_cover(p.start)):
        found = sql.from_rollups(where, p.start, p.end, p.size, p.offset, p.group)
        warning = uncounted(p.start) if hourly else ""
        return sql.fold(found, _top(found)), "rollups", [warning] if warning else [], False
    rows = analytics_log.log_rows(p.filter, p.start, p.end)
    most = settings.ANALYTICS_MAX_LOG_ROWS
    cap = min(settings.ANALYTICS_FIRST_LOG_ROWS, most) if first else most
    # At most `cap` records of the range are read, the newest, matching or not: a filter that
    # few match (feedback on 1 in 100) had PostgreSQL walk 2M records to find 20,000.
    floor = analytics_log.newest_records(p.start, p.end, cap)
    if floor is not None:
        rows = rows.filter(id__gt=floor.id)
    keep = None
    if p.group == "metadata":
        keep = analytics_log.top_values(rows, p.meta_key, TOP_GROUPS)  # of the records read
    found, read = analytics_log.read_log(
        rows, p.size, p.offset, p.group, p.meta_key, keep=keep, cap=cap
    )
    warnings = []
    capped = read.capped or floor is not None
    back_to = read.oldest_bucket
    if floor is not None:
        back_to = _floor(int(floor.created_at.timestamp()), p.size, p.offset)
    read_rows = cap if floor is not None else read.rows
    more = capped and cap < most
    if more:
        warnings.append(
            f"The newest {read_rows:,} requests so far, back to the {p.bucket} of"
            f" {sql.utc(back_to):%Y-%m-%d %H:%M} UTC: the rest of the range is being read."
        )
    elif capped:
        warnings.append(
            f"More than {read_rows:,} requests in this range: only the newest {read_rows:,} were"
            f" read (ANALYTICS_MAX_LOG_ROWS), back to the {p.bucket} of"
            f" {sql.utc(back_to):%Y-%m-%d %H:%M} UTC; earlier buckets are missing"
            " requests. Narrow the range or the filters."
        )
    return (found if keep else sql.fold(found, _top(found))), "log", warnings, more


def _top(found: dict) -> set | None:
    """The TOP_GROUPS groups with the most requests, or None when there are no more."""
    count: dict = {}
    for (_, g), cell in found.items():
        count[g] = count.get(g, 0) + cell.requests
    if len(count) <= TOP_GROUPS:
        return None
    ranked = sorted(count, key=lambda g: (-count[g], str(g)))
    return set(ranked[:TOP_GROUPS])


def series(p: Plan, first: bool = False) -> dict:
    """The analytics answer: every bucket's start, and per group each series and its total
    over the range (JSON: costs as decimal strings, durations in ms, null where nothing), and
    warnings about what the numbers leave out. first: see cells; "more" then says whether
    the rest of the range is still to be read."""
    found, source, warnings, more = cells(p, first)
    # From the log, exact unless it read too many rows to keep every value (analytics_log).
    exact = source == "log" and all(cell.exact for cell in found.values())
    times = list(range(p.start, p.end, p.size))
    groups: dict = {}
    for (b, g), cell in found.items():
        groups.setdefault(g, {})[b] = cell
    labels = _labels(p.group, list(groups))
    out_groups = []
    everything = Cell(exact=exact)
    for g in sorted(groups, key=lambda g: (g == OTHER, -_requests(groups[g]), str(g))):
        by_bucket = groups[g]
        total = Cell(exact=exact)
        for cell in by_bucket.values():
            total.add(cell)
        everything.add(total)
        empty = Cell(exact=exact)
        points = [_point(by_bucket.get(t, empty)) for t in times]
        out_groups.append(
            {
                "key": g,
                "name": labels.get(g, str(g)),
                "series": {name: [pt[name] for pt in points] for name in SERIES},
                "total": _point(total),
            }
        )
    return {
        "source": source,
        "percentiles": "exact" if exact else "histogram",
        "bucket": p.bucket,
        "bucket_seconds": p.size,
        "start": p.start,
        "end": p.end,
        "group": p.group,
        "metadata_key": p.meta_key,
        "note": p.note,
        "warnings": warnings,
        "more": more,
        "times": times,
        "groups": out_groups,
        "total": _point(everything),
    }


def _requests(by_bucket: dict) -> int:
    return sum(c.requests for c in by_bucket.values())


def _point(c: Cell) -> dict:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "requests": c.requests,
        "errors": c.errors,
        "error_rate": round(c.errors / c.requests, 6) if c.requests else None,
        "latency_p50": ms(c.percentile("latency", 0.5)),
        "latency_p95": ms(c.percentile("latency", 0.95)),
        "ttft_p50": ms(c.percentile("ttft", 0.5)),
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        # The known costs summed: "0" with no requests, null when none of them has a price.
        "cost_usd": decimal_str(c.cost) if c.cost_known or not c.requests else None,
        "cost_unknown": c.requests - c.cost_known,
        "images": c.images,
        "output_images": c.output_images,
        "image_bytes": c.image_bytes,
        "image_bytes_sent": c.image_bytes_sent,
    }


def _labels(group: str, keys: list) -> dict:
    if group == "key":
        ids = [k for k in keys if isinstance(k, int) and k]
        names = dict(ApiKey.objects.filter(pk__in=ids).values_list("pk", "name"))
        labels = {k: names.get(k, f"deleted key #{k}") for k in ids}
        return labels | {0: "(no key)"}
    if group in ("provider", "model"):
        return {"": "(none)"}
    if group == "":
        return {"": "All requests"}
    return {}


def totals(f: LogFilter) -> Totals:
    """The logs list's totals: from the rollups for the whole hours of the range and from the
    log for the part-hours at its ends, or from the log alone when rollups cannot answer."""
    f = replace(f, skip_estimates=True)
    where = sql.rollup_filters(f)
    if where is None:
        return logquery.totals(f)
    first = math.ceil(f.since.timestamp() / rollups.HOUR) * rollups.HOUR if f.since else None
    last = math.floor(f.until.timestamp() / rollups.HOUR) * rollups.HOUR if f.until else None
    if first is not None and last is not None and first >= last:
        return logquery.totals(f)  # within one hour
    if uncounted(first):  # records the rollups miss (see uncounted): the log alone
        return logquery.totals(f)
    found = sql.rollup_sums(where, first, last)
    requests, known = found["requests"], found["cost_known"]
    cost = Decimal(found["cost_e10"]).scaleb(-10)
    edges = []
    if first is not None and f.since < sql.utc(first):
        edges.append((f.since, sql.utc(first)))
    if last is not None and sql.utc(last) < f.until:
        edges.append((sql.utc(last), f.until))
    capped = False
    for a, b in edges:  # the part-hours at the ends: few rows, read from the log
        edge = logquery.totals(replace(f, since=a, until=b))
        requests, known = requests + edge.requests, known + edge.known
        cost += edge.cost_usd or 0
        # A part-hour past LOG_TOTALS_MAX_ROWS, or totalled over the newest records only:
        # "more than", never exact.
        capped |= edge.capped or bool(edge.scanned)
    return Totals(requests, cost if known else None, requests - known, capped)
