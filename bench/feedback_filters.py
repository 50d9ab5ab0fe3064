"""Cost of the list's feedback filters (feedback/query.py): the first page and a next page.

    python bench/feedback_filters.py [--logs 1000000] [--feedback 2000] [--runs 15]
        [--strategy auto|ids|walk] [--plans]

Uses its own data folder (var/bench-feedback) and DATABASE_URL (SQLite unless it names
PostgreSQL; never point it at a database you keep: it replaces the log and the feedback when
their counts differ). Seeds --logs bare request rows (a trace id on one in four, shared by
pairs) and --feedback feedback rows on random records (half naming a trace id, half a request
id; labels "ok"/"bad-box"), then times filter_logs(...)[:51] for each filter, first page and
the page after it (keyset), warmed once, --runs times: median and p95 of wall time, and the
median SQL time and CPU time of this process (the machine is shared: those are the robust
figures). --strategy ids/walk forces one of filter_by_feedback's two ways (auto: its choice).
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("IRIS_DATA_DIR", str(ROOT / "var" / "bench-feedback"))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from feedback import query  # noqa: E402
from feedback.models import Feedback, FeedbackLabel  # noqa: E402
from gateway.logquery import LogFilter, filter_logs  # noqa: E402
from gateway.models import RequestLog  # noqa: E402

FILTERS = [
    ("none (baseline)", {}),
    ("feedback=any", {"feedback": "any"}),
    ("feedback=positive", {"feedback": "positive"}),
    ("feedback=negative", {"feedback": "negative"}),
    ("feedback=none", {"feedback": "none"}),
    ("label=bad-box", {"label": "bad-box"}),
    ("feedback=negative&label=bad-box", {"feedback": "negative", "label": "bad-box"}),
]


def seed(logs: int, feedback: int) -> None:
    if RequestLog.objects.count() != logs:
        RequestLog.objects.all().delete()
        table = RequestLog._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"INSERT INTO {table} (request_id, trace_id, model, provider, created_at,"
                    " status_code, latency_ms) SELECT 'req' || lpad(i::text, 29, '0'),"
                    " CASE WHEN i % 4 < 2 THEN 'trace-' || (i / 2) ELSE '' END, 'm', 'p',"
                    " now(), 200, 1 FROM generate_series(0, %s - 1) AS i",
                    [logs],
                )
            else:
                template = RequestLog(request_id="x", model="m", provider="p")
                for start in range(0, logs, 5000):
                    batch = []
                    for i in range(start, min(logs, start + 5000)):
                        row = RequestLog(
                            **{
                                f.attname: getattr(template, f.attname)
                                for f in RequestLog._meta.concrete_fields
                                if f.attname != "id"
                            }
                        )
                        row.request_id = f"req{i:029d}"
                        row.trace_id = f"trace-{i // 2}" if i % 4 < 2 else ""
                        batch.append(row)
                    RequestLog.objects.bulk_create(batch)
    if Feedback.objects.count() != feedback:
        Feedback.objects.all().delete()
        rng = random.Random(17)
        rows, labels = [], []
        for n in range(feedback):
            i = rng.randrange(logs)
            key = f"trace-{i // 2}" if n % 2 and i % 4 < 2 else f"req{i:029d}"
            fb = Feedback(trace_id=key, value=rng.choice((1, -1)), source="api")
            rows.append(fb)
            name = "bad-box" if fb.value < 0 and n % 3 == 0 else "ok"
            fb.labels = [name]
            labels.append(FeedbackLabel(feedback=fb, trace_id=key, name=name))
        with transaction.atomic():
            Feedback.objects.bulk_create(rows, batch_size=5000)
            FeedbackLabel.objects.bulk_create(labels, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def plan(qs) -> list[str]:
    sql, params = qs.query.sql_with_params()
    explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(explain + sql, params)
        return [" ".join(str(c) for c in row) for row in cursor.fetchall()]


def timed(params: dict, runs: int) -> tuple[int, float, float, float, float]:
    """Rows on the page; median and p95 ms; median SQL ms and CPU ms (the filter's own
    queries, which resolve ids, included)."""
    spent = [0.0]

    def in_sql(run, sql, *rest):
        start = time.perf_counter()
        try:
            return run(sql, *rest)
        finally:
            spent[0] += time.perf_counter() - start

    def once() -> int:
        return len(list(filter_logs(LogFilter(**params)).only("id")[:51]))

    found = once()
    walls, sqls, cpus = [], [], []
    with connection.execute_wrapper(in_sql):
        for _ in range(runs):
            spent[0] = 0.0
            start, cpu = time.perf_counter(), time.process_time()
            once()
            walls.append((time.perf_counter() - start) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
            sqls.append(spent[0] * 1000)
    p95 = sorted(walls)[max(0, int(len(walls) * 0.95) - 1)]
    return found, statistics.median(walls), p95, statistics.median(sqls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--feedback", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--strategy", choices=("auto", "ids", "walk"), default="auto")
    parser.add_argument("--plans", action="store_true")
    args = parser.parse_args()
    if args.strategy == "ids":
        query.KEYS_LISTED = query.IDS_LISTED = 10**9
    elif args.strategy == "walk":
        query.KEYS_LISTED = -1
    Path(os.environ["IRIS_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0)
    seed(args.logs, args.feedback)
    print(
        f"\n{connection.vendor}: {RequestLog.objects.count():,} logs, "
        f"{Feedback.objects.count():,} feedback, strategy {args.strategy}, {args.runs} runs\n"
    )
    print("| filter | page | rows | median ms | p95 ms | SQL ms | CPU ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, params in FILTERS:
        first = list(filter_logs(LogFilter(**params)).values_list("id", flat=True)[:51])
        pages = [("first", params)]
        if len(first) == 51:
            pages.append(("next (keyset)", {**params, "before": first[49]}))
        for page_name, page in pages:
            rows, median, p95, sql, cpu = timed(page, args.runs)
            print(
                f"| {name} | {page_name} | {rows} | {median:.1f} | {p95:.1f} | {sql:.1f} "
                f"| {cpu:.1f} |",
                flush=True,
            )
            if args.plans:
                qs = filter_logs(LogFilter(**page)).only("id")[:51]
                print("\n".join("    " + line for line in plan(qs)))


if __name__ == "__main__":
    main()
