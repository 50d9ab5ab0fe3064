"""The feedback filters answer the same whichever way they read: ids resolved from the
feedback first (rare feedback) or the log walked newest first (common feedback, or a trace
shared by more records than feedback/query.py lists)."""

import pytest

from feedback import query
from feedback.models import Feedback
from gateway.logquery import LogFilter
from gateway.logquery import filter_logs as logs_of
from gateway.logquery_pages import page
from tests.ui.logs import make_log

pytestmark = pytest.mark.django_db(transaction=True)

CASES = [
    ({"feedback": "any"}, {"good", "bad", "split", "conv1", "conv2"}),
    ({"feedback": "positive"}, {"good", "split"}),
    ({"feedback": "negative"}, {"bad", "conv1", "conv2"}),
    ({"feedback": "none"}, {"plain1", "plain2"}),
    ({"label": "wrong-box"}, {"bad", "split"}),
    ({"feedback": "positive", "label": "wrong-box"}, {"split"}),
]


@pytest.fixture
def logs():
    """split: −1 on its trace id (labelled) and +2 on its request id: positive overall, though
    one of its keys alone is negative. conv1/conv2 share a trace with −1."""
    made = {
        name: make_log(name, trace_id=trace)
        for name, trace in [
            ("plain1", ""),
            ("good", ""),
            ("conv1", "conv"),
            ("bad", "tr-bad"),
            ("split", "tr-split"),
            ("conv2", "conv"),
            ("plain2", "tr-none"),
        ]
    }
    Feedback(trace_id=made["good"].request_id, value=1).save()
    Feedback(trace_id="tr-bad", value=-1, labels=["wrong-box"]).save()
    Feedback(trace_id="tr-split", value=-1, labels=["wrong-box"]).save()
    Feedback(trace_id=made["split"].request_id, value=2).save()
    Feedback(trace_id="conv", value=-1).save()
    Feedback(trace_id="no-such-record", value=1).save()
    return {name: log.id for name, log in made.items()}


@pytest.fixture(params=["ids", "walk past the trace ids", "walk past the records"])
def strategy(request, monkeypatch):
    if request.param == "walk past the trace ids":
        monkeypatch.setattr(query, "KEYS_LISTED", 2)
    elif request.param == "walk past the records":
        monkeypatch.setattr(query, "IDS_LISTED", 2)
    return request.param


@pytest.mark.parametrize(("params", "expected"), CASES)
def test_each_way_finds_the_same_records_newest_first(logs, strategy, params, expected):
    ids = list(logs_of(LogFilter(**params)).values_list("id", flat=True))
    assert ids == sorted((logs[name] for name in expected), reverse=True)


@pytest.mark.parametrize(("params", "expected"), CASES)
def test_keyset_pages_walk_every_match_once(logs, strategy, params, expected):
    seen, before = [], None
    while True:
        rows, before = page(logs_of(LogFilter(**params, before=before)), 2)
        seen += [row.id for row in rows]
        if before is None:
            break
    assert seen == sorted((logs[name] for name in expected), reverse=True)


def test_the_filters_combine_with_the_others(logs, strategy):
    found = logs_of(LogFilter(feedback="any", trace_id="conv")).values_list("id", flat=True)
    assert list(found) == [logs["conv2"], logs["conv1"]]
