"""Analytics read from the log past EXACT_ROWS on PostgreSQL: summed by the database
(analytics_log.sums_in_sql) to the same cells as the rows summed in Python (from_log once it
has gone over to histograms), for every grouping, the metadata fold, and the row cap."""

import pytest
from django.db import connection

from gateway.errors import GatewayError
from gateway.logquery import LogFilter
from gateway.models import ApiKey
from logs_ui import analytics_log
from tests.ui.analytics_logs import (  # noqa: F401 (fixtures)
    PNG_LARGE,
    PNG_SMALL,
    epoch,
    logged,
    prices,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]


@pytest.fixture
def many():
    if connection.vendor != "postgresql":
        pytest.skip("sums_in_sql is PostgreSQL's")
    key = ApiKey.generate("k")[0].pk
    for i in range(24):
        logged(
            i * 7,
            provider=("openai", "anthropic", "google")[i % 3],
            model=("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "x")[i % 4],
            latency=10 + i * 37.5,
            ttft=None if i % 2 else 5 + i,
            usage=None if i % 5 == 0 else (100 * i, 7 * i),
            images=[PNG_SMALL, PNG_LARGE][: i % 3],
            error=GatewayError(500, "x") if i % 6 == 0 else None,
            metadata={"app": f"a{i % 4}"} if i % 7 else {},
            api_key_id=key if i % 2 else None,
        )


def _cells(group: str, keep=None, cap: int = 10_000, in_sql: bool = True):
    rows = analytics_log.log_rows(LogFilter(), epoch(0), epoch(24 * 7 + 60))
    meta_key = "app" if group == "metadata" else ""
    if in_sql:
        return analytics_log.sums_in_sql(rows, 3600, 0, group, meta_key, cap, keep)
    return analytics_log.from_log(rows, 3600, 0, group, meta_key, cap=cap, keep=keep)


@pytest.mark.parametrize(
    ("group", "keep"),
    [("", None), ("provider", None), ("key", None), ("metadata", None), ("metadata", {"a1"})],
)
def test_the_database_sums_what_python_sums(many, monkeypatch, group, keep):
    monkeypatch.setattr(analytics_log, "EXACT_ROWS", 0)  # Python goes to histograms at once
    in_sql, read_sql = _cells(group, keep)
    in_python, read_python = _cells(group, keep, in_sql=False)
    assert in_sql == in_python
    assert (read_sql.rows, read_sql.capped) == (read_python.rows, read_python.capped) == (24, False)
    assert sum(c.image_bytes for c in in_sql.values()) > 0


def test_a_capped_read_is_the_newest_rows_and_says_so(many, monkeypatch):
    monkeypatch.setattr(analytics_log, "EXACT_ROWS", 0)
    in_sql, read_sql = _cells("provider", cap=10)
    in_python, read_python = _cells("provider", cap=10, in_sql=False)
    assert in_sql == in_python
    assert (read_sql.rows, read_sql.capped, read_sql.oldest_bucket) == (
        read_python.rows,
        True,
        read_python.oldest_bucket,
    )


def test_the_page_uses_the_database_past_exact_rows(many, monkeypatch, staff_client):
    params = {"since": "2026-11-20T10:00", "until": "2026-11-21T10:00", "bucket": "minute"}
    exact = staff_client.get("/logs/analytics/data/", params).json()
    monkeypatch.setattr(analytics_log, "EXACT_ROWS", 5)
    monkeypatch.setattr(analytics_log, "from_log", None)  # would raise if it were called
    summed = staff_client.get("/logs/analytics/data/", params).json()
    assert (exact["percentiles"], summed["percentiles"]) == ("exact", "histogram")
    for name in ("requests", "errors", "prompt_tokens", "cost_usd", "image_bytes_sent"):
        assert summed["total"][name] == exact["total"][name], name
