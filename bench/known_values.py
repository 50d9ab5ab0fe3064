"""The filter dropdowns' distinct providers and models: SELECT DISTINCT (before) against
logs_ui/known.py's skip scan (after), on DATABASE_URL / IRIS_DATA_DIR.

    python bench/known_values.py [--runs 5]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from gateway.models import RequestLog  # noqa: E402
from logs_ui.known import KNOWN_VALUES_MAX, distinct_values  # noqa: E402


def select_distinct(field: str) -> list[str]:
    """logs_ui/forms.py known_values's query before logs_ui/known.py."""
    found = RequestLog.objects.exclude(**{field: ""}).order_by(field)
    return list(found.values_list(field, flat=True).distinct())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(f"{connection.vendor} {connection.settings_dict['NAME']}, {runs} runs\n")
    print("| field | query | values | median ms | p95 ms | CPU ms |\n|---|---|---:|---:|---:|---:|")
    for field in ("provider", "model"):
        for name, read in (("DISTINCT", select_distinct), ("skip scan", distinct_values)):
            walls, cpus = [], []
            for _ in range(runs):
                start, cpu = time.perf_counter(), time.process_time()
                out = read(field)
                walls.append((time.perf_counter() - start) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
            p95 = sorted(walls)[max(0, int(len(walls) * 0.95) - 1)]
            print(
                f"| {field} | {name} | {len(out)} | {statistics.median(walls):.1f} | "
                f"{p95:.1f} | {statistics.median(cpus):.1f} |"
            )
        assert select_distinct(field)[:KNOWN_VALUES_MAX] == distinct_values(field), field


if __name__ == "__main__":
    main()
