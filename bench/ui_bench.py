"""Speed of the logs UI: server time of the list, filtered lists and a request with 10 images.

    python bench/ui_bench.py [--count 100000] [--runs 30] [--only search totals ...]

Runs against IRIS_DATA_DIR (default var/bench) and DATABASE_URL (SQLite unless it names
PostgreSQL); seeds it with `manage.py seed_logs` up to --count logs first. Each page is
requested through Django's test client (middleware, session, auth, ORM, templates: the
whole server side, no network), warmed twice, then timed --runs times. Thumbnails are made
before timing ("warm"). Prints a Markdown table: median and p95 in milliseconds, queries.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("IRIS_DATA_DIR", str(ROOT / "var" / "bench"))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from gateway.models import LogImage, RequestLog  # noqa: E402

HTMX = {"HX-Request": "true", "HX-Target": "results"}
TOTALS = {"HX-Request": "true", "HX-Target": "totals"}  # the count and cost under the list
TARGETS = {"list": 100.0, "filter": 100.0, "search": 100.0, "totals": 100.0, "detail": 250.0}
SEARCHES = [
    ("q=invoice (1 in 12)", "q=invoice"),
    ("q=zebra-crossing (no match)", "q=zebra-crossing"),
    ("q=Damaged Parcel (mixed case)", "q=Damaged%20Parcel"),
    ('q="yes or no" AND * (FTS syntax)', "q=%22yes%20or%20no%22%20AND%20*"),
    ("q=ab (2 characters)", "q=ab"),
    ("q=zq (2 characters, no match)", "q=zq"),
    ("q=invoice + provider=anthropic", "q=invoice&provider=anthropic"),
    ("q=invoice + 4xx", "q=invoice&status=4xx"),
    ("q=invoice, by cost", "q=invoice&sort=-cost"),
    ("metadata app=ocr (1 in 4)", "metadata=app%3Docr"),
    ("metadata user=u_4242 (rare)", "metadata=user%3Du_4242"),
    ("metadata nokey=x (no match)", "metadata=nokey%3Dx"),
    ("metadata app=ocr + user=u_4242", "metadata=app%3Docr&metadata=user%3Du_4242"),
    ("metadata app=ocr + 5xx", "metadata=app%3Docr&status=5xx"),
]
TOTALS_OF = [
    ("all", ""),
    ("provider=anthropic, last 7 days", "provider=anthropic&range=7d"),
    ("q=invoice (1 in 12)", "q=invoice"),
    ("q=zebra-crossing (no match)", "q=zebra-crossing"),
    ("metadata app=ocr (1 in 4)", "metadata=app%3Docr"),
    ("metadata user=u_4242 (rare)", "metadata=user%3Du_4242"),
    ("model contains claude", "model=claude"),
    ("cost unknown", "cost=unknown"),
    ("status=error", "status=error"),
]


def _filters(trace: str, image: str) -> list[tuple[str, str]]:
    """Every filter of the list, alone (a few together)."""
    return [
        ("provider=anthropic", "provider=anthropic"),
        ("model=gpt-4o (exact)", "model=gpt-4o"),
        ("model contains claude", "model=claude"),
        ("model contains llama (no match)", "model=llama"),
        ("status=2xx", "status=2xx"),
        ("status=4xx", "status=4xx"),
        ("status=5xx", "status=5xx"),
        ("status=error", "status=error"),
        ("status=429", "status=429"),
        ("model + 2xx + images", "model=gpt-4o&status=2xx&has_images=1"),
        ("trace id", f"trace_id={trace}"),
        ("trace id, no match", "trace_id=nope"),
        ("feedback=any", "feedback=any"),
        ("feedback=none", "feedback=none"),
        ("label=wrong", "label=wrong"),
        ("last 15 minutes", "range=15m"),
        ("last 24 h", "range=24h"),
        ("until 20 days ago", f"until={_days_ago(20)}"),
        ("since 40 days ago (all)", f"since={_days_ago(40)}"),
        ("until 20 days ago + provider=anthropic", f"until={_days_ago(20)}&provider=anthropic"),
        ("until 20 days ago + q=invoice", f"until={_days_ago(20)}&q=invoice"),
        ("until 20 days ago + metadata app=ocr", f"until={_days_ago(20)}&metadata=app%3Docr"),
        ("since/until a week, 2 weeks ago", f"since={_days_ago(20)}&until={_days_ago(13)}"),
        ("last 24 h + provider=anthropic", "range=24h&provider=anthropic"),
        ("last 7 days + status=5xx", "range=7d&status=5xx"),
        ("has images", "has_images=1"),
        ("no images", "has_images=0"),
        ("generated images", "has_output_images=1"),
        ("endpoint=images.generations", "endpoint=images.generations"),
        ("endpoint=estimate (none)", "endpoint=estimate"),
        ("prompt=none-such", "prompt=none-such"),
        ("image sha256", f"image={image}"),
        ("cost >= $0.01", "cost_min=0.01"),
        ("cost <= $0.0001", "cost_max=0.0001"),
        ("cost $0.001-0.002", "cost_min=0.001&cost_max=0.002"),
        ("cost unknown", "cost=unknown"),
        ("cost known", "cost=known"),
        ("routing=retried", "routing=retried"),
        ("routing=fell_back", "routing=fell_back"),
        ("routing=cached", "routing=cached"),
        ("routing=config", "routing=config"),
        ("config=none-such", "config=none-such"),
        ("sort by cost, dearest", "sort=-cost"),
        ("sort by cost, cheapest", "sort=cost"),
        ("sort by cost + provider=google", "sort=cost&provider=google"),
        ("sort by cost + cost unknown", "sort=-cost&cost=unknown"),
    ]


def _days_ago(days: int) -> str:
    return (timezone.now() - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--only", nargs="*", help="only the cases whose name holds one of these")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    have = RequestLog.objects.count()
    if have < args.count:
        call_command("seed_logs", count=args.count - have, seed=have + 1)
    client = _staff_client()
    ten = RequestLog.objects.filter(image_count=10, status_code=200).order_by("-id").first()
    popular = LogImage.objects.filter(blob__isnull=False).order_by("-id").first().blob_id
    trace = RequestLog.objects.exclude(trace_id="").order_by("-id").first().trace_id
    cursor = RequestLog.objects.order_by("-id").values_list("id", flat=True)[49]
    cases = [
        ("list", "first page", "/logs/", {}),
        ("list", "first page, htmx", "/logs/", HTMX),
        ("list", "next page (keyset, htmx)", f"/logs/?before={cursor}", {"HX-Request": "true"}),
        *[("filter", name, f"/logs/?{query}", HTMX) for name, query in _filters(trace, popular)],
        *[("search", name, f"/logs/?{query}", HTMX) for name, query in SEARCHES],
        *[
            ("search", f"{name}, page 2", f"/logs/?{query}&before={cursor}", HTMX)
            for name, query in SEARCHES[:2]
        ],
        *[("totals", name, f"/logs/?{query}", TOTALS) for name, query in TOTALS_OF],
        ("detail", f"request with 10 images (#{ten.id})", f"/logs/{ten.id}/", {}),
    ]
    only = [c for c in cases if not args.only or any(o in f"{c[0]} {c[1]}" for o in args.only)]
    thumbs = _warm_thumbnails(client, ten)
    print(f"\n{RequestLog.objects.count():,} logs on {connection.vendor}, {args.runs} runs each\n")
    print("| page | case | median ms | p95 ms | SQL p95 ms* | CPU p95 ms | queries | target |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for kind, name, url, headers in only:
        _row(kind, name, *_time(client, url, headers, args.runs))
    if not args.only:
        median, p95 = _time_page_with_images(client, f"/logs/{ten.id}/", thumbs, args.runs)
        _row("detail", "page + its 10 thumbnails (warm)", median, p95, None, None, "–")


def _row(
    kind: str,
    name: str,
    median: float,
    p95: float,
    sql: float | None,
    cpu: float | None,
    queries: int | str,
) -> None:
    verdict = "ok" if p95 < TARGETS[kind] else "SLOW"
    target = f"<{TARGETS[kind]:.0f} {verdict}"
    sql_ms, cpu_ms = (f"{v:.1f}" if v is not None else "–" for v in (sql, cpu))
    cells = [kind, name, f"{median:.1f}", f"{p95:.1f}", sql_ms, cpu_ms, str(queries), target]
    print("| " + " | ".join(cells) + " |")


def _staff_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_active": True}
    )
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    return client


def _warm_thumbnails(client: Client, log: RequestLog) -> list[str]:
    """Make every thumbnail the timed pages show, so they are read from storage, not made."""
    urls = [f"/logs/images/{sha}/thumb-480.webp" for sha in _shas(log)]
    first_page = RequestLog.objects.order_by("-id")[:50]
    for row in LogImage.objects.filter(log__in=first_page, blob__isnull=False):
        client.get(f"/logs/images/{row.blob_id}/thumb-96.webp")
    for url in urls:
        assert client.get(url).status_code == 200, url
    return urls


def _shas(log: RequestLog) -> list[str]:
    return list(log.images.filter(blob__isnull=False).values_list("blob_id", flat=True))


def _time(
    client: Client, url: str, headers: dict, runs: int
) -> tuple[float, float, float, float, int]:
    """Wall median and p95, the p95 of the time in SQL (*: up to each query's first row; the
    rest is fetched outside the wrapper) and of the process's CPU time (SQLite runs in this
    process: on a shared machine CPU time is the steadier figure), and one request's queries."""
    for _ in range(2):
        assert client.get(url, headers=headers).status_code == 200, url
    queries = []
    # Counted by a wrapper: Django empties connection.queries at each request's start.
    with connection.execute_wrapper(lambda run, sql, *rest: queries.append(sql) or run(sql, *rest)):
        client.get(url, headers=headers)
    walls, cpus, sqls = [], [], []
    in_sql = [0.0]

    def timed(run, sql, *rest):
        start = time.perf_counter()
        try:
            return run(sql, *rest)
        finally:
            in_sql[0] += time.perf_counter() - start

    with connection.execute_wrapper(timed):
        for _ in range(runs):
            in_sql[0] = 0.0
            start, cpu = time.perf_counter(), time.process_time()
            client.get(url, headers=headers)
            walls.append((time.perf_counter() - start) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
            sqls.append(in_sql[0] * 1000)
    return statistics.median(walls), _p95(walls), _p95(sqls), _p95(cpus), len(queries)


def _time_page_with_images(
    client: Client, url: str, images: list[str], runs: int
) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        client.get(url)
        for image in images:
            client.get(image)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), _p95(samples)


def _p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]


if __name__ == "__main__":
    main()
