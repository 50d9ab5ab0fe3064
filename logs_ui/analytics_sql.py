"""The analytics page's two ways to read the numbers, cell by cell (bucket × group):

- from the rollups (gateway/rollups.py): sums and latency histograms, a row per hour (or
  UTC day) and combination of fields, summed by SQL; fast at any size, percentiles estimated;
- from the log itself (logs_ui/analytics_log.py): the rows of the range streamed once and
  added up, for any filter, bucket or grouping; percentiles exact up to a number of rows,
  from histograms past it; at most ANALYTICS_MAX_LOG_ROWS rows.

Both give the same Cells, so logs_ui/analytics_data.py assembles either alike. SQL that
differs by database: Bucket, and logquery.in_window (both tested in CI's two runs).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    F,
    Func,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)

from gateway import percentiles, rollups
from gateway.logquery import ESTIMATE, LogFilter
from gateway.rollups import Rollup

OTHER = "(other)"
UNSET = "(not set)"
STATUS_CLASSES = {"2xx": 2, "4xx": 4, "5xx": 5}


@dataclass(slots=True)
class Cell:
    """What one bucket of one group adds up to. `latency`, `ttft`: histogram counts
    (gateway/percentiles.py; [] for none) or, while `exact`, the values themselves."""

    exact: bool
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_e10: int = 0  # the known costs, in 1e-10 USD: exact sums on every database
    cost_known: int = 0
    images: int = 0
    output_images: int = 0
    image_bytes: int = 0
    image_bytes_sent: int = 0
    latency: list = field(default_factory=list)
    ttft: list = field(default_factory=list)

    SUMS = ("errors", *rollups.SUM_FIELDS)  # what adds up, cell to cell

    def add(self, other: "Cell") -> None:
        for name in self.SUMS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if self.exact:
            self.latency += other.latency
            self.ttft += other.ttft
        else:
            self.latency = _plus(self.latency, other.latency)
            self.ttft = _plus(self.ttft, other.ttft)

    def record(self, latency: float | None, ttft: float | None) -> None:
        """One request's durations: kept while exact, else counted in their bins."""
        if self.exact:
            if latency is not None:
                self.latency.append(latency)
            if ttft is not None:
                self.ttft.append(ttft)
            return
        if latency is not None:
            self.latency = self.latency or [0] * percentiles.BINS
            self.latency[percentiles.bin_of(latency)] += 1
        if ttft is not None:
            self.ttft = self.ttft or [0] * percentiles.BINS
            self.ttft[percentiles.bin_of(ttft)] += 1

    def to_histograms(self) -> None:
        """From kept values to bin counts (the values are dropped)."""
        if self.exact:
            self.latency, self.ttft = _binned(self.latency), _binned(self.ttft)
            self.exact = False

    def percentile(self, which: str, q: float) -> float | None:
        values = getattr(self, which)
        if self.exact:
            values.sort()  # in place: sorted once for the next percentile
            return percentiles.exact(values, q)
        return percentiles.from_histogram(values, q)

    @property
    def cost(self) -> Decimal:
        return Decimal(self.cost_e10).scaleb(-10)


def _binned(values: list) -> list:
    counts = [0] * percentiles.BINS if values else []
    for value in values:
        counts[percentiles.bin_of(value)] += 1
    return counts


def _plus(a: list, b: list) -> list:
    return [x + y for x, y in zip(a, b, strict=True)] if a and b else list(a or b)


class Bucket(Func):
    """The start of the bucket a moment falls in, in seconds since the epoch: buckets of
    `size` seconds, shifted by `offset` seconds (a time zone's, for days)."""

    output_field = BigIntegerField()

    def __init__(self, expression, size: int, offset: int = 0, epoch: bool = False) -> None:
        super().__init__(expression)
        self.size, self.offset, self.epoch = int(size), int(offset), epoch

    def _wrap(self, compiler, connection, seconds_sql: str):
        sql, params = compiler.compile(self.source_expressions[0])
        seconds = sql if self.epoch else seconds_sql.format(sql)
        size, off = self.size, self.offset
        if connection.vendor == "sqlite":  # integers: / is floor division for positive values
            return f"((({seconds}) + {off}) / {size} * {size} - {off})", params
        return f"CAST(FLOOR((({seconds}) + {off}) / {size}.0) * {size} - {off} AS BIGINT)", params

    def as_sqlite(self, compiler, connection, **extra):
        # Django keeps SQLite datetimes as UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]".
        return self._wrap(compiler, connection, "CAST(strftime('%%s', {}) AS INTEGER)")

    def as_sql(self, compiler, connection, **extra):  # PostgreSQL
        return self._wrap(compiler, connection, "EXTRACT(EPOCH FROM {})")


def rollup_filters(f: LogFilter) -> Q | None:
    """The filter as conditions on rollup rows, or None if rollups cannot answer it."""
    others = (
        f.search,
        f.trace_id,
        f.request_id,
        f.metadata,
        f.image_sha256,
        f.prompt,
        f.cost_min is not None,
        f.cost_max is not None,
        f.cost_unknown is not None,
        f.routing,  # rollups do not count by config or feedback: the log answers
        f.config,
        f.feedback,
        f.label,
        f.model_contains,  # a part of a model's name: rollups match names whole
    )
    if any(others) or f.status not in ("", "error", *STATUS_CLASSES):
        return None
    q = Q()
    if f.provider:
        q &= Q(provider=f.provider)
    if f.model:
        q &= Q(model=f.model)
    if f.status == "error":
        q &= Q(failed=True)
    elif f.status:
        q &= Q(status_class=STATUS_CLASSES[f.status])
    if f.has_images is not None:
        q &= Q(has_images=f.has_images)
    if f.has_output_images is not None:
        q &= Q(has_outputs=f.has_output_images)
    if f.endpoint:
        q &= Q(endpoint=f.endpoint)
    elif f.skip_estimates:
        q &= ~Q(endpoint=ESTIMATE)
    return q


ROLLUP_GROUPS = {"": Value(""), "provider": F("provider"), "model": F("model"), "key": F("key_id")}


def from_rollups(where: Q, start: int, end: int, size: int, offset: int, group: str) -> dict:
    """{(bucket, group): Cell} from the rollup rows of [start, end): day rows for UTC days,
    hour rows otherwise (hours, or days in another time zone)."""
    span = rollups.DAY if size == rollups.DAY and offset == 0 else rollups.HOUR
    if size == rollups.MINUTE:
        span = rollups.MINUTE
    rows = Rollup.objects.filter(where, span=span, start__gte=start, start__lt=end)
    bucket = F("start") if size == span else Bucket(F("start"), size, offset, epoch=True)
    names = rollups.SUM_FIELDS + rollups.LATENCY + rollups.TTFT
    sums = {f"s_{name}": Sum(name) for name in names}  # s_: not to shadow the columns
    sums["s_errors"] = Sum(Case(When(failed=True, then=F("requests")), default=0))
    found = rows.values(b=bucket, g=ROLLUP_GROUPS[group]).annotate(**sums).order_by()
    cells = {}
    for r in _fetch(found):
        cells[(r["b"], r["g"])] = Cell(
            exact=False,
            requests=r["s_requests"],
            errors=r["s_errors"],
            prompt_tokens=r["s_prompt_tokens"],
            completion_tokens=r["s_completion_tokens"],
            cost_e10=r["s_cost_e10"],
            cost_known=r["s_cost_known"],
            images=r["s_images"],
            output_images=r["s_output_images"],
            image_bytes=r["s_image_bytes"],
            image_bytes_sent=r["s_image_bytes_sent"],
            latency=[r[f"s_{n}"] for n in rollups.LATENCY],
            ttft=[r[f"s_{n}"] for n in rollups.TTFT],
        )
    return cells


def rollups_begin() -> int | None:
    """The start of the first hour the rollups count; None when they count nothing."""
    return _first_start(rollups.HOUR)


def _first_start(span: int) -> int | None:
    """The first start of a span's rows: one seek of the rollup key's (span, start) prefix (a
    MIN() could be planned as a scan of them all on fresh statistics: 50 ms for the minutes)."""
    starts = Rollup.objects.filter(span=span).order_by("start").values_list("start", flat=True)
    return starts.first()


def minutes_cover(start: int) -> bool:
    """Whether the minute rollup rows count every record from `start` (epoch seconds) on: it
    is no earlier than the second minute they hold (the first may have records logged before
    they were kept, by an older version) nor than the minutes kept."""
    kept = rollups.minutes_kept_since()
    if kept is None or start < kept:
        return False
    first = _first_start(rollups.MINUTE)
    return first is not None and start > first


def _fetch(qs: QuerySet) -> list[dict]:
    """The rows of a values() query as dicts, without Django's per-value converters: ~100
    integer sums per row, thousands of rows, where converters took longer than SQLite."""
    query, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    # PostgreSQL sums bigints as numeric (Decimal here): every sum is a whole number.
    sums = [i for i, name in enumerate(names) if name.startswith("s_")]
    out = []
    for row in rows:
        row = list(row)
        for i in sums:
            row[i] = int(row[i] or 0)
        out.append(dict(zip(names, row, strict=True)))
    return out


def rollup_sums(where: Q, first: int | None, last: int | None) -> dict:
    """requests, cost_e10 and cost_known summed over the whole hours [first, last) (None:
    unbounded): day rows for the whole UTC days inside, hour rows for the hours around."""
    day, hour = rollups.DAY, rollups.HOUR
    lo = -(-first // day) * day if first is not None else None
    hi = last // day * day if last is not None else None
    if lo is None or hi is None or lo < hi:
        parts = _between(day, lo, hi)
        if first is not None:
            parts |= _between(hour, first, lo)
        if last is not None:
            parts |= _between(hour, hi, last)
    else:  # no whole day inside
        parts = _between(hour, first, last)
    found = (
        Rollup.objects.filter(where)
        .filter(parts)
        .aggregate(requests=Sum("requests"), cost_e10=Sum("cost_e10"), cost_known=Sum("cost_known"))
    )
    return {name: int(value or 0) for name, value in found.items()}


def _between(span: int, a: int | None, b: int | None) -> Q:
    q = Q(span=span)
    if a is not None:
        q &= Q(start__gte=a)
    if b is not None:
        q &= Q(start__lt=b)
    return q


def utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def fold(cells: dict, keep: set | None) -> dict:
    """Cells of groups not in `keep` merged into one OTHER group per bucket."""
    if keep is None:
        return cells
    out: dict = {}
    for (b, g), cell in cells.items():
        key = (b, g if g in keep else OTHER)
        if key in out:
            out[key].add(cell)
        else:
            out[key] = cell
    return out
