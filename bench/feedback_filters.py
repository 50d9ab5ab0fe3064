"""Cost of the list's feedback filters (feedback/query.py): first page of 50, and the plan.

    python bench/feedback_filters.py [--logs 200000] [--feedback 2000] [--runs 7]

Uses its own data folder (var/bench-feedback) and DATABASE_URL (SQLite unless it names
PostgreSQL); seeds --logs bare request rows (a trace id on one in four, shared by pairs) and
--feedback feedback rows (half naming a trace id, half a request id; labels "ok"/"bad-box"),
then times filter_logs(...)[:51] for each filter, warmed once, --runs times, and prints the
median in ms and the query plan's first lines.
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
    if RequestLog.objects.count() >= logs:
        return
    rng = random.Random(17)
    RequestLog.objects.all().delete()
    Feedback.objects.all().delete()
    with transaction.atomic():
        batch = []
        for i in range(logs):
            trace = f"trace-{i // 2}" if i % 4 < 2 else ""
            batch.append(RequestLog(request_id=f"req{i:029d}", trace_id=trace, model="m"))
            if len(batch) == 5000:
                RequestLog.objects.bulk_create(batch)
                batch = []
        RequestLog.objects.bulk_create(batch)
        rows, labels = [], []
        for n in range(feedback):
            i = rng.randrange(logs)
            key = f"trace-{i // 2}" if n % 2 and i % 4 < 2 else f"req{i:029d}"
            fb = Feedback(trace_id=key, value=rng.choice((1, -1)), source="api")
            rows.append(fb)
            name = "bad-box" if fb.value < 0 and n % 3 == 0 else "ok"
            fb.labels = [name]
            labels.append(FeedbackLabel(feedback=fb, trace_id=key, name=name))
        Feedback.objects.bulk_create(rows)
        FeedbackLabel.objects.bulk_create(labels)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def plan(qs) -> list[str]:
    sql, params = qs.query.sql_with_params()
    explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(explain + sql, params)
        return [" ".join(str(c) for c in row) for row in cursor.fetchall()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logs", type=int, default=200_000)
    parser.add_argument("--feedback", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--plans", action="store_true")
    args = parser.parse_args()
    Path(os.environ["IRIS_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0)
    seed(args.logs, args.feedback)
    print(f"{connection.vendor}: {RequestLog.objects.count()} logs, {Feedback.objects.count()}")
    print("| filter | rows on page | median ms |\n|---|---|---|")
    for name, params in FILTERS:
        qs = filter_logs(LogFilter(**params)).only("id")[:51]
        found = len(list(qs))
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            list(qs.all())
            times.append((time.perf_counter() - start) * 1000)
        print(f"| {name} | {found} | {statistics.median(times):.1f} |")
        if args.plans:
            print("\n".join("    " + line for line in plan(qs)))


if __name__ == "__main__":
    main()
