"""The live tail across replicas: a row whose transaction commits after a higher id's is
still shown, once (logs_ui/tailstate.py)."""

import re
import threading
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection, transaction
from django.urls import reverse

from gateway.models import RequestLog
from logs_ui import views
from logs_ui.tailstate import MAX_RANGES, TailState
from tests.ui.logs import make_log

LIST = reverse("logs_ui:list")
TAIL = reverse("logs_ui:tail")
HTMX = {"HX-Request": "true"}


def _ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="r[^"]*" data-id="(\d+)"', response.text)]


def _next_poll(response) -> str:
    """The URL the poller will ask next (the out-of-band poller, or the page's)."""
    found = re.search(r'id="tail-poller"[^>]*hx-get="([^"]+)"', response.text)
    assert found, "no poller"
    return unescape(found.group(1))


def _poll(client, url: str) -> tuple[list[int], str]:
    """The rows one poll shows, and the URL of the next poll (unchanged on a 204)."""
    response = client.get(url, headers=HTMX)
    if response.status_code == 204:
        return [], url
    assert response.status_code == 200
    return _ids(response), _next_poll(response)


def _late_commit(row: RequestLog, to_id: int) -> None:
    """What a replica's late commit looks like to a reader: a row appears below ids
    already visible (moved there: the database cannot be told to commit out of order)."""
    RequestLog.objects.filter(pk=row.pk).update(id=to_id)


@pytest.mark.django_db
def test_a_row_that_commits_below_a_shown_id_still_appears_once(staff_client):
    start = make_log("start")
    gap = make_log("id held by a slow transaction")
    gap_id = gap.id
    gap.delete()
    page = staff_client.get(LIST + "?live=1")
    url = _next_poll(page)
    shown, url = _poll(staff_client, url)
    assert shown == []
    after = make_log("committed first")
    shown, url = _poll(staff_client, url)
    assert shown == [after.id]
    _late_commit(make_log("committed late"), gap_id)
    shown, url = _poll(staff_client, url)
    assert shown == [gap_id]  # the tail that polled `id > newest shown` never showed it
    shown, url = _poll(staff_client, url)
    assert shown == []
    assert start.id < gap_id < after.id


@pytest.mark.django_db
def test_the_floor_settles_and_the_poll_url_stays_small(staff_client, settings):
    settings.LOGS_TAIL_SETTLE_SECONDS = 0
    make_log("start")
    url = _next_poll(staff_client.get(LIST + "?live=1"))
    rows = [make_log(f"row {i}").id for i in range(3)]
    shown, url = _poll(staff_client, url)
    assert sorted(shown) == rows
    shown, url = _poll(staff_client, url)  # due: every id up to the mark has settled
    query = parse_qs(urlsplit(url).query)
    assert query["floor"] == [str(rows[-1])] and "shown" not in query
    assert query["after"] == [str(rows[-1])]
    assert _poll(staff_client, url)[0] == []


@pytest.mark.django_db
def test_a_burst_past_the_limit_settles_no_further_than_it_read(staff_client, monkeypatch):
    monkeypatch.setattr(views, "TAIL_LIMIT", 2)
    start = make_log()
    burst = [make_log(f"burst {i}").id for i in range(5)]
    url = f"{TAIL}?live=1&after={start.id}&mark={burst[-1]}&mark_at=1"  # long due
    seen = []
    for _ in range(4):
        shown, url = _poll(staff_client, url)
        seen += shown
    assert sorted(seen) == burst and len(seen) == len(set(seen))


def test_the_state_is_bounded_and_survives_garbage():
    state = TailState(floor=10)
    state.saw(range(11, 11 + 2 * (MAX_RANGES + 5), 2))  # every other id: one range each
    state.bound()
    assert len(state.ranges()) == MAX_RANGES
    query = state.query()
    again = TailState.parse({**query, "mark": "x", "mark_at": "-"})
    assert again.shown == state.shown and again.floor == state.floor and again.mark is None
    assert TailState.parse({"after": "5", "shown": "1-3.9-2.x.0-100000000"}).shown == [6, 7, 8]


@pytest.mark.django_db(transaction=True)
def test_concurrent_transactions_on_postgresql(staff_client):
    """Two writers, as two replicas: the one holding the lower id commits last."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers: ids are visible in the order they were assigned")
    make_log("start")
    url = _next_poll(staff_client.get(LIST + "?live=1"))
    holding, release, late = threading.Event(), threading.Event(), {}

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                late["id"] = make_log("slow batch").id
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert holding.wait(30)
    # Another provider and model: the rollup rows the slow batch holds locked are not this one's.
    fast = make_log("fast batch", provider="anthropic", model="claude-sonnet-4-5")
    shown, url = _poll(staff_client, url)
    assert shown == [fast.id]
    release.set()
    writer.join(30)
    assert late["id"] < fast.id
    shown, url = _poll(staff_client, url)
    assert shown == [late["id"]]


@pytest.mark.django_db
def test_a_hand_made_poll_url_with_thousands_of_ranges_is_bounded_before_any_query(
    staff_client,
):
    """Each shown range was a chained exclude() (quadratic to build): a URL of 5,000 singleton
    ranges held a worker for seconds. The state is bounded as it is parsed, and the rows above
    the floor not shown still arrive."""
    shown = ".".join(str(2 * i + 1) for i in range(5000))  # every other id: a range each
    state = TailState.parse({"floor": "0", "shown": shown})
    assert len(state.ranges()) == MAX_RANGES
    row = make_log()
    _late_commit(row, 20_001)  # above every id the URL claims shown
    ids, _ = _poll(staff_client, f"{TAIL}?live=1&floor=0&shown={shown}")
    assert ids == [20_001]
