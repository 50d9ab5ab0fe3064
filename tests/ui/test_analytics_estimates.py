"""/v1/estimate's records (endpoint "estimate": no usage, cost unknown) stay out of the
analytics and the list's totals unless the endpoint filter asks for them.

Two chat requests and two estimates, from 10:00 UTC on 2026-11-20 (tests/ui/analytics_logs.py
prices gpt-4o at $2.50/$10 per million input/output tokens):

    A 10:05 chat      100 ms  1000→200  $0.0045
    B 10:20 chat      300 ms  2000→100  $0.006
    X 10:10 estimate    5 ms            unknown
    Y 10:50 estimate    7 ms            unknown
"""

import re

import pytest
from django.urls import reverse

from tests.ui.analytics_logs import logged, prices  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]
DATA = reverse("logs_ui:analytics-data")
LIST = reverse("logs_ui:list")
WINDOW = {"since": "2026-11-20T10:00", "until": "2026-11-20T11:00"}
TOTALS = {"HX-Request": "true", "HX-Target": "totals"}


@pytest.fixture
def logs():
    logged(5, latency=100, usage=(1000, 200))
    logged(20, latency=300, usage=(2000, 100))
    logged(10, latency=5, usage=None, endpoint="estimate")
    logged(50, latency=7, usage=None, endpoint="estimate")


# hour: from the rollups; minute, or a metadata filter: from the log itself.
@pytest.mark.parametrize("how", [{"bucket": "hour"}, {"bucket": "minute"}, {"q": "image"}])
def test_analytics_leave_estimates_out_unless_asked(staff_client, logs, how):
    data = staff_client.get(DATA, {**WINDOW, **how}).json()
    total = data["total"]
    assert (total["requests"], total["cost_usd"], total["cost_unknown"]) == (2, "0.0105", 0)
    if how.get("bucket") == "minute" or "q" in how:  # exact: halfway between 100 and 300
        assert total["latency_p50"] == 200.0
    asked = staff_client.get(DATA, {**WINDOW, **how, "endpoint": "estimate"}).json()["total"]
    assert (asked["requests"], asked["cost_usd"], asked["cost_unknown"]) == (2, None, 2)


def test_list_totals_leave_estimates_out_unless_asked_but_the_list_shows_them(staff_client, logs):
    rows = staff_client.get(LIST, WINDOW)
    assert len(re.findall(r'<tr class="r[^"]*" data-id="\d+"', rows.text)) == 4
    totals = staff_client.get(LIST, WINDOW, headers=TOTALS).text
    assert "<b>2</b> requests" in totals and '<b class="total-cost">$0.0105</b>' in totals
    assert "total-unknown" not in totals
    asked = staff_client.get(LIST, {**WINDOW, "endpoint": "estimate"}, headers=TOTALS).text
    assert "<b>2</b> requests" in asked and "cost unknown" in asked
    # Without a time range the totals come from the rollups' whole hours: the same.
    everything = staff_client.get(LIST, headers=TOTALS).text
    assert "<b>2</b> requests" in everything and "$0.0105" in everything


def test_the_endpoint_filter_offers_estimate(staff_client, logs):
    page = staff_client.get(reverse("logs_ui:analytics"), WINDOW).text
    assert '<option value="estimate"' in page
