"""The pages bench/pg_scale.py times: the logs list with each filter, the search, the totals
and the analytics page, on whatever database Django is set up with."""

import statistics
import time
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone

from gateway.models import LogImage, RequestLog

HTMX = {"HX-Request": "true", "HX-Target": "results"}
TOTALS = {"HX-Request": "true", "HX-Target": "totals"}
CHARTS = {"HX-Request": "true", "HX-Target": "charts"}
TARGETS = {"list": 100.0, "filter": 100.0, "search": 100.0, "totals": 300.0, "analytics": 300.0}


def cases() -> list[tuple[str, str, str, dict]]:
    newest = RequestLog.objects.order_by("-id").values_list("id", flat=True)
    cursor = newest[49]
    deep = newest[2_000_000] if newest[2_000_000:2_000_001].exists() else cursor
    trace = RequestLog.objects.exclude(trace_id="").order_by("-id").first().trace_id
    popular = LogImage.objects.filter(blob__isnull=False).order_by("-id").first().blob_id
    now = timezone.now()
    week = {"since": (now - timedelta(days=20)).isoformat(), "until": (now - timedelta(days=13))}
    old_day = {"since": (now - timedelta(days=40)).isoformat(), "until": now - timedelta(days=39)}
    out = [
        ("list", "first page", "/logs/", {}),
        ("list", "first page, htmx", "/logs/", HTMX),
        ("list", "next page (keyset)", f"/logs/?before={cursor}", {"HX-Request": "true"}),
        ("list", "page 2M rows deep (keyset)", f"/logs/?before={deep}", {"HX-Request": "true"}),
        ("list", "sort by cost", "/logs/?sort=-cost", HTMX),
    ]
    filters = {
        "provider=anthropic": "provider=anthropic",
        "model=gpt-4o": "model=gpt-4o",
        "model part 'nova'": "model=nova",
        "status=error": "status=error",
        "status=5xx": "status=5xx",
        "status=429": "status=429",
        "model + 2xx + images": "model=gpt-4o&status=2xx&has_images=1",
        "metadata app=ocr (common)": "metadata=app%3Docr",
        "metadata user=u_4242 (rare)": "metadata=user%3Du_4242",
        "metadata no match": "metadata=user%3Du_none",
        "metadata rare + provider": "metadata=user%3Du_4242&provider=google",
        "trace id": f"trace_id={trace}",
        "last 24 h": "range=24h",
        "since/until one week, 2 weeks ago": urlencode(week),
        "since/until a day, 40 days ago": urlencode(old_day),
        "has images": "has_images=1",
        "no images": "has_images=0",
        "images made": "has_output_images=1",
        "endpoint images.generations": "endpoint=images.generations",
        "cost >= 0.02": "cost_min=0.02",
        "cost <= 0.00005": "cost_max=0.00005",
        "cost unknown": "cost=unknown",
        "routing retried": "routing=retried",
        "routing cached": "routing=cached",
        "routing any config": "routing=config",
        "config=inline": "config=inline",
        "feedback any": "feedback=any",
        "feedback negative": "feedback=negative",
        "feedback none": "feedback=none",
        "feedback label": "label=wrong-box",
        "image sha256": f"image={popular}",
        "provider + error + 24 h": "provider=openai&status=error&range=24h",
    }
    out += [("filter", name, f"/logs/?{q}", HTMX) for name, q in filters.items()]
    out += [
        ("search", "q=invoice", "/logs/?q=invoice", HTMX),
        ("search", "q=passport page (phrase)", "/logs/?q=passport+page", HTMX),
        ("search", "q=zebra-crossing (no match)", "/logs/?q=zebra-crossing", HTMX),
        ("search", "q=invoice + provider=google", "/logs/?q=invoice&provider=google", HTMX),
    ]
    totals = {
        "all": "",
        "provider=anthropic": "provider=anthropic",
        "last 24 h": "range=24h",
        "since/until a week": urlencode(week),
        "metadata rare": "metadata=user%3Du_4242",
        "metadata common": "metadata=app%3Docr",
        "search invoice": "q=invoice",
        "feedback any": "feedback=any",
        "cost unknown": "cost=unknown",
    }
    out += [("totals", name, f"/logs/?{q}", TOTALS) for name, q in totals.items()]
    charts = {
        "default (24 h, page)": ("", {}),
        "24 h, charts htmx": ("", CHARTS),
        "7 d": ("range=7d", CHARTS),
        "30 d": ("range=30d", CHARTS),
        "all time (60 d)": ("range=all", CHARTS),
        "30 d by model": ("range=30d&group=model", CHARTS),
        "7 d by key, provider=openai": ("range=7d&group=key&provider=openai", CHARTS),
        "1 h by minute (log)": ("range=1h&bucket=minute", CHARTS),
        "24 h by minute (log)": ("range=24h&bucket=minute", CHARTS),
        "24 h metadata app=ocr (log)": ("range=24h&metadata=app%3Docr", CHARTS),
        "24 h group metadata app (log)": ("range=24h&group=metadata&meta_key=app", CHARTS),
        "7 d search invoice (log)": ("range=7d&q=invoice", CHARTS),
        "30 d feedback any (log)": ("range=30d&feedback=any", CHARTS),
        # The charts' second request where the first read only the newest records (rows=all).
        "24 h group metadata app (log), whole": (
            "range=24h&group=metadata&meta_key=app&rows=all",
            CHARTS,
        ),
        "7 d search invoice (log), whole": ("range=7d&q=invoice&rows=all", CHARTS),
        "30 d feedback any (log), whole": ("range=30d&feedback=any&rows=all", CHARTS),
        "json 30 d": ("range=30d", {}),
    }
    for name, (q, headers) in charts.items():
        path = "/logs/analytics/data/" if name.startswith("json") else "/logs/analytics/"
        out.append(("analytics", name, f"{path}?{q}" if q else path, headers))
    return out


def run(runs: int, only: str = "", skip: str = "") -> None:
    client = _staff_client()
    rows = RequestLog.objects.order_by("-id").values_list("id", flat=True).first()
    print(f"\n~{rows:,} logs on {connection.vendor}, {runs} runs each\n")
    print("| page | case | median ms | p95 ms | SQL ms | CPU ms | queries | target |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for kind, name, url, headers in cases():
        if only and only not in name and only != kind or skip and skip in name:
            continue
        median, p95, in_sql, cpu, queries = _time(client, url, headers, runs)
        verdict = "ok" if p95 <= TARGETS[kind] else "SLOW"
        print(
            f"| {kind} | {name} | {median:.1f} | {p95:.1f} | {in_sql:.1f} | {cpu:.1f} | "
            f"{queries} | ≤{TARGETS[kind]:.0f} {verdict} |",
            flush=True,
        )
    cache.clear()
    start = time.perf_counter()
    client.get("/logs/")
    print(
        f"| list | first page, cold cache (distinct providers/models) | "
        f"{(time.perf_counter() - start) * 1000:.1f} | – | – | – | – | once |"
    )


def _staff_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_active": True}
    )
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    return client


def _time(client: Client, url: str, headers: dict, runs: int) -> tuple:
    """As bench/ui_bench.py: warmed twice, queries counted once, then timed `runs` times: wall
    time, time in SQL (the database's answer, network included) and this process's CPU time
    (Django, templates), each per request."""
    for _ in range(2):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code)
    queries = []
    with connection.execute_wrapper(lambda run, sql, *rest: queries.append(sql) or run(sql, *rest)):
        client.get(url, headers=headers)
    samples, in_sql, cpu = [], [], []
    spent = [0.0]

    def timed(run, sql, *rest):
        start = time.perf_counter()
        try:
            return run(sql, *rest)
        finally:
            spent[0] += time.perf_counter() - start

    with connection.execute_wrapper(timed):
        for _ in range(runs):
            spent[0] = 0.0
            start, cpu_start = time.perf_counter(), time.process_time()
            client.get(url, headers=headers)
            samples.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - cpu_start) * 1000)
            in_sql.append(spent[0] * 1000)
    p95 = sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]
    return (
        statistics.median(samples),
        p95,
        statistics.median(in_sql),
        statistics.median(cpu),
        len(queries),
    )
