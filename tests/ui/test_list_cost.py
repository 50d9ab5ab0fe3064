"""The logs list's Cost column, cost filters, sorting by cost (keyset pages) and totals.

Prices (tests/ui/analytics_logs.py): gpt-4o $2.50/$10, claude-sonnet-4-5 $3/$15 per million
input/output tokens; gpt-4o-mini has none (unknown), nor has a request without usage.
"""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from gateway.errors import GatewayError
from logs_ui import views
from tests.ui.analytics_logs import (  # noqa: F401 (fixtures)
    BASE,
    logged,
    prices,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]
LIST = reverse("logs_ui:list")
HTMX = {"HX-Request": "true"}


def _ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="r[^"]*" data-id="(\d+)"', response.text)]


@pytest.fixture
def costs():
    """Six requests: four priced (two at the same cost), two unknown; ids in time order."""
    return {
        "a": logged(1, usage=(1000, 200)),  # 0.0025 + 0.002 = $0.0045
        "b": logged(2, usage=(2000, 100)),  # 0.005 + 0.001 = $0.006
        "unknown1": logged(3, model="gpt-4o-mini", usage=(10, 1)),
        "c": logged(4, provider="anthropic", model="claude-sonnet-4-5", usage=(3000, 300)),
        "tie": logged(5, usage=(1000, 200)),  # $0.0045 again
        "unknown2": logged(6, error=GatewayError(429, "Slow down.", code="rate_limit")),
    }


def test_a_row_shows_its_cost_and_unknown_never_zero(staff_client, costs):
    html = staff_client.get(LIST).text
    assert '<th class="num">Cost</th>' in html
    assert html.count(">$0.0045<") == 2 and ">$0.006<" in html and ">$0.0135<" in html
    assert html.count(">unknown</span>") == 2
    assert "$0.00<" not in html


def test_filters_by_cost(staff_client, costs):
    def ids(query: str) -> set[int]:
        return set(_ids(staff_client.get(LIST + query)))

    c = costs
    assert ids("?cost=unknown") == {c["unknown1"].id, c["unknown2"].id}
    assert ids("?cost=known") == {c["a"].id, c["b"].id, c["c"].id, c["tie"].id}
    assert ids("?cost_min=0.005") == {c["b"].id, c["c"].id}  # an unknown cost is no match
    assert ids("?cost_max=0.0045") == {c["a"].id, c["tie"].id}
    assert ids("?cost_min=0.0045&cost_max=0.006") == {c["a"].id, c["b"].id, c["tie"].id}
    bad = staff_client.get(LIST + "?cost_min=-1")
    assert bad.status_code == 200 and "cost_min" in bad.text and _ids(bad) == []


def test_sorts_by_cost_both_ways_unknown_last(staff_client, costs):
    c = costs
    dearest = _ids(staff_client.get(LIST + "?sort=-cost"))
    # Ties: oldest first when dearest first; newest first when cheapest first (see page_of).
    assert dearest == [c[k].id for k in ("c", "b", "a", "tie", "unknown2", "unknown1")]
    cheapest = _ids(staff_client.get(LIST + "?sort=cost"))
    assert cheapest == [c[k].id for k in ("tie", "a", "b", "c", "unknown2", "unknown1")]


@pytest.mark.parametrize("sort", ["-cost", "cost"])
def test_cost_pages_walk_the_whole_order(staff_client, costs, monkeypatch, sort):
    whole = _ids(staff_client.get(LIST + f"?sort={sort}"))
    monkeypatch.setattr(views, "PAGE_SIZE", 2)  # pages end on a tie, then at the unknown costs
    seen, query, cursors = [], f"?sort={sort}", []
    for _ in range(5):
        response = staff_client.get(LIST + query, headers=HTMX if seen else {})
        seen += _ids(response)
        cursor = re.search(r'hx-get="[^"]*before=([^"&]+)"', response.text)
        if not cursor:
            break
        cursors.append(cursor[1])
        query = f"?sort={sort}&before={cursor[1]}"
    assert seen == whole and len(whole) == 6
    assert len(cursors) == 2 and "%40" in cursors[0] and "%40" in cursors[1]  # id@cost


def test_a_bad_cursor_is_a_form_error(staff_client):
    response = staff_client.get(LIST + "?sort=-cost&before=12@abc")
    assert response.status_code == 200 and "is not a cursor" in response.text


def test_sorted_by_cost_there_is_no_live_tail(staff_client, costs):
    assert 'id="tail-poller"' in staff_client.get(LIST + "?live=1").text
    assert 'id="tail-poller"' not in staff_client.get(LIST + "?live=1&sort=-cost").text


def test_totals_for_the_filter(staff_client, costs):
    page = staff_client.get(LIST + "?provider=openai")
    assert 'id="totals"' in page.text and 'hx-trigger="load"' in page.text
    totals = staff_client.get(LIST + "?provider=openai", headers={**HTMX, "HX-Target": "totals"})
    text = re.sub(r"\s+", " ", totals.text)
    assert "<table" not in text
    # openai: a, b, tie priced (0.0045 + 0.006 + 0.0045); unknown1 (no price), unknown2 (429).
    assert "<b>5</b> requests" in text and '<b class="total-cost">$0.015</b>' in text
    assert "the 3 with a known cost" in text and '<b class="total-unknown">2</b> unknown' in text
    everything = staff_client.get(LIST, headers={**HTMX, "HX-Target": "totals"}).text
    assert "$0.0285" in everything  # + claude's 3000 × 3/1e6 + 300 × 15/1e6 = 0.0135
    none_known = staff_client.get(LIST + "?cost=unknown", headers={**HTMX, "HX-Target": "totals"})
    assert "cost unknown" in none_known.text


def test_totals_over_a_time_range(staff_client, costs):
    since = (BASE + timedelta(minutes=3, seconds=30)).strftime("%Y-%m-%dT%H:%M:%S")
    totals = staff_client.get(LIST, {"since": since}, headers={**HTMX, "HX-Target": "totals"})
    # c, tie and unknown2: 0.0135 + 0.0045, one unknown.
    assert "<b>3</b> requests" in totals.text and "$0.018" in totals.text
    assert '<b class="total-unknown">1</b>' in totals.text
