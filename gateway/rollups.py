"""Rollups of the request log by minute, hour and day, for the analytics page (logs_ui/).

Rows of gateway.models.Rollup: one per span (a UTC minute, hour and day) and per (provider,
model, gateway key, endpoint, status class, failed, images sent or not, images made or not):
the requests, tokens, cost, images and image bytes summed, and a histogram of latency and one
of time to first token (gateway/percentiles.py). Days are kept beside hours because reading
costs per row: a month by day reads ~30 times fewer rows than by hour. Minutes are kept for
the last settings.ANALYTICS_MINUTE_ROLLUP_HOURS only (a day by minute read from the log at 10M
records on PostgreSQL: 5-7 s): older minute rows are deleted by the writer once an hour.

What a rollup can answer: any sum or count over whole hours (days), filtered or grouped by
those fields; percentiles only as histogram estimates. What it cannot: exact percentiles,
other filters (search, trace, metadata, an exact status code, an image, a saved prompt, a
cost range), minute buckets older than the minutes kept, grouping by metadata: the analytics
page reads the log itself for those.

The log writer calls add() in the transaction that inserts the rows, so the rollups never
disagree with the log: a record is counted once, when it is written (records are never
updated afterwards). rebuild() recomputes hours from the log (after a bulk load, or to
repair), purge() follows the log's retention.
"""

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection, models, transaction

from gateway import percentiles
from gateway.models import (
    ROLLUP_KEY,
    ROLLUP_LATENCY,
    ROLLUP_SUMS,
    ROLLUP_TTFT,
    Blob,
    LogImage,
    RequestLog,
    Rollup,
)

log = logging.getLogger(__name__)

MINUTE = 60
HOUR = 3600
DAY = 86400
SPANS = (MINUTE, HOUR, DAY)
COST_SCALE = 10**10  # RequestLog.cost_usd has 10 decimal places: sums stay exact integers
INPUT_ROLES = ("input", "mask")
KEY_FIELDS = ROLLUP_KEY
SUM_FIELDS = ROLLUP_SUMS
LATENCY = ROLLUP_LATENCY
TTFT = ROLLUP_TTFT


@dataclass(slots=True)  # not frozen: its __init__ then costs 4 µs a record, not 1.5
class Fact:
    """What one logged request adds to the rollups."""

    created_at: datetime
    provider: str
    model: str
    key_id: int | None
    endpoint: str
    status_code: int
    error_type: str
    image_count: int
    output_image_count: int
    latency_ms: float | None
    ttft_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: Decimal | None
    image_bytes: int = 0
    image_bytes_sent: int = 0


def key_of(fact: Fact, span: int = HOUR) -> tuple:
    code = fact.status_code
    return (
        span,
        int(fact.created_at.timestamp()) // span * span,
        fact.provider,
        fact.model,
        fact.key_id or 0,
        fact.endpoint,
        code // 100 if code >= 100 else 0,
        code >= 400 or bool(fact.error_type),
        fact.image_count > 0,
        fact.output_image_count > 0,
    )


def aggregate(facts: Iterable[Fact], minutes_since: int | None = None) -> dict[tuple, list[int]]:
    """Per rollup key, the sums (SUM_FIELDS), then the latency and TTFT bins: each fact counts
    in its minute (if that starts at or after `minutes_since`, epoch seconds; None: always),
    its hour and its day. Facts are counted once, by minute; hours and days sum those rows
    (a batch's facts share a few minutes: the sums cost per key, not per fact)."""
    minutes: dict[tuple, list[int]] = {}
    width = len(SUM_FIELDS)
    for f in facts:
        row = minutes.setdefault(key_of(f, MINUTE), [0] * (width + 2 * percentiles.BINS))
        _count(row, f, width)
    hours = _coarser(minutes, HOUR)
    kept = (
        minutes
        if minutes_since is None
        else {k: v for k, v in minutes.items() if k[1] >= minutes_since}
    )
    return kept | hours | _coarser(hours, DAY)


def _coarser(rows: dict[tuple, list[int]], span: int) -> dict[tuple, list[int]]:
    """The rows summed into spans of `span` seconds (an hour of its minutes, a day of hours)."""
    out: dict[tuple, list[int]] = {}
    for key, row in rows.items():
        wider = (span, key[1] // span * span, *key[2:])
        found = out.get(wider)
        out[wider] = [*row] if found is None else [a + b for a, b in zip(found, row, strict=True)]
    return out


def minutes_kept_since(now: float | None = None) -> int | None:
    """The first minute whose rollup rows are kept (epoch seconds), or None for none kept."""
    hours = settings.ANALYTICS_MINUTE_ROLLUP_HOURS
    if hours <= 0:
        return None
    return (int(now or time.time()) - hours * HOUR) // MINUTE * MINUTE


def _count(row: list[int], f: Fact, width: int) -> None:
    row[0] += 1
    row[1] += f.prompt_tokens or 0
    row[2] += f.completion_tokens or 0
    if f.cost_usd is not None:
        row[3] += int(f.cost_usd * COST_SCALE)
        row[4] += 1
    row[5] += f.image_count
    row[6] += f.output_image_count
    row[7] += f.image_bytes
    row[8] += f.image_bytes_sent
    if f.latency_ms is not None:
        row[width + percentiles.bin_of(f.latency_ms)] += 1
    if f.ttft_ms is not None:
        row[width + percentiles.BINS + percentiles.bin_of(f.ttft_ms)] += 1


UPSERT_ROWS = 200  # rows per statement


def _upsert_sql(counts: list[list[int]]) -> str:
    """One INSERT … ON CONFLICT DO UPDATE for these rows: their keys as parameters, their
    counts written in (whole numbers, int() each: ~100 a row and most of them 0; as
    parameters, PostgreSQL's driver took longer to bind them than the server to add them)."""
    head, keys, tail = _upsert_parts(connection.vendor)
    values = ", ".join(f"({keys}, {', '.join(str(int(n)) for n in row)})" for row in counts)
    return f"{head}{values}{tail}"


_UPSERT_PARTS: dict[str, tuple[str, str, str]] = {}


def _upsert_parts(vendor: str) -> tuple[str, str, str]:
    """The statement around its VALUES, quoted once per database kind: built for every
    batch, its ~100 quoted columns were a fifth of a small batch's rollup cost."""
    found = _UPSERT_PARTS.get(vendor)
    if found is None:
        q = connection.ops.quote_name
        table = q(Rollup._meta.db_table)
        columns = KEY_FIELDS + SUM_FIELDS + LATENCY + TTFT
        added = ", ".join(
            f"{q(c)} = {table}.{q(c)} + EXCLUDED.{q(c)}" for c in columns[len(KEY_FIELDS) :]
        )
        # ON CONFLICT … DO UPDATE: PostgreSQL 9.5+ and SQLite 3.24+ alike.
        found = _UPSERT_PARTS[vendor] = (
            f"INSERT INTO {table} ({', '.join(q(c) for c in columns)}) VALUES ",
            ", ".join(["%s"] * len(KEY_FIELDS)),
            f" ON CONFLICT ({', '.join(q(c) for c in KEY_FIELDS)}) DO UPDATE SET {added}",
        )
    return found


def upsert(sums: dict[tuple, list[int]]) -> None:
    """Add these sums to the rollups: many rows per statement, keys in order (two writers
    lock rows in the same order, so they wait for each other instead of deadlocking)."""
    rows = sorted(sums.items())
    with connection.cursor() as cursor:
        for start in range(0, len(rows), UPSERT_ROWS):
            chunk = rows[start : start + UPSERT_ROWS]
            sql = _upsert_sql([counts for _, counts in chunk])
            cursor.execute(sql, [v for key, _ in chunk for v in key])


def add(logs: Sequence, images: Sequence = (), sizes: dict[str, int] | None = None) -> None:
    """The log writer's hook: count these RequestLog rows, just inserted (with their LogImage
    rows), in the same transaction. `sizes`: the bytes of blobs the writer knows (the rest
    are read from their Blob rows). A failure costs the rollup of this batch (logged, and
    repaired by `manage.py rollup_logs`), never the rows: it runs in a savepoint."""
    if not logs:
        return
    since = minutes_kept_since()
    try:
        with transaction.atomic():
            upsert(_with_minutes(aggregate(facts_of(logs, images, sizes), since), since))
            _drop_old_minutes(since)
    except Exception:
        log.exception("analytics rollups not updated for %d log records", len(logs))


def _with_minutes(sums: dict[tuple, list[int]], since: int | None) -> dict[tuple, list[int]]:
    """Without minute rows when none are kept (ANALYTICS_MINUTE_ROLLUP_HOURS = 0)."""
    return sums if since is not None else {k: v for k, v in sums.items() if k[0] != MINUTE}


_minutes_dropped_in = [-1]  # the hour this process last deleted expired minute rows in


def _drop_old_minutes(since: int | None) -> None:
    """Delete the minute rows older than those kept: once an hour per process, a few thousand
    rows by the rollup key's (span, start) prefix, so the minutes stay bounded by time."""
    hour = int(time.time()) // HOUR
    if _minutes_dropped_in[0] == hour:
        return
    kept = Rollup.objects.filter(span=MINUTE)
    (kept if since is None else kept.filter(start__lt=since)).delete()
    _minutes_dropped_in[0] = hour


def facts_of(logs: Sequence, images: Sequence, known: dict[str, int] | None = None) -> list[Fact]:
    """Facts of saved RequestLog rows; image bytes from their LogImage rows' blobs (`known`:
    sizes by SHA-256 already at hand, not asked of the database)."""
    shas = {i.blob_id for i in images if i.blob_id} | {
        i.sent_blob_id for i in images if getattr(i, "sent_blob_id", None)
    }
    sizes = {sha: known[sha] for sha in shas if sha in known} if known else {}
    if missing := shas - sizes.keys():
        sizes |= dict(Blob.objects.filter(pk__in=missing).values_list("sha256", "size"))
    sent: dict[int, list[int]] = {}
    for image in images:
        if image.role in INPUT_ROLES and image.blob_id:
            got = sent.setdefault(image.log_id, [0, 0])
            got[0] += sizes.get(image.blob_id, 0)
            got[1] += sizes.get(getattr(image, "sent_blob_id", None) or image.blob_id, 0)
    return [_fact(row, *sent.get(row.pk, (0, 0))) for row in logs]


def _fact(row, image_bytes: int, image_bytes_sent: int) -> Fact:
    return Fact(
        created_at=row.created_at,
        provider=row.provider,
        model=row.model,
        key_id=row.api_key_id,
        endpoint=row.endpoint,
        status_code=row.status_code,
        error_type=row.error_type,
        image_count=row.image_count,
        output_image_count=row.output_image_count,
        latency_ms=row.latency_ms,
        ttft_ms=row.ttft_ms,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cost_usd=row.cost_usd,
        image_bytes=image_bytes,
        image_bytes_sent=image_bytes_sent,
    )


FACT_FIELDS = (
    "id",
    "created_at",
    "provider",
    "model",
    "api_key_id",
    "endpoint",
    "status_code",
    "error_type",
    "image_count",
    "output_image_count",
    "latency_ms",
    "ttft_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
)


def rebuild(since: datetime | None = None, until: datetime | None = None, chunk=5000) -> int:
    """Recompute the rollups of the whole days from `since` to `until` (all, by default)
    from the log; returns the records counted. Each chunk of ids is one transaction, so a
    long rebuild does not hold the writer back (but rows it writes meanwhile into those
    days would count twice: rebuild past days, or a quiet log)."""
    start = int(since.timestamp()) // DAY * DAY if since else None
    end = -(-int(until.timestamp()) // DAY) * DAY if until else None
    rows = RequestLog.objects.only(*FACT_FIELDS).order_by("id")
    old = Rollup.objects.all()
    if start is not None:
        rows, old = rows.filter(created_at__gte=_utc(start)), old.filter(start__gte=start)
    if end is not None:
        rows, old = rows.filter(created_at__lt=_utc(end)), old.filter(start__lt=end)
    old.delete()
    counted, last, minutes = 0, 0, minutes_kept_since()
    while batch := list(rows.filter(id__gt=last)[:chunk]):
        images = LogImage.objects.filter(log__in=[r.pk for r in batch], role__in=INPUT_ROLES)
        fields = ("log_id", "role", "blob_id", "sent_blob_id")
        with transaction.atomic():
            facts = facts_of(batch, list(images.only(*fields)))
            upsert(_with_minutes(aggregate(facts, minutes), minutes))
        counted, last = counted + len(batch), batch[-1].pk
    return counted


def purge(before: datetime) -> int:
    """Drop the spans that ended by `before` (the log's retention cutoff)."""
    cutoff = int(before.timestamp())
    ended = models.Q()
    for span in SPANS:
        ended |= models.Q(span=span, start__lte=cutoff - span)
    deleted, _ = Rollup.objects.filter(ended).delete()
    return deleted


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
