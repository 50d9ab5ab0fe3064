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
from django.db.models import BigIntegerField, Count, F, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Round

from gateway import rollups
from gateway.logquery import LogFilter, filter_logs, in_window
from gateway.models import LogImage
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
