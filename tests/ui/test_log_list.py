import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gateway.errors import GatewayError
from gateway.models import RequestLog
from logs_ui import views
from tests.ui.logs import UrlImage, make_log, png

pytestmark = pytest.mark.django_db
LIST = reverse("logs_ui:list")
HTMX = {"HX-Request": "true"}


def _ids(response) -> list[int]:
    """The ids of the rows shown, in order (partials carry no test context, so read the HTML)."""
    return [int(i) for i in re.findall(r'<tr class="r[^"]*" data-id="(\d+)"', response.text)]


def test_it_lists_requests_newest_first(staff_client):
    first, second = make_log("first prompt"), make_log("second prompt")
    response = staff_client.get(LIST)
    assert response.status_code == 200
    assert _ids(response) == [second.id, first.id]
    html = response.content.decode()
    assert html.index("second prompt") < html.index("first prompt")


def test_it_shows_what_a_row_is_about(staff_client):
    log = make_log(
        "Describe the cat",
        "A ginger cat.",
        images=[png(), png(color=(1, 2, 3))],
        model="gpt-4o",
        trace_id="trace-42",
        metadata={"app": "tagger"},
    )
    RequestLog.objects.filter(pk=log.pk).update(latency_ms=812.4, ttft_ms=95.0)
    html = staff_client.get(LIST).content.decode()
    assert f'href="/logs/{log.id}/"' in html
    assert 'class="pill ok">200<' in html
    assert "gpt-4o" in html and "openai" in html
    assert "812 ms" in html and "TTFT 95 ms" in html
    assert "37" in html and "30 → 7" in html  # tokens: total, prompt → completion
    assert html.count("/thumb-96.webp") == 2
    assert "trace-42" in html and "trace_id=trace-42" in html
    assert "app=tagger" in html and "metadata=app%3Dtagger" in html
    assert "Describe the cat" in html and "A ginger cat." in html


def test_it_shows_metadata_with_a_key_named_items(staff_client):
    make_log(metadata={"items": "x", "app": "tagger"})
    response = staff_client.get(LIST)
    assert response.status_code == 200
    assert "items=x" in response.text and "app=tagger" in response.text


def test_it_colours_statuses(staff_client):
    make_log(error=GatewayError(429, "Slow down.", code="rate_limit"))
    make_log(error=GatewayError(502, "Upstream failed.", code="upstream_unreachable"))
    html = staff_client.get(LIST).content.decode()
    assert 'class="pill warn">429<' in html
    assert 'class="pill bad">502<' in html
    assert "Slow down." in html


def test_it_flags_images_it_cannot_preview(staff_client):
    make_log(images=[UrlImage("https://example.com/gone.png", error="fetch failed: HTTP 404")])
    html = staff_client.get(LIST).content.decode()
    assert "⚠ 1" in html
    assert "thumb-96" not in html


def test_it_escapes_model_output_in_the_list(staff_client):
    make_log("<b>bold</b>?", "<script>alert(1)</script>", metadata={"k": "<i>x</i>"})
    html = staff_client.get(LIST).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html and "<i>x</i>" not in html


def test_it_answers_htmx_with_the_part_it_swaps(staff_client):
    make_log("only prompt")
    results = staff_client.get(LIST + "?q=only", headers={**HTMX, "HX-Target": "results"})
    body = results.content.decode()
    assert "<html" not in body and 'id="filters"' not in body
    assert '<tbody id="rows">' in body and "only prompt" in body
    assert results["HX-Push-Url"] == "/logs/?q=only"
    assert "HX-Request" in results["Vary"]
    whole = staff_client.get(LIST + "?q=only", headers={**HTMX, "HX-Target": "logs"})
    assert 'id="filters"' in whole.content.decode() and "<html" not in whole.content.decode()
    rows = staff_client.get(LIST + "?before=999999", headers=HTMX).content.decode()
    assert rows.lstrip().startswith("<tr") and "<table" not in rows


def test_it_renders_the_whole_page_for_a_history_restore(staff_client):
    response = staff_client.get(LIST, headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in response.content.decode()


def test_it_pages_with_a_keyset_cursor_and_a_revealed_sentinel(staff_client, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    logs = [make_log(f"prompt {i}") for i in range(7)]
    newest_first = [log.id for log in reversed(logs)]
    first = staff_client.get(LIST + "?provider=openai")
    assert _ids(first) == newest_first[:3]
    cursor = first.context["cursor"]
    assert cursor == newest_first[2]
    html = first.content.decode()
    assert f'hx-get="/logs/?provider=openai&amp;before={cursor}"' in html
    assert 'hx-trigger="revealed"' in html
    second = staff_client.get(f"{LIST}?provider=openai&before={cursor}", headers=HTMX)
    assert _ids(second) == newest_first[3:6]
    cursor = re.search(r"before=(\d+)", second.text)[1]
    third = staff_client.get(f"{LIST}?provider=openai&before={cursor}")
    assert _ids(third) == newest_first[6:]
    assert third.context["cursor"] is None
    assert 'hx-trigger="revealed"' not in third.content.decode()


def test_it_never_uses_offset_paging(staff_client, django_assert_max_num_queries):
    make_log()
    with django_assert_max_num_queries(8) as queries:
        staff_client.get(LIST + "?before=100")
    assert not any("OFFSET" in q["sql"] for q in queries.captured_queries)


def test_it_loads_no_large_columns_nor_the_key_for_rows(staff_client):
    old = make_log("x" * 5000)
    make_log()
    tail = reverse("logs_ui:tail")
    with CaptureQueriesContext(connection) as queries:
        assert staff_client.get(LIST).status_code == 200
        staff_client.get(f"{tail}?live=1&after={old.id}", headers=HTMX)
    selected = [q["sql"].split(" FROM ")[0] for q in queries.captured_queries]
    assert not any('"search_text"' in s or '"request_body"' in s for s in selected)
    assert not any("gateway_apikey" in q["sql"] for q in queries.captured_queries)


def test_it_shows_an_empty_state_with_a_first_request_to_send(staff_client):
    html = staff_client.get(LIST).content.decode()
    assert "No requests yet" in html
    assert "curl http://testserver/v1/chat/completions" in html
    assert "x-portkey-provider: openai" in html
    assert "manage.py seed_demo" in html


def test_it_tells_when_filters_match_nothing(staff_client):
    make_log()
    html = staff_client.get(LIST + "?provider=nobody").content.decode()
    assert "No requests match these filters" in html
    assert "No requests yet" not in html


def test_it_shows_invalid_filters_without_failing(staff_client):
    make_log("hello")
    response = staff_client.get(LIST + "?status=teapot&since=yesterday")
    assert response.status_code == 200
    html = response.content.decode()
    assert "status" in html and "alert" in html
    assert _ids(response) == []


def test_it_keeps_the_filters_in_the_form(staff_client):
    make_log(provider="openai", model="gpt-4o", trace_id="t-1", metadata={"env": "prod"})
    query = "?provider=openai&model=gpt-4o&status=2xx&range=24h&has_images=0&trace_id=t-1"
    html = staff_client.get(LIST + query + "&metadata=env%3Dprod&q=hi&live=1").content.decode()
    assert '<option value="openai" selected>' in html
    assert 'name="model" list="known-models" value="gpt-4o"' in html
    assert '<option value="2xx" selected>' in html
    assert '<option value="24h" selected>' in html
    assert '<option value="0" selected>' in html
    assert 'name="trace_id" value="t-1"' in html
    assert 'name="metadata" value="env=prod" checked' in html
    assert 'name="q" value="hi"' in html
    assert 'name="live" value="1" checked' in html
    assert 'hx-push-url="true"' in html


def test_it_polls_for_new_rows_when_live(staff_client):
    old = make_log("old one")
    html = staff_client.get(LIST + "?live=1&provider=openai").content.decode()
    assert 'id="tail-poller"' in html and 'hx-trigger="every 2s"' in html
    assert f"/logs/tail/?live=1&amp;provider=openai&amp;after={old.id}" in html
    assert 'id="tail-poller"' not in staff_client.get(LIST).content.decode()


def test_it_tails_only_newer_matching_rows(staff_client):
    old = make_log("old one")
    new = make_log("new one")
    make_log("other provider", provider="anthropic")
    tail = reverse("logs_ui:tail")
    response = staff_client.get(f"{tail}?live=1&provider=openai&after={old.id}", headers=HTMX)
    assert response.status_code == 200
    assert _ids(response) == [new.id]
    html = response.content.decode()
    assert 'class="r fresh"' in html
    assert 'hx-swap-oob="true"' in html and f"after={new.id}" in html
    nothing = staff_client.get(f"{tail}?live=1&provider=openai&after={new.id}", headers=HTMX)
    assert nothing.status_code == 204


def test_it_tails_a_burst_oldest_first_without_gaps(staff_client, monkeypatch):
    monkeypatch.setattr(views, "TAIL_LIMIT", 2)
    start = make_log()
    burst = [make_log(f"burst {i}").id for i in range(3)]
    tail = reverse("logs_ui:tail")
    first = staff_client.get(f"{tail}?live=1&after={start.id}", headers=HTMX)
    assert _ids(first) == [burst[1], burst[0]]
    second = staff_client.get(f"{tail}?live=1&after={burst[1]}", headers=HTMX)
    assert _ids(second) == [burst[2]]


def test_it_stops_polling_when_live_is_off_or_the_filter_is_bad(staff_client):
    tail = reverse("logs_ui:tail")
    assert staff_client.get(f"{tail}?after=1", headers=HTMX).status_code == 286
    assert staff_client.get(f"{tail}?live=1&status=bad", headers=HTMX).status_code == 286


def test_it_offers_known_providers_and_models(staff_client):
    make_log(provider="openai", model="gpt-4o")
    make_log(provider="anthropic", model="claude-sonnet-4-5")
    html = staff_client.get(LIST).content.decode()
    assert '<option value="anthropic">anthropic</option>' in html
    assert '<option value="claude-sonnet-4-5">' in html


def test_it_filters_by_time_range(staff_client):
    old, new = make_log("old"), make_log("new")
    RequestLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert _ids(staff_client.get(LIST + "?range=24h")) == [new.id]
    assert _ids(staff_client.get(LIST + "?range=7d")) == [new.id, old.id]
    cut = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert _ids(staff_client.get(f"{LIST}?until={cut}")) == [old.id]
    assert _ids(staff_client.get(f"{LIST}?since={cut}")) == [new.id]
