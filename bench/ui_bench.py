"""Speed of the logs UI: server time of the list, filtered lists and a request with 10 images.

    python bench/ui_bench.py [--count 100000] [--runs 30]

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

from gateway.models import LogImage, RequestLog  # noqa: E402

HTMX = {"HX-Request": "true", "HX-Target": "results"}
TARGETS = {"list": 150.0, "filtered list": 150.0, "detail": 250.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
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
        ("filtered list", "provider=anthropic", "/logs/?provider=anthropic", HTMX),
        ("filtered list", "status=error", "/logs/?status=error", HTMX),
        ("filtered list", "status=5xx", "/logs/?status=5xx", HTMX),
        (
            "filtered list",
            "model + 2xx + images",
            "/logs/?model=gpt-4o&status=2xx&has_images=1",
            HTMX,
        ),
        ("filtered list", "metadata app=ocr", "/logs/?metadata=app%3Docr", HTMX),
        ("filtered list", "metadata user=u_4242 (rare)", "/logs/?metadata=user%3Du_4242", HTMX),
        ("filtered list", "trace id", f"/logs/?trace_id={trace}", HTMX),
        ("filtered list", "last 24 h", "/logs/?range=24h", HTMX),
        ("filtered list", "search q=invoice", "/logs/?q=invoice", HTMX),
        ("filtered list", "image sha256", f"/logs/?image={popular}", HTMX),
        ("filtered list", "search, no match", "/logs/?q=zebra-crossing", HTMX),
        ("detail", f"request with 10 images (#{ten.id})", f"/logs/{ten.id}/", {}),
    ]
    thumbs = _warm_thumbnails(client, ten)
    print(f"\n{RequestLog.objects.count():,} logs on {connection.vendor}, {args.runs} runs each\n")
    print("| page | case | median ms | p95 ms | queries | target |")
    print("|---|---|---:|---:|---:|---|")
    for kind, name, url, headers in cases:
        median, p95, queries = _time(client, url, headers, args.runs)
        _row(kind, name, median, p95, queries)
    median, p95 = _time_page_with_images(client, f"/logs/{ten.id}/", thumbs, args.runs)
    _row("detail", "page + its 10 thumbnails (warm)", median, p95, "–")


def _row(kind: str, name: str, median: float, p95: float, queries: int | str) -> None:
    verdict = "ok" if p95 < TARGETS[kind] else "SLOW"
    target = f"<{TARGETS[kind]:.0f} {verdict}"
    print(f"| {kind} | {name} | {median:.1f} | {p95:.1f} | {queries} | {target} |")


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


def _time(client: Client, url: str, headers: dict, runs: int) -> tuple[float, float, int]:
    for _ in range(2):
        assert client.get(url, headers=headers).status_code == 200, url
    queries = []
    # Counted by a wrapper: Django empties connection.queries at each request's start.
    with connection.execute_wrapper(lambda run, sql, *rest: queries.append(sql) or run(sql, *rest)):
        client.get(url, headers=headers)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        client.get(url, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), _p95(samples), len(queries)


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
