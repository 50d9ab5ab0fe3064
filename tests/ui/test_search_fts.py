"""The logs list's search as users see it: a case-insensitive substring of the conversation,
whatever the query's characters, by index (SQLite: FTS5 trigram; PostgreSQL: pg_trgm)."""

import re

import pytest
from django.urls import reverse

from tests.ui.logs import make_log

pytestmark = pytest.mark.django_db
LIST = reverse("logs_ui:list")
HTMX = {"HX-Request": "true", "HX-Target": "results"}


def _ids(client, query: str) -> list[int]:
    response = client.get(LIST, {"q": query}, headers=HTMX)
    assert response.status_code == 200
    return [int(i) for i in re.findall(r'<tr class="r[^"]*" data-id="(\d+)"', response.text)]


def test_a_search_finds_a_substring_in_any_case_and_misses_what_is_absent(staff_client):
    receipt = make_log("Extract the total from this Receipt.", "Total: 42.10 EUR")
    make_log("Describe this cat.", "A tabby cat.")
    assert _ids(staff_client, "ceip") == [receipt.id]  # inside a word
    assert _ids(staff_client, "RECEIPT") == [receipt.id]
    assert _ids(staff_client, "42.10 eur") == [receipt.id]  # the reply, spaces and dots
    assert _ids(staff_client, "receipts") == []
    assert _ids(staff_client, "zebra-crossing") == []


def test_unicode_is_matched_in_any_case(staff_client):
    zurich = make_log("Wo liegt ZÜRICH?", "Die Straße ist in Zürich.")
    tokyo = make_log("東京タワーの写真です", "はい")
    make_log("Zurich without the umlaut", "ok")
    assert _ids(staff_client, "zürich") == [zurich.id]
    assert _ids(staff_client, "STRASSE") == []  # no folding of ß to ss: a substring search
    assert _ids(staff_client, "Straße") == [zurich.id]
    assert _ids(staff_client, "京タワ") == [tokyo.id]
    assert _ids(staff_client, "😀😀😀") == []


@pytest.mark.parametrize(
    "query",
    ['"hi"', '"', '""', "AND *", "cat AND", "NEAR(", "col:v", "-y", "^z", "a OR b", "(x)", "%_"],
)
def test_query_syntax_characters_mean_themselves(staff_client, query):
    literal = make_log('say "hi" "" cat AND * NEAR(x) col:v -y ^z a OR b (x) 100%_', "ok")
    make_log("dog and cat; near x, col v; b or a; y z; hi", "ok")  # the words, not the text
    assert _ids(staff_client, query) == [literal.id]


def test_words_are_not_an_and_query(staff_client):
    both = make_log("the cat sat; later a dog came", "ok")
    assert _ids(staff_client, "cat dog") == []
    assert _ids(staff_client, "cat sat") == [both.id]


def test_a_short_search_scans_the_newest_records_only(staff_client, settings):
    old = make_log("xq at the start", "ok")
    newer = [make_log("no such pair", "ok") for _ in range(2)]
    newest = make_log("XQ again", "ok")
    assert _ids(staff_client, "xq") == [newest.id, old.id]
    assert _ids(staff_client, "Q") == [newest.id, old.id]
    settings.LOG_SEARCH_SHORT_ROWS = 3  # the newest three: old is past the bound
    assert _ids(staff_client, "xq") == [newest.id]
    assert newer  # between them


def test_the_totals_count_what_the_search_finds(staff_client):
    for _ in range(3):
        make_log("find the needle here", "ok")
    make_log("nothing", "ok")
    html = staff_client.get(
        LIST, {"q": "NEEDLE"}, headers={"HX-Request": "true", "HX-Target": "totals"}
    ).text
    assert "<b>3</b> requests" in html, html
