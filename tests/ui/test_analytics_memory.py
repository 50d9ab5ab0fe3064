"""The analytics page's read of the log is bounded: rows streamed in chunks, percentiles from
histograms past EXACT_ROWS rows, and at most ANALYTICS_MAX_LOG_ROWS rows read (the newest),
with a warning when a range has more.

The five requests of tests/ui/test_analytics.py's fixture, from 10:00 UTC on 2026-11-20:
A 10:05 100 ms, B 10:20 300 ms, C 10:40 50 ms (429), D 11:10 1000 ms, E 12:30 2000 ms.
"""

import tracemalloc
from datetime import timedelta

import pytest
from django.urls import reverse

from gateway import percentiles
from gateway.logquery import LogFilter
from gateway.models import RequestLog
from logs_ui import analytics_data, analytics_log
from logs_ui.analytics_sql import OTHER
from tests.ui.analytics_logs import BASE, prices  # noqa: F401 (fixtures)
from tests.ui.test_analytics import five  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]
DATA = reverse("logs_ui:analytics-data")
PAGE = reverse("logs_ui:analytics")
WINDOW = {"since": "2026-11-20T10:00", "until": "2026-11-20T13:00"}


@pytest.mark.usefixtures("prices", "five")  # prices first: five is priced by them
def test_a_range_past_the_cap_reads_the_newest_rows_and_says_so(staff_client, settings):
    settings.ANALYTICS_MAX_LOG_ROWS = 3
    data = staff_client.get(DATA, {**WINDOW, "bucket": "minute"}).json()
    assert data["source"] == "log" and data["total"]["requests"] == 3  # C, D and E
    assert data["total"]["cost_usd"] == "0.0135" and data["total"]["cost_unknown"] == 2
    (warning,) = data["warnings"]
    assert "only the newest 3 were read" in warning and "2026-11-20 10:40 UTC" in warning
    page = staff_client.get(PAGE, {**WINDOW, "bucket": "minute"}).text
    assert "only the newest 3 were read (ANALYTICS_MAX_LOG_ROWS)" in page
    settings.ANALYTICS_MAX_LOG_ROWS = 5  # exactly the range: nothing left out
    data = staff_client.get(DATA, {**WINDOW, "bucket": "minute"}).json()
    assert data["total"]["requests"] == 5 and data["warnings"] == []


@pytest.mark.usefixtures("prices", "five")  # prices first: five is priced by them
def test_past_exact_rows_percentiles_come_from_the_histogram(staff_client, monkeypatch):
    exact = staff_client.get(DATA, {**WINDOW, "bucket": "minute"}).json()
    assert exact["percentiles"] == "exact"
    assert exact["total"]["latency_p50"] == 300.0  # 50, 100, 300, 1000, 2000
    monkeypatch.setattr(analytics_log, "EXACT_ROWS", 2)
    binned = staff_client.get(DATA, {**WINDOW, "bucket": "minute"}).json()
    assert binned["percentiles"] == "histogram" and binned["source"] == "log"
    # Rank q·n = 2.5 of 5: two values (50, 100) lie below 300's bin, bin 12 = [10·10^(11/8),
    # 10·10^(12/8)) = [237.1…, 316.2…), which holds one: lower + width · (2.5 − 2) / 1.
    low, high = percentiles.EDGES[12], percentiles.EDGES[13]
    assert percentiles.bin_of(300) == 12
    assert binned["total"]["latency_p50"] == round(low + (high - low) * 0.5, 1)
    # Every other number is the same either way.
    for name in ("requests", "errors", "cost_usd", "cost_unknown", "images", "image_bytes"):
        assert binned["total"][name] == exact["total"][name]


def test_memory_stays_small_whatever_the_rows_and_groups(staff_client):
    """40,000 rows, each with its own value of a metadata key, grouped by it: the rows were
    kept as a queryset cache and every latency in a list (29 MB here, measured with the code
    before; hundreds of MB at 1M rows). Now 2.4 MB: rows in chunks, histograms past
    EXACT_ROWS, cells only for the top values (the database counts them)."""
    rows = [
        RequestLog(
            request_id=f"r{i}",
            provider="openai",
            model="gpt-4o",
            status_code=200,
            latency_ms=100 + i % 900,
            ttft_ms=50.0,
            created_at=BASE + timedelta(seconds=i),
            metadata={"user": f"u{i:05}", "app": "ocr" if i < 30_000 else "tagger"},
        )
        for i in range(40_000)
    ]
    RequestLog.objects.bulk_create(rows, batch_size=2000)
    window = LogFilter(since=BASE, until=BASE + timedelta(days=1))
    plan = analytics_data.plan(window, "hour", "metadata", "user")
    tracemalloc.start()
    try:
        cells, source, warnings, _ = analytics_data.cells(plan)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (source, warnings) == ("log", [])
    assert sum(c.requests for c in cells.values()) == 40_000
    groups = {g for _, g in cells}
    assert groups == {f"u{i:05}" for i in range(8)} | {OTHER}  # ties: the first 8 by value
    assert not any(c.exact for c in cells.values())  # past EXACT_ROWS: histograms
    assert peak < 3 * 2**20, f"peak {peak / 2**20:.1f} MB"
    # The same numbers as without the bounds, on a smaller read: 12 hours = 43,200 s > 40,000.
    app = analytics_data.series(analytics_data.plan(window, "day", "metadata", "app"))
    assert [(g["name"], g["total"]["requests"]) for g in app["groups"]] == [
        ("ocr", 30_000),
        ("tagger", 10_000),
    ]
