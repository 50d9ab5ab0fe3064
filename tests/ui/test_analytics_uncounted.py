"""Records logged before the rollups existed (the upgrade that added them: migration 0012 is
schema only): the analytics page says to run manage.py rollup_logs instead of showing empty
charts, and the list's totals read the log until then.

Two requests, gpt-4o at $2.50/$10 per million tokens (tests/ui/analytics_logs.py):
A 10:05 1000→200 = $0.0045, B 11:20 2000→100 = $0.006; the rollups lose A's hour and day
(as if A had been logged before the upgrade).
"""

import pytest
from django.core.management import call_command
from django.urls import reverse

from gateway.models import Rollup
from tests.ui.analytics_logs import epoch, logged, prices  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]
DATA = reverse("logs_ui:analytics-data")
PAGE = reverse("logs_ui:analytics")
LIST = reverse("logs_ui:list")
TOTALS = {"HX-Request": "true", "HX-Target": "totals"}
WINDOW = {"since": "2026-11-20T10:00", "until": "2026-11-20T12:00", "bucket": "hour"}


@pytest.fixture
def before_upgrade():
    logged(5, usage=(1000, 200))
    logged(80, usage=(2000, 100))
    Rollup.objects.filter(start__lt=epoch(60)).delete()  # A's hour, and the day of both
    Rollup.objects.filter(span=86400).delete()


def test_the_page_says_to_run_rollup_logs_then_counts_them(staff_client, before_upgrade):
    data = staff_client.get(DATA, WINDOW).json()
    assert data["source"] == "rollups" and data["total"]["requests"] == 1
    (warning,) = data["warnings"]
    assert "before 2026-11-20 11:00 UTC" in warning and "from 2026-11-20 10:05 UTC" in warning
    assert "run manage.py rollup_logs" in warning
    page = staff_client.get(PAGE, {**WINDOW, "range": "all"})
    assert "run manage.py rollup_logs once" in page.text
    # A range inside what the rollups count needs nothing.
    later = staff_client.get(DATA, {**WINDOW, "since": "2026-11-20T11:00"}).json()
    assert later["warnings"] == []
    call_command("rollup_logs")
    counted = staff_client.get(DATA, WINDOW).json()
    assert counted["warnings"] == [] and counted["total"]["requests"] == 2
    assert counted["total"]["cost_usd"] == "0.0105"


def test_no_rollups_at_all_says_so_too(staff_client, before_upgrade):
    Rollup.objects.all().delete()
    data = staff_client.get(DATA, WINDOW).json()
    assert data["total"]["requests"] == 0
    assert data["warnings"] == [
        "The rollups count no requests yet, but the log has some from 2026-11-20 10:05 UTC: "
        "run manage.py rollup_logs once to count them."
    ]
    assert "run manage.py rollup_logs once" in staff_client.get(PAGE, WINDOW).text


def test_list_totals_read_the_log_until_the_rollups_count_it(staff_client, before_upgrade):
    totals = staff_client.get(LIST, headers=TOTALS).text
    assert "<b>2</b> requests" in totals and "$0.0105" in totals
