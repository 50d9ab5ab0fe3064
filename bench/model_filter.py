"""Cost of the list's model box (logs_ui/forms.py model_filter, gateway/logquery.py): a known
name matched exactly on the model index, a part of a name matched case-insensitively (a scan).

    python bench/model_filter.py [--logs 200000] [--runs 7]

Uses its own data folder (var/bench-model-filter) and DATABASE_URL (SQLite unless it names
PostgreSQL); seeds --logs bare request rows over 12 models, then times the first page
(filter_logs(...)[:51]) and the totals' count for each filter, warmed once, --runs times, and
prints the medians in ms and the query plan's first lines.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("IRIS_DATA_DIR", str(ROOT / "var" / "bench-model-filter"))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from gateway.logquery import LogFilter, filter_logs  # noqa: E402
from gateway.models import RequestLog  # noqa: E402

MODELS = [
    "gpt-4o", "gpt-4o-mini", "gpt-4.1", "o4-mini", "claude-sonnet-4-5", "claude-haiku-4-5",
    "gemini-2.5-flash", "gemini-2.5-pro", "llama-3.2-90b-vision", "qwen2.5-vl-72b",
    "pixtral-large", "rare-model-x",
]  # fmt: skip
FILTERS = [
    ("none (baseline)", LogFilter()),
    ("model=gpt-4o (exact, index)", LogFilter(model="gpt-4o")),
    ("model~4o (contains, common)", LogFilter(model="4O", model_contains=True)),
    ("model~rare (contains, 1 in 1000)", LogFilter(model="RARE", model_contains=True)),
    ("model~nothing (contains, none)", LogFilter(model="zzz", model_contains=True)),
]


def seed(logs: int) -> None:
    if RequestLog.objects.count() >= logs:
        return
    RequestLog.objects.all().delete()
    with transaction.atomic():
        batch = []
        for i in range(logs):
            model = "rare-model-x" if i % 1000 == 0 else MODELS[i % 11]
            batch.append(RequestLog(request_id=f"req{i:029d}", model=model))
            if len(batch) == 5000:
                RequestLog.objects.bulk_create(batch)
                batch = []
        RequestLog.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def median_ms(run, runs: int) -> float:
    run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logs", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    seed(args.logs)
    print(f"{connection.vendor}, {RequestLog.objects.count():,} rows")
    for name, f in FILTERS:
        qs = filter_logs(f).only("id")
        page = median_ms(lambda qs=qs: list(qs[:51]), args.runs)
        count = median_ms(lambda qs=qs: qs.order_by().count(), args.runs)
        plan = qs[:51].explain().splitlines()
        shown = " | ".join(plan[:2])
        print(f"{name:36} page {page:8.2f} ms   count {count:8.2f} ms   plan: {shown}")


if __name__ == "__main__":
    main()
