"""The list's feedback and label filters: logs UI and GET /v1/logs."""

import pytest

from feedback.models import Feedback
from gateway.models import ApiKey
from tests.ui.logs import make_log

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def logs():
    """good: +1 by request id; bad: −1 ×2 and +1 on its trace (net −1), labelled wrong-box;
    mixed: +1 labelled wrong-box; plain: none."""
    good, bad, mixed, plain = (
        make_log(p, trace_id=t)
        for p, t in [("good", ""), ("bad", "tr-bad"), ("mixed", ""), ("plain", "")]
    )
    Feedback(trace_id=good.request_id, value=1).save()
    Feedback(trace_id="tr-bad", value=-1, weight=1.0, labels=["wrong-box"]).save()
    Feedback(trace_id="tr-bad", value=-1).save()
    Feedback(trace_id=bad.request_id, value=1).save()
    Feedback(trace_id=mixed.request_id, value=1, labels=["wrong-box", "ok"]).save()
    return {"good": good.id, "bad": bad.id, "mixed": mixed.id, "plain": plain.id}


def api_ids(client, **params) -> list[int]:
    key = ApiKey.generate("tools", can_read_logs=True)[1]
    response = client.get("/v1/logs", params, headers={"x-portkey-api-key": key})
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["data"]]


def names(logs, ids) -> set[str]:
    return {name for name, pk in logs.items() if pk in ids}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"feedback": "any"}, {"good", "bad", "mixed"}),
        ({"feedback": "positive"}, {"good", "mixed"}),
        ({"feedback": "negative"}, {"bad"}),
        ({"feedback": "none"}, {"plain"}),
        ({"label": "wrong-box"}, {"bad", "mixed"}),
        ({"feedback": "positive", "label": "wrong-box"}, {"mixed"}),
        ({"label": "nobody-uses-this"}, set()),
    ],
)
def test_the_api_list_filters_by_feedback_and_label(client, logs, params, expected):
    assert names(logs, api_ids(client, **params)) == expected


def test_the_api_refuses_an_unknown_feedback_filter(client):
    key = ApiKey.generate("tools", can_read_logs=True)[1]
    response = client.get("/v1/logs", {"feedback": "great"}, headers={"x-portkey-api-key": key})
    assert (
        response.status_code == 400 and "feedback is one of" in response.json()["error"]["message"]
    )


def test_the_ui_list_filters_by_feedback_and_label(staff_client, logs):
    html = staff_client.get("/logs/", {"feedback": "positive", "label": "wrong-box"}).content
    html = html.decode()
    assert f'href="/logs/{logs["mixed"]}/"' in html
    for other in ("good", "bad", "plain"):
        assert f'href="/logs/{logs[other]}/"' not in html
    assert '<option value="positive" selected>' in html and 'value="wrong-box"' in html


def test_feedback_on_a_shared_trace_counts_for_every_request_of_it(client):
    first, second = make_log("1", trace_id="conv"), make_log("2", trace_id="conv")
    Feedback(trace_id="conv", value=-2).save()
    assert api_ids(client, feedback="negative") == [second.id, first.id]


def test_the_lists_totals_count_only_the_filtered_requests(staff_client, logs):
    response = staff_client.get(
        "/logs/", {"feedback": "positive"}, headers={"HX-Request": "true", "HX-Target": "totals"}
    )
    assert "<b>2</b> requests" in response.content.decode()
