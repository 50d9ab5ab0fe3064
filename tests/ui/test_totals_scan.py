"""The list's totals look at the newest LOG_TOTALS_SCAN_ROWS records first (gateway/logquery.py
totals): matches common there are capped as before, matches sparse there but many overall
are totalled over those records and say so, and rare ones (none there, or few enough that
the whole log holds no more than the cap at that rate) are counted over the whole log.

Twelve records; every third (ids 3, 6, 9, 12 from the oldest) mentions "invoice", costs
$0.01 each, the newest of them with an unknown cost."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from gateway import logquery
from gateway.logquery import LogFilter
from gateway.models import RequestLog
from tests.ui.logs import make_log

pytestmark = pytest.mark.django_db


@pytest.fixture
def twelve():
    logs = [make_log("Read this invoice." if n % 3 == 2 else f"Plain {n}.") for n in range(12)]
    RequestLog.objects.update(cost_usd=Decimal("0.01"))
    RequestLog.objects.filter(id=logs[-1].id).update(cost_usd=None)
    return [log.id for log in logs]


def _totals(settings, cap: int, scan: int, **filters) -> logquery.Totals:
    settings.LOG_TOTALS_MAX_ROWS = cap
    return logquery.totals(LogFilter(**filters), scan=scan)


def test_sparse_among_the_newest_and_many_overall_totals_those(settings, twelve):
    # The newest 6 ids hold 2 matches: at that rate the 12 would hold 4 > a cap of 3.
    found = _totals(settings, cap=3, scan=6, search="invoice")
    assert (found.requests, found.cost_unknown, found.cost_usd) == (2, 1, Decimal("0.01"))
    assert found.scanned == 6 and not found.capped
    oldest_read = RequestLog.objects.get(id=max(twelve) - 5)
    assert found.scanned_since == oldest_read.created_at


def test_few_enough_at_that_rate_counts_the_whole_log(settings, twelve):
    found = _totals(settings, cap=10, scan=6, search="invoice")  # 4 expected: under the cap
    assert (found.requests, found.cost_usd, found.scanned) == (4, Decimal("0.03"), 0)


def test_none_among_the_newest_counts_the_whole_log(settings, twelve):
    RequestLog.objects.filter(id__gt=max(twelve) - 6).update(search_text="nothing here")
    found = _totals(settings, cap=1, scan=6, search="invoice")
    assert (found.requests, found.capped, found.scanned) == (1, True, 0)  # ids 3, 6: capped


def test_common_among_the_newest_is_capped_as_before(settings, twelve):
    found = _totals(settings, cap=1, scan=6, search="invoice")  # 2 in the newest 6 > 1
    assert (found.requests, found.capped, found.scanned) == (1, True, 0)
    assert found.cost_usd is None and found.cost_unknown == 1  # the newest: cost unknown


def test_a_window_within_the_newest_is_counted_whole(settings, twelve):
    since = RequestLog.objects.get(id=max(twelve) - 1).created_at
    found = _totals(settings, cap=1, scan=6, search="invoice", since=since)
    assert (found.requests, found.scanned) == (1, 0)  # only the newest, exactly
    found = _totals(settings, cap=3, scan=6, search="invoice", since=since - timedelta(days=1))
    assert found.scanned == 6  # the window reaches further back than the records looked at


def test_a_log_no_longer_than_the_scan_is_counted_whole(settings, twelve):
    found = _totals(settings, cap=3, scan=12, search="invoice")
    assert (found.requests, found.capped, found.scanned) == (3, True, 0)


def test_the_list_says_which_records_it_totalled(staff_client, settings, twelve, monkeypatch):
    monkeypatch.setattr(logquery, "_scan_rows", lambda: 6)
    settings.LOG_TOTALS_MAX_ROWS = 3
    response = staff_client.get(
        reverse("logs_ui:list") + "?q=invoice", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="totals"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert '<b class="total-requests">2</b> requests' in html
    assert "in the newest 6 records (since " in html and "More than" not in html
    assert "$0.01" in html
