"""Routing by a config in the logs UI: the request page's attempt chain, the list's badges and
its routing and config filters (the analytics page and the totals honour them too)."""

import re

import pytest
from django.urls import reverse

from gateway.configs.models import Config
from gateway.errors import GatewayError
from gateway.models import RequestLog
from logs_ui.forms import LogFilterForm
from tests.ui.logs import make_log
from tests.ui.routed_logs import CACHE_HIT, EVIL_ERROR, FALLBACK_CHAIN, TOO_LARGE, routed_log

pytestmark = pytest.mark.django_db
LIST = reverse("logs_ui:list")
SIMPLE = {"strategy": {"mode": "fallback"}, "targets": [{"provider": "openai"}]}


def _ids(client, query: str) -> list[int]:
    html = client.get(LIST + query, headers={"HX-Request": "true", "HX-Target": "results"}).text
    return [int(i) for i in re.findall(r'<tr class="r[^"]*" data-id="(\d+)"', html)]


def _chain_rows(html: str) -> list[str]:
    table = re.search(r'<table class="chain">(.*?)</table>', html, re.S)
    assert table, "no attempt chain on the page"
    return re.findall(r'<tr class="attempt[^"]*".*?</tr>', table[1], re.S)


def test_the_request_page_shows_each_attempt_and_which_one_answered(staff_client):
    config = Config.objects.create(slug="vision-fallback", body=SIMPLE)
    log = routed_log(FALLBACK_CHAIN, config_id="vision-fallback", cache_status="MISS")
    html = staff_client.get(reverse("logs_ui:detail", args=[log.id])).text
    rows = _chain_rows(html)
    assert len(rows) == 4
    first, retry, skipped, answer = rows
    assert 'data-target="config.targets[0]"' in first and ">500<" in first
    assert "openai" in first and "gpt-4o" in first and "12 ms" in first
    assert '<td class="num a-retry">1</td>' in retry
    assert 'class="attempt skipped"' in skipped and "@claude-prod" in skipped
    assert f"skipped: {TOO_LARGE}" in skipped and ">skip<" in skipped
    assert 'class="attempt answered"' in answer and "answered" in answer
    assert "gemini-2.5-flash" in answer and ">200<" in answer and "fallback" in answer
    assert all("answered-mark" not in row for row in (first, retry, skipped))
    # The config links to its admin page (the viewer is staff), and the cache status shows.
    admin_url = reverse("admin:gateway_config_change", args=[config.pk])
    assert f'<a href="{admin_url}"' in html
    assert re.search(r'<dd id="cache-status">MISS</dd>', html)


def test_an_attempts_error_text_is_escaped(staff_client):
    log = routed_log(FALLBACK_CHAIN)
    html = staff_client.get(reverse("logs_ui:detail", args=[log.id])).text
    assert EVIL_ERROR not in html and "<script>window.__pwned" not in html
    escaped = "&lt;script&gt;window.__pwned = 1&lt;/script&gt;Upstream &lt;b&gt;broke&lt;/b&gt;"
    assert escaped in html


def test_an_inline_config_is_named_without_a_link_and_a_viewer_gets_no_admin_link(viewer_client):
    Config.objects.create(slug="saved", body=SIMPLE)
    inline = routed_log(CACHE_HIT, cache_status="HIT")
    saved = routed_log(CACHE_HIT, config_id="saved", cache_status="HIT")
    for log in (inline, saved):
        html = viewer_client.get(reverse("logs_ui:detail", args=[log.id])).text
        ref = re.search(r'<dd class="mono" id="config-ref">(.*?)</dd>', html, re.S)[1]
        assert "/admin/" not in ref and log.config_id in ref
        assert f"?config={log.config_id}" in ref  # the list of its requests
        [row] = _chain_rows(html)
        assert "answered" in row and "HIT" in row


def test_a_chain_where_every_target_failed_has_no_answer(staff_client):
    failed = [{**a, "status": 503, "error": "down"} for a in FALLBACK_CHAIN[:2]]
    log = routed_log(failed, error=GatewayError(503, "down"))
    html = staff_client.get(reverse("logs_ui:detail", args=[log.id])).text
    assert len(_chain_rows(html)) == 2 and "answered-mark" not in html


def test_a_request_without_a_config_has_no_chain(staff_client):
    log = make_log()
    html = staff_client.get(reverse("logs_ui:detail", args=[log.id])).text
    assert 'class="chain"' not in html and 'id="config-ref"' not in html


def test_a_malformed_stored_attempt_is_shown_as_far_as_it_goes(staff_client):
    # Not what this Iris writes: what a degraded record or another version might have kept.
    log = routed_log(CACHE_HIT)
    bad = [{"target": "config", "status": "oops", "latency_ms": True}, "junk", 7]
    RequestLog.objects.filter(pk=log.pk).update(attempts=bad)
    html = staff_client.get(reverse("logs_ui:detail", args=[log.id])).text
    [row] = _chain_rows(html)
    assert "config" in row and "answered-mark" not in row


def test_the_list_marks_retried_fallen_back_and_cached_requests(staff_client):
    chain = routed_log(FALLBACK_CHAIN, config_id="vision-fallback")
    hit = routed_log(CACHE_HIT, cache_status="HIT")
    plain = make_log()
    html = staff_client.get(LIST).text
    rows = {int(i): row for i, row in re.findall(r'data-id="(\d+)">(.*?)</tr>', html, re.S)}
    assert "route retried" in rows[chain.id] and "route fell-back" in rows[chain.id]
    assert "route cached" not in rows[chain.id]
    assert "route cached" in rows[hit.id] and "route retried" not in rows[hit.id]
    assert "tag route" not in rows[plain.id] and "chip config" not in rows[plain.id]
    assert "config vision-fallback" in rows[chain.id]
    assert "?config=vision-fallback" in rows[chain.id]


def test_the_list_filters_by_routing_and_by_config(staff_client):
    chain = routed_log(FALLBACK_CHAIN, config_id="vision-fallback")
    answered = {**FALLBACK_CHAIN[0], "retry": 2, "status": 200}
    retried_only = routed_log([*FALLBACK_CHAIN[:2], answered])
    hit = routed_log(CACHE_HIT, config_id="cached-one", cache_status="HIT")
    make_log()
    assert _ids(staff_client, "?routing=retried") == [retried_only.id, chain.id]
    assert _ids(staff_client, "?routing=fell_back") == [chain.id]
    assert _ids(staff_client, "?routing=cached") == [hit.id]
    assert _ids(staff_client, "?routing=config") == [hit.id, retried_only.id, chain.id]
    assert _ids(staff_client, "?config=vision-fallback") == [chain.id]
    assert _ids(staff_client, "?config=inline") == [retried_only.id]
    assert _ids(staff_client, "?config=cached-one&routing=retried") == []


def test_the_filters_show_in_the_form_and_survive_in_the_url(staff_client):
    routed_log(FALLBACK_CHAIN, config_id="vision-fallback")
    response = staff_client.get(
        LIST + "?routing=fell_back&config=vision-fallback",
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    assert response["HX-Push-Url"] == f"{LIST}?routing=fell_back&config=vision-fallback"
    html = staff_client.get(LIST + "?routing=fell_back&config=vision-fallback").text
    assert '<option value="fell_back" selected>Fell back</option>' in html
    assert 'name="config" value="vision-fallback"' in html
    assert "Clear filters" in html


def test_an_unknown_routing_value_is_an_error_shown_not_a_crash(staff_client):
    routed_log(CACHE_HIT)
    response = staff_client.get(LIST + "?routing=sideways")
    assert response.status_code == 200
    assert "<b>routing</b>" in response.text
    assert not LogFilterForm({"routing": "sideways"}).is_valid()


def test_the_totals_count_only_the_filtered_routing(staff_client):
    routed_log(FALLBACK_CHAIN)
    routed_log(CACHE_HIT, cache_status="HIT")
    make_log()
    html = staff_client.get(
        LIST + "?routing=cached", headers={"HX-Request": "true", "HX-Target": "totals"}
    ).text
    assert re.search(r"<b>1</b> request ", html), html


def test_the_analytics_page_takes_the_same_filters(staff_client):
    routed_log(CACHE_HIT, cache_status="HIT")
    make_log()
    data = staff_client.get(reverse("logs_ui:analytics-data") + "?routing=cached").json()
    assert data["total"]["requests"] == 1 and data["source"] == "log", data
