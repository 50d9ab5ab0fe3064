import re

import pytest
from django.http import QueryDict
from django.urls import reverse

from gateway.errors import GatewayError
from gateway.logquery import LogFilter, filter_logs
from gateway.logrecord import other_uses
from logs_ui.forms import LogFilterForm, clean_query
from tests.ui.logs import UrlImage, make_log, png

pytestmark = pytest.mark.django_db
LIST = reverse("logs_ui:list")


def _ids(client, query: str) -> list[int]:
    html = client.get(LIST + query, headers={"HX-Request": "true", "HX-Target": "results"}).text
    return [int(i) for i in re.findall(r'<tr class="r[^"]*" data-id="(\d+)"', html)]


def test_it_filters_by_provider_and_model(staff_client):
    a = make_log(provider="openai", model="gpt-4o")
    b = make_log(provider="anthropic", model="claude-sonnet-4-5")
    assert _ids(staff_client, "?provider=anthropic") == [b.id]
    assert _ids(staff_client, "?model=gpt-4o") == [a.id]
    assert _ids(staff_client, "?provider=openai&model=claude-sonnet-4-5") == []


def test_it_filters_by_status_class(staff_client):
    ok = make_log()
    limited = make_log(error=GatewayError(429, "Slow down."))
    broken = make_log(error=GatewayError(502, "Upstream down."))
    assert _ids(staff_client, "?status=2xx") == [ok.id]
    assert _ids(staff_client, "?status=4xx") == [limited.id]
    assert _ids(staff_client, "?status=5xx") == [broken.id]
    assert _ids(staff_client, "?status=error") == [broken.id, limited.id]
    assert _ids(staff_client, "?status=429") == [limited.id]


def test_it_filters_by_images(staff_client):
    with_image, without = make_log(images=[png()]), make_log()
    assert _ids(staff_client, "?has_images=1") == [with_image.id]
    assert _ids(staff_client, "?has_images=0") == [without.id]


def test_it_filters_by_trace_id(staff_client):
    one, two = make_log(trace_id="checkout-1"), make_log(trace_id="checkout-1")
    make_log(trace_id="checkout-2")
    assert _ids(staff_client, "?trace_id=checkout-1") == [two.id, one.id]


def test_it_filters_by_metadata_pairs(staff_client):
    prod = make_log(metadata={"env": "prod", "user": "u1"})
    make_log(metadata={"env": "staging", "user": "u1"})
    assert _ids(staff_client, "?metadata=env%3Dprod") == [prod.id]
    assert _ids(staff_client, "?metadata=env%3Dprod&metadata=user%3Du1") == [prod.id]
    assert _ids(staff_client, "?metadata=env%3Dprod&metadata=user%3Du2") == []


def test_it_takes_metadata_keys_literally(staff_client):
    odd = make_log(metadata={"a__b": "1", "contains": "x", "has space": "y"})
    assert _ids(staff_client, "?metadata=a__b%3D1") == [odd.id]
    assert _ids(staff_client, "?metadata=contains%3Dx") == [odd.id]
    assert _ids(staff_client, "?metadata=has+space%3Dy") == [odd.id]


def test_it_matches_metadata_values_exactly_whatever_their_characters(staff_client):
    zurich = make_log(metadata={"city": "Zürich", "q": 'say "hi" 100%_'})
    make_log(metadata={"city": "Zürich-Nord", "other": "Zürich"})
    assert _ids(staff_client, "?metadata=city%3DZ%C3%BCrich") == [zurich.id]
    assert _ids(staff_client, "?metadata=q%3Dsay+%22hi%22+100%25_") == [zurich.id]
    assert _ids(staff_client, "?metadata=city%3DZ%C3%BCr") == []


def test_it_searches_prompts_and_replies(staff_client):
    cat = make_log("Describe the CAT please", "A dog.")
    dog = make_log("Describe this", "It is a cat on a mat.")
    make_log("Nothing here", "Nope.")
    assert _ids(staff_client, "?q=cat") == [dog.id, cat.id]
    assert _ids(staff_client, "?q=mat") == [dog.id]


def test_it_searches_whole_conversations_past_the_previews(staff_client):
    long_reply = "word " * 200 + "needle in the reply"
    in_reply = make_log("Describe this", long_reply)
    in_system = make_log("Describe this", "ok", system="You grade haystacks.")
    streamed = make_log("Describe this", "a streamed pinecone", stream=True)
    tool = make_log("Box it", None, tool_call={"name": "report_box", "arguments": '{"x": 7}'})
    make_log("Nothing here", "Nope.")
    assert len(in_reply.reply_preview) == 300 and "needle" not in in_reply.reply_preview
    assert _ids(staff_client, "?q=NEEDLE") == [in_reply.id]
    assert _ids(staff_client, "?q=haystack") == [in_system.id]
    assert _ids(staff_client, "?q=pinecone") == [streamed.id]
    assert _ids(staff_client, "?q=report_box") == [tool.id]


def test_it_filters_by_image(staff_client):
    shared = png(color=(9, 9, 9))
    first = make_log(images=[shared])
    second = make_log(images=[shared, shared])  # the same image twice: listed once
    make_log(images=[png(color=(1, 1, 1))])
    sha = first.images.first().blob_id
    assert _ids(staff_client, f"?image={sha}") == [second.id, first.id]
    assert other_uses(sha, log_id=first.id) == 1
    assert other_uses(sha, log_id=first.id, cap=0) == 0


def test_it_combines_filters(staff_client):
    target = make_log("find me", provider="openai", trace_id="t", metadata={"env": "prod"})
    make_log("find me", provider="openai", trace_id="t", metadata={"env": "dev"})
    make_log("find me", provider="google", trace_id="t", metadata={"env": "prod"})
    query = "?q=find&provider=openai&trace_id=t&metadata=env%3Dprod&status=2xx&has_images=0"
    assert _ids(staff_client, query) == [target.id]


def test_it_turns_the_query_string_into_a_log_filter():
    form = LogFilterForm(
        QueryDict(
            "q=cat&provider=openai&model=gpt-4o&status=4xx&has_images=1&trace_id=t1"
            "&metadata=env%3Dprod&metadata=team%3Da%3Db&image=" + "a" * 64 + "&before=9&live=1"
        )
    )
    assert form.is_valid(), form.errors
    f = form.to_filter()
    assert (f.search, f.provider, f.model, f.status) == ("cat", "openai", "gpt-4o", "4xx")
    assert f.has_images is True and f.trace_id == "t1" and f.before == 9
    assert f.metadata == {"env": "prod", "team": "a=b"}
    assert f.image_sha256 == "a" * 64
    assert form.is_filtered


def test_it_turns_a_time_range_into_since():
    form = LogFilterForm(QueryDict("range=1h"))
    assert form.is_valid()
    f = form.to_filter()
    assert f.since is not None and f.until is None


def test_it_rejects_bad_filters_and_ignores_them():
    form = LogFilterForm(QueryDict("status=teapot&metadata=novalue&image=xyz&provider=openai"))
    assert not form.is_valid()
    assert set(form.errors) == {"status", "metadata", "image"}
    f = form.to_filter()
    assert f.provider == "openai" and f.status == "" and f.metadata == {}


def test_it_does_not_count_paging_or_live_as_a_filter():
    assert not LogFilterForm(QueryDict("live=1&before=5&q=")).is_filtered


def test_it_tidies_a_query_string():
    query = clean_query(QueryDict("q=&provider=openai&before=3&metadata=a%3D1&metadata="))
    assert query.urlencode() == "provider=openai&metadata=a%3D1"


def test_it_keeps_the_json_api_filter_working():
    a = make_log(metadata={"env": "prod"}, images=[UrlImage("https://x.test/a.png", png())])
    make_log()
    rows = filter_logs(LogFilter(metadata={"env": "prod"}, has_images=True))
    assert list(rows) == [a]
