"""Speed of /logs/analytics/ and of the list's cost features: server time per page.

    python bench/analytics.py [--count 1000000] [--runs 15]

Runs against IRIS_DATA_DIR (default var/bench) and DATABASE_URL (SQLite unless it names
PostgreSQL); seeds it with `manage.py seed_logs` up to --count logs first (30 days of them;
the rollups are kept as the log writer keeps them). Each page is requested through Django's
test client (middleware, session, auth, ORM, templates: the whole server side, no network),
warmed twice, then timed --runs times. Prints a Markdown table: median and p95 in ms, the
queries, where the numbers came from (rollups or the log), against the 300 ms target.
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
os.environ.setdefault("IRIS_DATA_DIR", str(ROOT / "var" / "bench"))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from gateway import rollups  # noqa: E402
from gateway.models import LogImage, RequestLog  # noqa: E402
from gateway.rollups import Rollup  # noqa: E402

TARGET_MS = 300.0
CHARTS = {"HX-Request": "true", "HX-Target": "charts"}
TOTALS = {"HX-Request": "true", "HX-Target": "totals"}
PAGE = "/logs/analytics/"
DATA = "/logs/analytics/data/"


def cases(cost_cursor: str) -> list[tuple[str, str, dict]]:
    return [
        ("analytics page, defaults (24 h by hour)", PAGE, {}),
        ("24 h by hour, by model (htmx)", f"{PAGE}?range=24h&group=model", CHARTS),
        ("7 days by hour, by provider", f"{PAGE}?range=7d&bucket=hour&group=provider", CHARTS),
        ("30 days by day, by model", f"{PAGE}?range=30d&bucket=day&group=model", CHARTS),
        ("any time (auto: by day), by key", f"{PAGE}?range=all&group=key", CHARTS),
        (
            "30 days, anthropic errors, by model",
            f"{PAGE}?range=30d&status=error&provider=anthropic&group=model",
            CHARTS,
        ),
        ("1 h by minute (log)", f"{PAGE}?range=1h&bucket=minute&group=model", CHARTS),
        ("24 h by minute (log)", f"{PAGE}?range=24h&bucket=minute", CHARTS),
        (
            "24 h by hour, by metadata app (log)",
            f"{PAGE}?range=24h&group=metadata&meta_key=app",
            CHARTS,
        ),
        ("24 h by hour, search q=invoice (log)", f"{PAGE}?range=24h&q=invoice", CHARTS),
        (
            "7 days by day, metadata env=staging (log)",
            f"{PAGE}?range=7d&bucket=day&metadata=env%3Dstaging",
            CHARTS,
        ),
        ("data JSON, 30 days by day, by model", f"{DATA}?range=30d&bucket=day&group=model", {}),
        ("list totals, everything", "/logs/", TOTALS),
        ("list totals, last 24 h", "/logs/?range=24h", TOTALS),
        ("list totals, provider=openai, last 7 days", "/logs/?provider=openai&range=7d", TOTALS),
        ("list totals, cost unknown (log)", "/logs/?cost=unknown&range=24h", TOTALS),
        (
            "list, sorted by cost (dearest)",
            "/logs/?sort=-cost",
            {"HX-Request": "true", "HX-Target": "results"},
        ),
        (
            "list, sorted by cost, next page",
            f"/logs/?sort=-cost&before={cost_cursor}",
            {"HX-Request": "true"},
        ),
        (
            "list, sorted by cost (cheapest)",
            "/logs/?sort=cost",
            {"HX-Request": "true", "HX-Target": "results"},
        ),
        (
            "list, cost $0.001 to $0.002",
            "/logs/?cost_min=0.001&cost_max=0.002",
            {"HX-Request": "true", "HX-Target": "results"},
        ),
        (
            "list, cost $0.5 to $1 (none match)",
            "/logs/?cost_min=0.5&cost_max=1",
            {"HX-Request": "true", "HX-Target": "results"},
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", default="", help="only the cases whose name contains this")
    parser.add_argument("--writer", action="store_true", help="time the writer's hook too")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    have = RequestLog.objects.count()
    if have < args.count:
        call_command("seed_logs", count=args.count - have, seed=have + 1, batch=5000)
    if args.writer:
        _writer_cost(args.runs)
    client = _staff_client()
    dearest = RequestLog.objects.filter(cost_usd__isnull=False).order_by("-cost_usd", "id")[49]
    cursor = f"{dearest.id}%40{dearest.cost_usd.normalize():f}"
    print(
        f"\n{RequestLog.objects.count():,} logs, {Rollup.objects.count():,} rollup rows, on"
        f" {connection.vendor}, {args.runs} runs each\n"
    )
    print("| case | median ms | p95 ms | queries | from | target |")
    print("|---|---:|---:|---:|---|---|")
    for name, url, headers in cases(cursor):
        if args.only and args.only not in name:
            continue
        median, p95, queries, source = _time(client, url, headers, args.runs)
        verdict = f"<{TARGET_MS:.0f} " + ("ok" if p95 < TARGET_MS else "SLOW")
        print(f"| {name} | {median:.1f} | {p95:.1f} | {queries} | {source} | {verdict} |")


def _writer_cost(runs: int) -> None:
    """What rollups.add (the log writer's hook, in its transaction) costs per record, for
    batches of recent seeded rows; rolled back, so the rollups stay as they were."""
    for size in (1, 100, 1000):
        logs = list(RequestLog.objects.order_by("-id")[:size])
        images = list(LogImage.objects.filter(log__in=logs))
        samples = []
        for _ in range(runs):
            with transaction.atomic():
                start = time.perf_counter()
                rollups.add(logs, images)
                samples.append((time.perf_counter() - start) * 1e6 / size)
                transaction.set_rollback(True)
        print(f"rollups.add, batches of {size}: {min(samples):.0f} µs per record (best)")


def _staff_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_active": True}
    )
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    return client


def _time(client: Client, url: str, headers: dict, runs: int) -> tuple[float, float, int, str]:
    for _ in range(2):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code)
    text = response.content.decode()
    source = "–"  # the list's pages: see the case
    if url.startswith((PAGE, DATA)):
        source = "rollups" if "from the rollups" in text or '"source": "rollups"' in text else "log"
    queries = []
    # Counted by a wrapper: Django empties connection.queries at each request's start.
    with connection.execute_wrapper(lambda run, sql, *rest: queries.append(sql) or run(sql, *rest)):
        client.get(url, headers=headers)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        client.get(url, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
    p95 = sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]
    return statistics.median(samples), p95, len(queries), source


if __name__ == "__main__":
    main()
