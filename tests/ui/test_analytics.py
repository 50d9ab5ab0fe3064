"""/logs/analytics/ and its data: numbers for rows logged through the writer, by hand.

Five requests from 10:00 UTC on 2026-11-20 (tests/ui/analytics_logs.py prices gpt-4o at
$2.50/$10 and claude-sonnet-4-5 at $3/$15 per million input/output tokens; gpt-4o-mini has
no price, so its cost is unknown, as is a failed request's):

    A 10:05 openai    gpt-4o             100 ms TTFT 40  1000→200  $0.0045  1 image   app=ocr
    B 10:20 openai    gpt-4o             300 ms TTFT 120 2000→100  $0.006             app=tagger
    C 10:40 anthropic claude-sonnet-4-5   50 ms 429                unknown            app=ocr
    D 11:10 openai    gpt-4o-mini       1000 ms          500→50    unknown  2 images
    E 12:30 anthropic claude-sonnet-4-5 2000 ms TTFT 800 3000→300  $0.0135

Histogram estimates (gateway/percentiles.py): bin k ≥ 1 is [10·10^((k−1)/8), 10·10^(k/8)) ms
and a percentile of rank q·n lies at lower + width·(rank − before)/count in its bin.
"""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from gateway import percentiles, rollups
from gateway.errors import GatewayError
from gateway.log import retention
from gateway.logquery import LogFilter
from gateway.models import ApiKey, RequestLog
from gateway.rollups import Rollup
from logs_ui import analytics_data, analytics_sql
from tests.ui.analytics_logs import (  # noqa: F401 (fixtures)
    BASE,
    PNG_LARGE,
    PNG_SMALL,
    epoch,
    logged,
    prices,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]
DATA = reverse("logs_ui:analytics-data")
PAGE = reverse("logs_ui:analytics")
WINDOW = {"since": "2026-11-20T10:00", "until": "2026-11-20T13:00"}


@pytest.fixture
def five():
    a = logged(
        5, latency=100, ttft=40, usage=(1000, 200), images=[PNG_SMALL], metadata={"app": "ocr"}
    )
    b = logged(20, latency=300, ttft=120, usage=(2000, 100), metadata={"app": "tagger"})
    c = logged(
        40,
        provider="anthropic",
        model="claude-sonnet-4-5",
        latency=50,
        error=GatewayError(429, "Slow down.", code="rate_limit"),
        metadata={"app": "ocr"},
    )
    d = logged(
        70, model="gpt-4o-mini", latency=1000, usage=(500, 50), images=[PNG_SMALL, PNG_LARGE]
    )
    e = logged(
        150,
        provider="anthropic",
        model="claude-sonnet-4-5",
        latency=2000,
        ttft=800,
        usage=(3000, 300),
    )
    return a, b, c, d, e


def _get(client, **params) -> dict:
    response = client.get(DATA, {**WINDOW, **params})
    assert response.status_code == 200, response.content
    return response.json()


def _groups(data: dict) -> dict:
    return {g["name"]: g for g in data["groups"]}


def test_by_model_and_hour_from_the_rollups(staff_client, five):
    data = _get(staff_client, bucket="hour", group="model")
    assert data["source"] == "rollups" and data["percentiles"] == "histogram"
    assert data["times"] == [epoch(0), epoch(60), epoch(120)]
    assert [g["name"] for g in data["groups"]] == ["claude-sonnet-4-5", "gpt-4o", "gpt-4o-mini"]
    gpt4o, claude, mini = (
        _groups(data)[n]["series"] for n in ("gpt-4o", "claude-sonnet-4-5", "gpt-4o-mini")
    )
    assert gpt4o["requests"] == [2, 0, 0] and gpt4o["errors"] == [0, 0, 0]
    assert gpt4o["error_rate"] == [0.0, None, None]
    assert gpt4o["prompt_tokens"] == [3000, 0, 0] and gpt4o["completion_tokens"] == [300, 0, 0]
    # 1000 × 2.50/1e6 + 200 × 10/1e6 = 0.0045; 2000 × 2.50/1e6 + 100 × 10/1e6 = 0.006
    assert gpt4o["cost_usd"] == ["0.0105", "0", "0"] and gpt4o["cost_unknown"] == [0, 0, 0]
    assert gpt4o["images"] == [1, 0, 0] and gpt4o["image_bytes"] == [len(PNG_SMALL), 0, 0]
    # 100 ms in bin 9 [100, 133.35), 300 ms in bin 12 [237.14, 316.23): p50 (rank 1) is bin 9's
    # top, p95 (rank 1.9) is 237.14 + 79.09 × 0.9.
    assert gpt4o["latency_p50"] == [133.4, None, None]
    assert gpt4o["latency_p95"] == [308.3, None, None]
    assert gpt4o["ttft_p50"] == [42.2, None, None]  # 40 ms: bin 5 [31.62, 42.17) reaches rank 1
    assert claude["requests"] == [1, 0, 1] and claude["errors"] == [1, 0, 0]
    assert claude["error_rate"] == [1.0, None, 0.0]
    # 3000 × 3/1e6 + 300 × 15/1e6 = 0.0135; the 429 has no usage: unknown, never $0.
    assert claude["cost_usd"] == [None, "0", "0.0135"] and claude["cost_unknown"] == [1, 0, 0]
    # 50 ms, alone in bin 6 [42.17, 56.23): p50 = 42.17 + 14.06 × 0.5; 2000 ms in bin 19
    # [1778.28, 2371.37): p50 = 1778.28 + 593.10 × 0.5.
    assert claude["latency_p50"] == [49.2, None, 2074.8]
    assert claude["ttft_p50"] == [None, None, 874.9]  # 800 ms: bin 16 [749.89, 1000), half
    assert mini["requests"] == [0, 1, 0] and mini["cost_usd"] == ["0", None, "0"]
    assert mini["images"] == [0, 2, 0]
    assert mini["image_bytes"] == [0, len(PNG_SMALL) + len(PNG_LARGE), 0]
    total = data["total"]
    assert (total["requests"], total["errors"], total["cost_usd"], total["cost_unknown"]) == (
        5,
        1,
        "0.024",
        2,
    )
    assert (total["prompt_tokens"], total["completion_tokens"], total["images"]) == (6500, 650, 3)


def test_by_metadata_key_from_the_log_with_exact_percentiles(staff_client, five):
    data = _get(staff_client, bucket="hour", group="metadata", meta_key="app")
    assert data["source"] == "log" and data["percentiles"] == "exact"
    assert [g["name"] for g in data["groups"]] == ["(not set)", "ocr", "tagger"]
    ocr = _groups(data)["ocr"]["series"]
    assert (
        ocr["requests"] == [2, 0, 0]
        and ocr["errors"] == [1, 0, 0]
        and ocr["error_rate"] == [0.5, None, None]
    )
    # 50 and 100 ms: the median halfway, p95 at 50 + 0.95 × 50 (linear between ranks).
    assert ocr["latency_p50"] == [75.0, None, None] and ocr["latency_p95"] == [97.5, None, None]
    assert ocr["ttft_p50"] == [40.0, None, None]
    assert ocr["cost_usd"] == ["0.0045", "0", "0"] and ocr["cost_unknown"] == [1, 0, 0]
    assert ocr["image_bytes"] == [len(PNG_SMALL), 0, 0]
    unset = _groups(data)["(not set)"]["series"]
    assert unset["requests"] == [0, 1, 1] and unset["latency_p50"] == [None, 1000.0, 2000.0]
    assert unset["image_bytes"] == [0, len(PNG_SMALL) + len(PNG_LARGE), 0]


def test_the_log_and_the_rollups_agree_on_every_sum(staff_client, five, monkeypatch):
    from_rollups = _get(staff_client, bucket="hour", group="provider")
    monkeypatch.setattr(analytics_sql, "rollup_filters", lambda f: None)
    from_log = _get(staff_client, bucket="hour", group="provider")
    assert (from_rollups["source"], from_log["source"]) == ("rollups", "log")
    exact = {"latency_p50", "latency_p95", "ttft_p50"}
    for a, b in zip(from_rollups["groups"], from_log["groups"], strict=True):
        assert a["name"] == b["name"]
        for name, values in a["series"].items():
            if name not in exact:
                assert values == b["series"][name], name
    # openai at 10:00: 100 and 300 ms, exactly 200 (median) from the log.
    assert _groups(from_log)["openai"]["series"]["latency_p50"][0] == 200.0


def test_filters_are_the_lists(staff_client, five):
    data = _get(staff_client, bucket="hour", status="error")
    assert data["source"] == "rollups" and data["total"]["requests"] == 1
    assert _get(staff_client, bucket="hour", provider="anthropic")["total"]["requests"] == 2
    assert _get(staff_client, bucket="hour", has_images="1")["total"]["requests"] == 2
    searched = _get(staff_client, bucket="hour", metadata="app=ocr")
    assert searched["source"] == "log" and searched["total"]["requests"] == 2
    unknown = _get(staff_client, bucket="hour", cost="unknown")
    assert unknown["source"] == "log" and unknown["total"]["requests"] == 2


def test_days_from_day_rows_and_in_a_time_zone_from_hours(staff_client, five, settings):
    f = LogFilter(since=BASE, until=BASE + timedelta(hours=3))
    utc = analytics_data.series(analytics_data.plan(f, "day", "", now=BASE + timedelta(days=1)))
    assert utc["times"] == [epoch(-600)] and utc["source"] == "rollups"  # 2026-11-20 00:00 UTC
    assert utc["total"]["requests"] == 5 and utc["total"]["cost_usd"] == "0.024"
    settings.TIME_ZONE = "Europe/Paris"  # UTC+1 in November: days start at 23:00 UTC
    paris = analytics_data.series(analytics_data.plan(f, "day", "", now=BASE + timedelta(days=1)))
    assert paris["times"] == [epoch(-660)] and paris["source"] == "rollups"
    assert paris["total"] == utc["total"]


def test_a_day_row_is_the_sum_of_its_hours(five):
    for field in ("requests", "cost_e10", "image_bytes", "lat_9", "lat_19"):
        hours = sum(Rollup.objects.filter(span=rollups.HOUR).values_list(field, flat=True))
        days = sum(Rollup.objects.filter(span=rollups.DAY).values_list(field, flat=True))
        assert hours == days, field
    # One day, five combinations: gpt-4o with an image (A) and without (B), the 429 (C), D, E.
    assert Rollup.objects.filter(span=rollups.DAY).count() == 5


def test_rebuild_counts_what_the_writer_counted(five):
    def snapshot():
        return sorted(
            Rollup.objects.values_list(*rollups.KEY_FIELDS, *rollups.SUM_FIELDS, *rollups.LATENCY)
        )

    written = snapshot()
    Rollup.objects.all().delete()
    assert rollups.rebuild() == 5
    assert snapshot() == written
    assert rollups.rebuild(BASE + timedelta(hours=1), BASE + timedelta(hours=2)) == 5  # whole days
    assert snapshot() == written
    # Retention: the day and its hours end before this cutoff, so they go; none are left.
    assert rollups.purge(BASE + timedelta(days=1)) == len(written)


def test_the_log_writer_counts_a_batch_in_its_transaction(five, monkeypatch):
    hours = Rollup.objects.filter(span=rollups.HOUR)
    assert sum(hours.values_list("requests", flat=True)) == 5
    counted = rollups.add

    def count_then_fail(logs, images, sizes=None):
        counted(logs, images, sizes)
        assert sum(hours.values_list("requests", flat=True)) == 6  # counted…
        raise RuntimeError("the batch fails after its rollups")

    monkeypatch.setattr(rollups, "add", count_then_fail)
    with pytest.raises(RuntimeError):
        logged(30)
    assert sum(hours.values_list("requests", flat=True)) == 5  # …and rolled back with the rows
    assert RequestLog.objects.count() == 5


def test_retention_drops_the_rollups_of_what_it_deletes(five):
    assert Rollup.objects.exists()
    retention.purge(days=1)  # the five are days old
    assert not Rollup.objects.exists()


def test_the_command_rebuilds_them(five):
    Rollup.objects.all().delete()
    out = io.StringIO()
    call_command("rollup_logs", since="2026-11-20", until="2026-11-21", stdout=out)
    assert out.getvalue() == "Counted 5 log records into the rollups.\n"
    assert sum(Rollup.objects.filter(span=rollups.DAY).values_list("requests", flat=True)) == 5
    with pytest.raises(CommandError):
        call_command("rollup_logs", since="last week")


def test_more_groups_than_lines_fold_into_other(staff_client):
    for i in range(10):
        logged(i, model=f"m{i}", usage=None)
    logged(30, model="m9", usage=None)
    data = _get(staff_client, bucket="hour", group="model")
    names = [g["name"] for g in data["groups"]]
    assert names == ["m9", "m0", "m1", "m2", "m3", "m4", "m5", "m6", "(other)"]
    assert _groups(data)["(other)"]["total"]["requests"] == 2  # m7 and m8


def test_gateway_keys_are_named(staff_client, five):
    key, _ = ApiKey.generate("web-app")
    logged(10, api_key_id=key.pk)
    data = _get(staff_client, bucket="hour", group="key")
    assert {g["name"]: g["total"]["requests"] for g in data["groups"]} == {
        "(no key)": 5,
        "web-app": 1,
    }


@pytest.mark.parametrize("source", ["rollups", "log"])
def test_many_gateway_keys_fold_into_other_and_a_deleted_one_is_named(
    staff_client, five, monkeypatch, source
):
    keys = [ApiKey.generate(f"key-{i}")[0] for i in range(9)]
    for i, key in enumerate(keys):
        logged(10 + i, api_key_id=key.pk)
    logged(30, api_key_id=keys[8].pk)
    gone = keys[8].pk
    keys[8].delete()  # the rows keep no key; the rollups keep its id
    if source == "log":
        monkeypatch.setattr(analytics_sql, "rollup_filters", lambda f: None)
    data = _get(staff_client, bucket="hour", group="key")
    assert data["source"] == source
    named = {g["name"]: g["total"]["requests"] for g in data["groups"]}
    if source == "rollups":
        assert named["(no key)"] == 5 and named[f"deleted key #{gone}"] == 2
    else:  # the log's rows lost their key (SET_NULL): 5 + 2 without one
        assert named["(no key)"] == 7
    # Eight lines and "(other)": rollups have 10 groups (2 keys of 1 request fold), the log 9.
    assert len(named) == 9 and named["(other)"] == (2 if source == "rollups" else 1)
    assert data["total"]["requests"] == 15


def test_too_many_points_are_coarsened(staff_client, five):
    data = _get(staff_client, bucket="minute", since="2026-11-10T00:00", until="2026-11-21T00:00")
    assert data["bucket"] == "day" and "too many points" in data["note"]
    assert len(data["times"]) == 11 and data["total"]["requests"] == 5
    fine = _get(staff_client, bucket="minute", since="2026-11-20T10:00", until="2026-11-20T10:30")
    assert fine["source"] == "log" and len(fine["times"]) == 30
    assert fine["groups"][0]["series"]["requests"][5] == 1  # A, at 10:05


def test_the_page_draws_a_chart_per_series_and_a_summary(staff_client, five):
    response = staff_client.get(PAGE, {**WINDOW, "group": "model"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="analytics-data"' in html and "vendor/uplot/uPlot.iife.min.js" in html
    assert html.count('class="chart" data-series=') == 10
    assert "$0.0105" in html and "$0.0135" in html and ">unknown<" in html
    assert 'aria-current="page">Analytics' in html
    swapped = staff_client.get(PAGE, WINDOW, headers={"HX-Request": "true", "HX-Target": "charts"})
    assert "<html" not in swapped.text and 'id="analytics-data"' in swapped.text
    assert swapped["HX-Push-Url"].startswith(PAGE + "?since=")


def test_the_page_defaults_to_the_last_day_and_says_so_when_empty(staff_client, five):
    response = staff_client.get(PAGE)  # the five are days old
    assert response.status_code == 200 and "No requests in this range" in response.text
    assert '<option value="24h" selected>' in response.text
    assert 'id="analytics-data"' not in response.text


def test_it_needs_a_login(client):
    assert client.get(PAGE).status_code == 302
    assert client.get(DATA).status_code == 302


def test_it_needs_the_permission(nobody_client):
    assert nobody_client.get(PAGE).status_code == 403
    assert nobody_client.get(DATA).status_code == 403


def test_a_viewer_who_is_not_staff_may_see_it(viewer_client):
    assert viewer_client.get(PAGE).status_code == 200


def test_metadata_grouping_needs_a_key(staff_client):
    response = staff_client.get(DATA, {"group": "metadata"})
    assert response.status_code == 400 and "meta_key" in response.json()["errors"]


def test_list_totals_add_rollup_hours_to_the_part_hours_read_from_the_log(five):
    from gateway import logquery, pricing

    cases = [
        LogFilter(),
        LogFilter(since=BASE + timedelta(minutes=30)),
        LogFilter(since=BASE + timedelta(minutes=30), until=BASE + timedelta(minutes=145)),
        LogFilter(since=BASE + timedelta(minutes=10), until=BASE + timedelta(minutes=50)),
        LogFilter(provider="openai", since=BASE + timedelta(minutes=6)),
    ]
    expected = [("0.024", 5, 2), ("0.0135", 3, 2), (None, 2, 2), ("0.006", 2, 1), ("0.006", 2, 1)]
    for f, (cost, requests, unknown) in zip(cases, expected, strict=True):
        hybrid, raw = analytics_data.totals(f), logquery.totals(f)
        assert (pricing.decimal_str(hybrid.cost_usd), hybrid.requests, hybrid.cost_unknown) == (
            cost,
            requests,
            unknown,
        )
        assert (hybrid.cost_usd, hybrid.requests, hybrid.cost_unknown) == (
            raw.cost_usd,
            raw.requests,
            raw.cost_unknown,
        ), f
    assert percentiles.BINS == 42


def test_a_range_of_centuries_is_cut_not_looped_over(staff_client):
    from datetime import UTC, datetime

    from logs_ui import analytics_data

    now = datetime(2026, 11, 26, tzinfo=UTC)
    f = LogFilter(since=datetime(1700, 1, 1, tzinfo=UTC))  # 326 years of days: past MAX_POINTS
    plan = analytics_data.plan(f, "day", "", now=now)
    assert plan.bucket == "day" and "cut to the last 100,000 days" in plan.note
    assert (plan.end - plan.start) // 86400 <= analytics_data.MAX_POINTS["day"] + 1
    response = staff_client.get(reverse("logs_ui:analytics"), {"since": "1700-01-01"})
    assert response.status_code == 200
