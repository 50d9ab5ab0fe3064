"""Where the analytics page reads the log, its first answer reads the newest
ANALYTICS_FIRST_LOG_ROWS rows only and says the rest is being read; its charts then ask
again with rows=all, which reads the whole range (up to ANALYTICS_MAX_LOG_ROWS). The JSON
answers whole at once. The five requests of tests/ui/test_analytics.py, by metadata app:
A 10:05 ocr, B 10:20 tagger, C 10:40 ocr (429), D 11:10 and E 12:30 unset."""

import json
import re

import pytest
from django.urls import reverse

from tests.ui.analytics_logs import prices  # noqa: F401 (fixture)
from tests.ui.test_analytics import five  # noqa: F401 (fixture: used by name)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices", "five")]
DATA = reverse("logs_ui:analytics-data")
PAGE = reverse("logs_ui:analytics")
QUERY = {
    "since": "2026-11-20T10:00",
    "until": "2026-11-20T13:00",
    "bucket": "hour",
    "group": "metadata",
    "meta_key": "app",
}
CHARTS = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "charts"}


def _totals(html: str) -> dict:
    found = re.search(r'<script id="analytics-data" type="application/json">(.*?)</script>', html)
    return json.loads(found[1])


@pytest.fixture
def first_two(settings):
    settings.ANALYTICS_FIRST_LOG_ROWS = 2
    settings.ANALYTICS_MAX_LOG_ROWS = 100


@pytest.mark.usefixtures("first_two")
def test_the_first_answer_reads_the_newest_rows_and_asks_for_the_rest(staff_client):
    response = staff_client.get(PAGE, QUERY, **CHARTS)
    html = response.text
    first = _totals(html)
    assert first["source"] == "log" and first["more"] is True
    assert first["total"]["requests"] == 2  # D and E
    assert [g["name"] for g in first["groups"]] == ["(not set)"]
    assert "the rest of the range is being read" in html and "2026-11-20 11:00 UTC" in html
    (follow,) = re.findall(r'class="a-more" hx-get="([^"]+)" hx-trigger="load"', html)
    assert "rows=all" in follow and "meta_key=app" in follow
    assert "rows=all" not in response["HX-Push-Url"]
    rest = staff_client.get(follow.replace("&amp;", "&"), **CHARTS)
    whole = _totals(rest.text)
    assert whole["more"] is False and whole["warnings"] == []
    assert whole["total"]["requests"] == 5
    assert [g["name"] for g in whole["groups"]] == ["(not set)", "ocr", "tagger"]
    assert 'class="a-more"' not in rest.text
    assert "rows=all" not in rest["HX-Push-Url"]


@pytest.mark.usefixtures("first_two")
def test_the_json_answers_the_whole_range_at_once(staff_client):
    data = staff_client.get(DATA, QUERY).json()
    assert data["total"]["requests"] == 5 and data["more"] is False


def test_a_range_within_the_first_rows_is_whole_at_once(staff_client):
    html = staff_client.get(PAGE, QUERY, **CHARTS).text
    assert _totals(html)["total"]["requests"] == 5 and 'class="a-more"' not in html


@pytest.mark.usefixtures("first_two")
def test_rollups_answer_whole_at_once(staff_client):
    query = {**QUERY, "group": "provider"}
    data = _totals(staff_client.get(PAGE, query, **CHARTS).text)
    assert data["source"] == "rollups" and data["more"] is False
    assert data["total"]["requests"] == 5


@pytest.mark.usefixtures("first_two")
def test_the_rows_read_are_the_newest_records_matching_or_not(staff_client):
    """A filter few records match is not chased back through the range: the first answer
    reads the newest 2 records (D, E), neither of them app=ocr (A and C are)."""
    query = {**QUERY, "group": "", "metadata": "app=ocr"}
    html = staff_client.get(PAGE, query, **CHARTS).text
    assert "No requests in this range for these filters" in html
    assert "so far, back to the hour of 2026-11-20 11:00 UTC" in html and 'class="a-more"' in html
    whole = _totals(staff_client.get(PAGE, {**query, "rows": "all"}, **CHARTS).text)
    assert whole["total"]["requests"] == 2 and whole["more"] is False
