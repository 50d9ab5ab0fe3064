"""The analytics page's numbers read from the log itself (what the rollups cannot answer: other
filters, minute buckets, grouping by metadata), in bounded memory.

The rows stream from the database in chunks (no queryset cache) and are added up into cells
as they come; the images' bytes are read for a chunk of rows at a time. Percentiles are
exact (every value kept) up to EXACT_ROWS rows; past it every cell's values are counted into
the histogram bins the rollups use (gateway/percentiles.py) and later values straight into
bins. At most settings.ANALYTICS_MAX_LOG_ROWS rows are read, the newest first: a range with
more says so (Read.capped) instead of taking the memory and time of all of them.
"""

from dataclasses import dataclass, replace

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, Count, F, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Round

from gateway import percentiles, rollups
from gateway.logquery import LogFilter, filter_logs, in_window
from gateway.models import LogImage, RequestLog
from logs_ui.analytics_sql import OTHER, UNSET, Bucket, Cell, utc

EXACT_ROWS = 20_000  # values kept for exact percentiles: ~1.3 MB of floats at most
CHUNK = 2_000  # rows fetched at a time
IMAGE_IDS = 1_000  # log ids whose images' bytes are read in one query

_ROW = (
    "id",
    "status_code",
    "error_type",
    "prompt_tokens",
    "completion_tokens",
    # In 1e-10 USD, as the rollups count it: exact integers (SQLite keeps the column as REAL).
    Cast(Round(F("cost_usd") * Value(rollups.COST_SCALE)), BigIntegerField()),
    "latency_ms",
    "ttft_ms",
    "image_count",
    "output_image_count",
)


@dataclass
class Read:
    """What a read of the log covered."""

    rows: int = 0
    capped: bool = False  # more rows matched than the cap: only the newest were read
    oldest_bucket: int | None = None  # the bucket of the oldest row read


def log_rows(f: LogFilter, start: int, end: int) -> QuerySet:
    """The log rows of the filter in [start, end) (the filter's own since/until give way)."""
    window = replace(f, since=None, until=None, before=None, before_cost=None, after=None)
    return filter_logs(window).filter(in_window(utc(start), utc(end))).order_by()


@dataclass
class Floor:
    """The newest records of a range start above `id`; the oldest of them was logged at
    `created_at`."""

    id: int
    created_at: object


def newest_records(start: int, end: int, count: int) -> Floor | None:
    """Where the newest `count` records of [start, end) begin, or None when it holds no more
    (ids follow time closely: the newest id of the range less `count`, fewer records where
    ids were skipped). Three seeks of the created_at and id indexes."""
    window = RequestLog.objects.filter(created_at__gte=utc(start), created_at__lt=utc(end))
    ids = window.order_by("created_at").values_list("id", flat=True)
    oldest, newest = ids.first(), window.order_by("-created_at").values_list("id", flat=True)[:1]
    newest = next(iter(newest), None)
    if oldest is None or newest is None or newest - oldest < count:
        return None
    floor = newest - count
    first = RequestLog.objects.filter(id__gt=floor).order_by("id")
    return Floor(floor, first.values_list("created_at", flat=True).first())


def _by(group: str, meta_key: str):
    if group == "metadata":
        return KeyTextTransform(meta_key, "metadata")
    return {"": Value(""), "key": F("api_key_id")}.get(group) or F(group)


def top_values(qs: QuerySet, meta_key: str, top: int) -> set | None:
    """The `top` values of a metadata key with the most rows, counted by the database; None
    when there are no more than that. A key can have a value per request (a user id): its
    cells are kept for these only, the rest go straight to OTHER."""
    counted = (
        qs.annotate(_g=_by("metadata", meta_key))
        .values("_g")
        .annotate(_n=Count("id"))
        .order_by("-_n", "_g")
        .values_list("_g", flat=True)[: top + 1]
    )
    found = [UNSET if g is None else str(g) for g in counted]
    return set(found[:top]) if len(found) > top else None


def from_log(
    qs: QuerySet,
    size: int,
    offset: int,
    group: str,
    meta_key: str,
    cap: int | None = None,
    keep: set | None = None,
) -> tuple[dict, Read]:
    """{(bucket, group): Cell} from at most `cap` log rows (the newest first), and what was
    read; groups not in `keep` (if given) counted as OTHER. A metadata value is parsed once
    per row, by the database."""
    cap = settings.ANALYTICS_MAX_LOG_ROWS if cap is None else cap
    by = _by(group, meta_key)
    # Newest first, so that a capped read is the recent part of the range.
    rows = qs.values_list(Bucket(F("created_at"), size, offset), by, *_ROW).order_by("-id")
    cells: dict = {}
    pending: dict[int, tuple] = {}  # rows with images whose bytes are not read yet: their cell
    read = Read()
    exact = True
    for row in rows[: cap + 1].iterator(chunk_size=CHUNK):
        if read.rows == cap:
            read.capped = True
            break
        b, g, pk, status, error, prompt, completion, cost, latency, ttft, images, made = row
        read.rows += 1
        read.oldest_bucket = b
        if exact and read.rows > EXACT_ROWS:
            exact = False
            for cell in cells.values():
                cell.to_histograms()
        if group == "metadata":
            g = UNSET if g is None else str(g)
        elif group == "key":
            g = g or 0
        if keep is not None and g not in keep:
            g = OTHER
        cell = cells.get((b, g))
        if cell is None:
            cell = cells[(b, g)] = Cell(exact=exact)
        cell.requests += 1
        cell.errors += status >= 400 or bool(error)
        cell.prompt_tokens += prompt or 0
        cell.completion_tokens += completion or 0
        if cost is not None:
            cell.cost_e10 += cost
            cell.cost_known += 1
        cell.record(latency, ttft)
        if images:
            cell.images += images
            pending[pk] = (b, g)
            if len(pending) == IMAGE_IDS:
                _add_image_bytes(cells, pending)
                pending.clear()
        cell.output_images += made
    _add_image_bytes(cells, pending)
    return cells, read


def _add_image_bytes(cells: dict, where: dict[int, tuple]) -> None:
    """The bytes of the images some rows sent (as received, and as sent upstream), read by
    their log ids (a join on the window made PostgreSQL read every image row)."""
    if not where:
        return
    images = LogImage.objects.filter(
        Q(log_id__in=list(where)), role__in=rollups.INPUT_ROLES, blob__isnull=False
    ).values_list("log_id", "blob__size", "sent_blob__size")
    for log_id, received, sent in images.order_by():
        found = where[log_id]
        cells[found].image_bytes += received
        cells[found].image_bytes_sent += received if sent is None else sent


def _bin_sql(column: str) -> str:
    """A duration's histogram bin (gateway/percentiles.bin_of) in PostgreSQL, -1 for none."""
    edges = ", ".join(repr(e) for e in percentiles.EDGES)
    return (
        f"CASE WHEN {column} IS NULL THEN -1 "
        f"ELSE greatest(0, width_bucket({column}, ARRAY[{edges}]::float8[]) - 1) END"
    )


def sums_in_sql(
    qs: QuerySet, size: int, offset: int, group: str, meta_key: str, cap: int, keep: set | None
) -> tuple[dict, Read]:
    """from_log's cells with histogram percentiles, summed by PostgreSQL: the rows never come
    to Python (~10× faster past a few thousand rows). The same cap: the newest `cap` rows."""
    inner = qs.values(
        _b=Bucket(F("created_at"), size, offset),
        _g=_by(group, meta_key),
        _cost=_ROW[5],
    ).values("_b", "_g", "id", *[c for c in _ROW if isinstance(c, str) and c != "id"], "_cost")
    inner_sql, params = inner.order_by("-id")[:cap].query.sql_with_params()
    params = list(params)  # the rows' (first in the query), then the group's
    folded = "r._g"
    if group == "metadata":  # unset values as UNSET, then those not kept as OTHER (in SQL)
        folded = "coalesce(r._g::text, %s)"
        fold_params = [UNSET]
        if keep is not None:
            marks = ", ".join(["%s"] * len(keep)) or "NULL"
            folded = f"CASE WHEN {folded} IN ({marks}) THEN {folded} ELSE %s END"
            fold_params = [UNSET, *sorted(keep), UNSET, OTHER]
        params += fold_params
    bins = range(percentiles.BINS)
    histograms = ", ".join(
        [f"count(*) FILTER (WHERE r._lb = {k})" for k in bins]
        + [f"count(*) FILTER (WHERE r._tb = {k})" for k in bins]
    )
    # The images' bytes: their rows read once for the ids of the rows with images (a LATERAL
    # subquery per row planned a hash join of the blobs for each: 1.8 s for a day at 10M).
    sql = (
        f"WITH r AS MATERIALIZED (SELECT s.*, {_bin_sql('s.latency_ms')} AS _lb, "
        f"{_bin_sql('s.ttft_ms')} AS _tb FROM ({inner_sql}) s), "
        "ib AS (SELECT i.log_id, sum(b.size) AS received, sum(coalesce(t.size, b.size)) AS sent "
        "FROM gateway_logimage i JOIN gateway_blob b ON b.sha256 = i.blob_id "
        "LEFT JOIN gateway_blob t ON t.sha256 = i.sent_blob_id "
        "WHERE i.log_id = ANY (ARRAY(SELECT id FROM r WHERE image_count > 0)) "
        "AND i.role IN ('input', 'mask') GROUP BY i.log_id) "
        f"SELECT r._b, {folded}, count(*), min(r.id), "
        "count(*) FILTER (WHERE r.status_code >= 400 OR r.error_type <> ''), "
        "coalesce(sum(r.prompt_tokens), 0), coalesce(sum(r.completion_tokens), 0), "
        "coalesce(sum(r._cost), 0), count(r._cost), coalesce(sum(r.image_count), 0), "
        "coalesce(sum(r.output_image_count), 0), coalesce(sum(ib.received), 0), "
        f"coalesce(sum(ib.sent), 0), {histograms} "
        "FROM r LEFT JOIN ib ON ib.log_id = r.id GROUP BY 1, 2"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # JIT compiled this query's ~100 aggregates for 2.5 s of a 5.4 s read (a day at 10M):
        # more than it saves on 200,000 rows. LOCAL: this transaction only.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        found = cursor.fetchall()
    cells, read, oldest = {}, Read(), None
    width = len(percentiles.EDGES)
    for b, g, n, first_id, errors, prompt, completion, cost, known, images, made, *rest in found:
        if group == "key":
            g = g or 0
        cells[(int(b), g)] = Cell(
            exact=False,
            requests=n,
            errors=errors,
            prompt_tokens=int(prompt),
            completion_tokens=int(completion),
            cost_e10=int(cost),
            cost_known=known,
            images=int(images),
            output_images=int(made),
            image_bytes=int(rest[0]),
            image_bytes_sent=int(rest[1]),
            latency=_counts(rest[2 : 2 + width]),
            ttft=_counts(rest[2 + width :]),
        )
        read.rows += n
        oldest = first_id if oldest is None else min(oldest, first_id)
        read.oldest_bucket = min(read.oldest_bucket or int(b), int(b))
    if read.rows >= cap and oldest is not None:
        read.capped = qs.filter(id__lt=oldest).exists()
    return cells, read


def _counts(histogram: list) -> list:
    return list(histogram) if any(histogram) else []  # none: [], as Cell.record leaves it


def read_log(
    qs: QuerySet,
    size: int,
    offset: int,
    group: str,
    meta_key: str,
    keep: set | None = None,
    cap: int | None = None,
) -> tuple[dict, Read]:
    """from_log (exact percentiles) up to EXACT_ROWS rows; past them, on PostgreSQL, the sums
    and histograms of sums_in_sql; elsewhere from_log, which goes over to histograms itself.
    At most `cap` rows, the newest (None: ANALYTICS_MAX_LOG_ROWS)."""
    cap = settings.ANALYTICS_MAX_LOG_ROWS if cap is None else cap
    if connection.vendor == "postgresql" and qs[: EXACT_ROWS + 1].count() > EXACT_ROWS:
        return sums_in_sql(qs, size, offset, group, meta_key, cap, keep)
    return from_log(qs, size, offset, group, meta_key, cap=cap, keep=keep)
