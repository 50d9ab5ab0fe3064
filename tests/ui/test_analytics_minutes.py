"""Minute rollups (gateway/rollups.py): the log writer counts each record in its minute too,
for the last ANALYTICS_MINUTE_ROLLUP_HOURS; charts by minute read them instead of the log
(a day by minute at 10M records on PostgreSQL read 166,000 rows: 5-7 s) and agree with the
log on every sum. The five records of tests/ui/test_analytics.py, from 10:05 UTC on BASE."""

import time

import pytest
from django.urls import reverse

from gateway import rollups
from gateway.log import retention
from gateway.rollups import Rollup
from logs_ui import analytics_sql
from tests.ui.analytics_logs import BASE, epoch, logged, prices  # noqa: F401 (fixtures)
from tests.ui.test_analytics import five  # noqa: F401 (fixture: used by name)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]
DATA = reverse("logs_ui:analytics-data")
# From 10:06 (past the first minute counted, 10:05) to 12:40: 154 minutes.
WINDOW = {"since": "2026-11-20T10:06", "until": "2026-11-20T12:40", "bucket": "minute"}
KEPT_FIVE = pytest.mark.usefixtures("prices", "minutes_kept", "five")  # in that order
EXACT = {"latency_p50", "latency_p95", "ttft_p50"}  # exact from the log, estimated from rollups


def _hours_back_to_base() -> int:
    return int((time.time() - BASE.timestamp()) // 3600) + 48


@pytest.fixture
def minutes_kept(settings):
    """Minutes kept back to BASE (the records are days old), whatever today's date."""
    settings.ANALYTICS_MINUTE_ROLLUP_HOURS = _hours_back_to_base()
    rollups._minutes_dropped_in[0] = -1


def _get(client, **params) -> dict:
    response = client.get(DATA, {**WINDOW, **params})
    assert response.status_code == 200, response.content
    return response.json()


def _sums(span: int, field: str) -> int:
    return sum(Rollup.objects.filter(span=span).values_list(field, flat=True))


@KEPT_FIVE
def test_an_hour_row_is_the_sum_of_its_minutes():
    for field in ("requests", "cost_e10", "image_bytes", "prompt_tokens", "lat_9", "lat_19"):
        assert _sums(rollups.MINUTE, field) == _sums(rollups.HOUR, field), field
    # Five records in five minutes, each its own combination.
    assert Rollup.objects.filter(span=rollups.MINUTE).count() == 5
    starts = sorted(Rollup.objects.filter(span=rollups.MINUTE).values_list("start", flat=True))
    assert starts == [epoch(m) for m in (5, 20, 40, 70, 150)]


@pytest.mark.parametrize("group", ["", "provider", "model"])
@KEPT_FIVE
def test_by_minute_from_the_rollups_agrees_with_the_log(staff_client, group):
    from_rollups = _get(staff_client, group=group)
    assert from_rollups["source"] == "rollups" and from_rollups["bucket"] == "minute"
    real = analytics_sql.minutes_cover
    analytics_sql.minutes_cover = lambda start: False
    try:
        from_log = _get(staff_client, group=group)
    finally:
        analytics_sql.minutes_cover = real
    assert from_log["source"] == "log"
    assert from_rollups["times"] == from_log["times"] and len(from_log["times"]) == 154
    assert [g["name"] for g in from_rollups["groups"]] == [g["name"] for g in from_log["groups"]]
    for a, b in zip(from_rollups["groups"], from_log["groups"], strict=True):
        for name, values in a["series"].items():
            if name not in EXACT:
                assert values == b["series"][name], (a["name"], name)
    assert from_rollups["total"]["requests"] == 4  # B, C, D, E: A is at 10:05
    assert from_rollups["total"]["cost_usd"] == "0.0195"  # 0.006 + 0.0135; C and D unknown


@KEPT_FIVE
def test_filters_the_rollups_keep_are_applied(staff_client):
    errors = _get(staff_client, status="error")
    assert errors["source"] == "rollups" and errors["total"]["requests"] == 1
    anthropic = _get(staff_client, provider="anthropic")
    assert anthropic["source"] == "rollups" and anthropic["total"]["requests"] == 2


@KEPT_FIVE
def test_the_log_answers_what_minute_rows_cannot(staff_client):
    # The first minute counted may hold records logged before minutes were kept.
    assert _get(staff_client, since="2026-11-20T10:05")["source"] == "log"
    assert _get(staff_client, since="2026-11-20T10:00")["source"] == "log"
    metadata = _get(staff_client, metadata="app=ocr")
    assert metadata["source"] == "log" and metadata["total"]["requests"] == 1  # C
    grouped = _get(staff_client, group="metadata", meta_key="app")
    assert grouped["source"] == "log"


@pytest.mark.usefixtures("prices", "five")
def test_minutes_older_than_kept_are_neither_written_nor_read(staff_client, settings):
    settings.ANALYTICS_MINUTE_ROLLUP_HOURS = 48  # the records are older than that
    assert not Rollup.objects.filter(span=rollups.MINUTE).exists()
    assert _get(staff_client)["source"] == "log"
    settings.ANALYTICS_MINUTE_ROLLUP_HOURS = 0  # none kept at all
    rollups._minutes_dropped_in[0] = -1
    logged(30)
    assert not Rollup.objects.filter(span=rollups.MINUTE).exists()
    assert _get(staff_client)["source"] == "log"


@KEPT_FIVE
def test_the_writer_deletes_expired_minutes_once_an_hour(monkeypatch):
    assert Rollup.objects.filter(span=rollups.MINUTE).count() == 5
    hours = _sums(rollups.HOUR, "requests")
    monkeypatch.setattr(rollups, "minutes_kept_since", lambda now=None: epoch(150))  # 12:30 on
    rollups._minutes_dropped_in[0] = -1
    logged(155)  # 12:35: kept
    kept = sorted(Rollup.objects.filter(span=rollups.MINUTE).values_list("start", flat=True))
    assert kept == [epoch(150), epoch(155)]
    assert _sums(rollups.HOUR, "requests") == hours + 1  # hours and days stay
    assert _sums(rollups.DAY, "requests") == hours + 1


@KEPT_FIVE
def test_rebuild_and_retention_handle_minutes():
    def snapshot():
        return sorted(
            Rollup.objects.values_list(*rollups.KEY_FIELDS, *rollups.SUM_FIELDS, *rollups.LATENCY)
        )

    written = snapshot()
    assert any(row[0] == rollups.MINUTE for row in written)
    Rollup.objects.all().delete()
    assert rollups.rebuild() == 5
    assert snapshot() == written
    retention.purge(days=1)  # the five are days old: every span of theirs goes
    assert not Rollup.objects.exists()


def test_minutes_cover_needs_rows_and_the_window_kept(minutes_kept, settings):
    assert not analytics_sql.minutes_cover(epoch(30))  # no minute rows at all
    logged(5)
    assert analytics_sql.minutes_cover(epoch(6))
    assert not analytics_sql.minutes_cover(epoch(5))
    settings.ANALYTICS_MINUTE_ROLLUP_HOURS = 1
    assert not analytics_sql.minutes_cover(epoch(6))  # older than the hour kept
