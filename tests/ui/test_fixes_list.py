"""Issue 17's list fixes: the model box matches part of a name in any case, the results part
carries "Clear filters" out of band, and the totals count what the filter selects."""

import re

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from logs_ui.forms import LogFilterForm
from tests.ui.logs import make_log

pytestmark = pytest.mark.django_db
LIST = reverse("logs_ui:list")


def _get(client, query: str, target: str):
    return client.get(LIST + query, headers={"HX-Request": "true", "HX-Target": target}).text


def _ids(client, query: str) -> list[int]:
    html = _get(client, query, "results")
    return [int(i) for i in re.findall(r'<tr class="r[^"]*" data-id="(\d+)"', html)]


def test_the_model_box_matches_part_of_the_name_in_any_case(staff_client):
    mini = make_log(model="gpt-4o-mini")
    full = make_log(model="gpt-4o")
    make_log(model="claude-sonnet-4-5")
    assert _ids(staff_client, "?model=4O") == [full.id, mini.id]
    assert _ids(staff_client, "?model=MINI") == [mini.id]
    assert _ids(staff_client, "?model=sonnet-5") == []


def test_a_known_model_is_matched_exactly_on_its_index(staff_client):
    mini = make_log(model="gpt-4o-mini")
    full = make_log(model="gpt-4o")
    assert _ids(staff_client, "?model=GPT-4o") == [full.id]  # not gpt-4o-mini too
    f = LogFilterForm(QueryDict("model=GPT-4O-mini"))
    assert f.is_valid()
    assert (f.to_filter().model, f.to_filter().model_contains) == ("gpt-4o-mini", False)
    with CaptureQueriesContext(connection) as queries:
        assert _ids(staff_client, "?model=gpt-4o-mini") == [mini.id]
    listed = [q["sql"] for q in queries if "gateway_requestlog" in q["sql"] and "LIMIT" in q["sql"]]
    assert listed and all("LIKE" not in sql.upper() for sql in listed), listed


def test_the_totals_count_a_partial_model_name(staff_client):
    for model in ("gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5"):
        make_log(model=model)
    html = _get(staff_client, "?model=GPT", "totals")
    assert re.search(r"<b>2</b> requests", html), html


def test_the_results_part_carries_clear_filters_out_of_band(staff_client):
    make_log(provider="openai")
    html = _get(staff_client, "?provider=openai", "results")
    assert re.search(r'<span id="clear-filters" hx-swap-oob="true"><a class="clear"', html)
    html = _get(staff_client, "?provider=", "results")
    assert '<span id="clear-filters" hx-swap-oob="true"></span>' in html
    page = staff_client.get(LIST + "?provider=openai").text
    assert page.count('id="clear-filters"') == 1 and "hx-swap-oob" not in page.split("</form>")[0]
