"""POST/PUT/GET /v1/feedback in-process: Portkey's shapes, validation, keys."""

import pytest

from feedback.models import Feedback, FeedbackLabel
from gateway.models import ApiKey

# transaction=True: the async views reach the database through gateway.db.orm (see
# tests/api/test_logs_api.py).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def key() -> str:
    return ApiKey.generate("app")[1]


def post(client, key, body, **headers):
    return client.post(
        "/v1/feedback", body, content_type="application/json", headers={"x-portkey-api-key": key}
    )


def put(client, key, fid, body):
    return client.put(
        f"/v1/feedback/{fid}",
        body,
        content_type="application/json",
        headers={"x-portkey-api-key": key},
    )


def test_create_answers_portkeys_shape_and_stores_everything(client, key):
    body = {
        "trace_id": "t-1",
        "value": 5,
        "weight": 0.5,
        "metadata": {"_user": "u42", "text": "<b>ok</b>"},
        "labels": ["ocr-miss", " ocr-miss ", "wrong-box"],
        "comment": "close",
    }
    response = post(client, key, body)
    assert response.status_code == 200, response.content
    out = response.json()
    assert out["status"] == "success"
    assert out["message"] == "Feedback created successfully"
    (fid,) = out["feedback_ids"]
    fb = Feedback.objects.get(pk=fid)
    assert (fb.trace_id, fb.value, fb.weight, fb.source) == ("t-1", 5, 0.5, "api")
    assert fb.metadata == {"_user": "u42", "text": "<b>ok</b>"}
    assert fb.labels == ["ocr-miss", "wrong-box"]
    assert fb.user_name == "u42" and fb.api_key.name == "app" and fb.comment == "close"
    assert sorted(FeedbackLabel.objects.values_list("name", flat=True)) == fb.labels


def test_weight_defaults_to_one_and_a_list_creates_many_in_order(client, key):
    response = post(client, key, [{"trace_id": "a", "value": 1}, {"trace_id": "b", "value": -10}])
    ids = response.json()["feedback_ids"]
    assert [Feedback.objects.get(pk=i).trace_id for i in ids] == ["a", "b"]
    assert Feedback.objects.get(pk=ids[0]).weight == 1.0


def test_update_changes_only_what_is_sent(client, key):
    fid = post(client, key, {"trace_id": "t", "value": 1, "labels": ["x"]}).json()["feedback_ids"][
        0
    ]
    response = put(client, key, fid, {"value": -3, "metadata": {"why": "late"}, "labels": ["y"]})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "success",
        "message": "Feedback updated successfully",
        "feedback_ids": [fid],
    }
    fb = Feedback.objects.get(pk=fid)
    assert (fb.value, fb.weight, fb.metadata, fb.labels) == (-3, 1.0, {"why": "late"}, ["y"])
    assert list(fb.label_rows.values_list("name", flat=True)) == ["y"]
    assert fb.updated_at > fb.created_at


@pytest.mark.parametrize("fid", ["0b7c5c55-8d0e-4bd4-9b9c-4a4f2b3c1d00", "not-a-uuid"])
def test_update_of_an_unknown_feedback_is_a_404(client, key, fid):
    response = put(client, key, fid, {"value": 1})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "feedback_not_found"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"value": 1}, "trace_id"),
        ({"trace_id": "t"}, "value"),
        ({"trace_id": "t", "value": 11}, "value"),
        ({"trace_id": "t", "value": 1.5}, "value"),
        ({"trace_id": "t", "value": True}, "value"),
        ({"trace_id": "t", "value": "1"}, "value"),
        ({"trace_id": "t", "value": 1, "weight": 2}, "weight"),
        ({"trace_id": "t", "value": 1, "metadata": [1]}, "metadata"),
        ({"trace_id": "t", "value": 1, "labels": "x"}, "labels"),
        ([{"trace_id": "t", "value": 1}, {"trace_id": "t", "value": -11}], "1.value"),
    ],
)
def test_invalid_bodies_get_openais_error_naming_the_field(client, key, body, param):
    response = post(client, key, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert Feedback.objects.count() == 0


def test_put_refuses_a_new_trace_id_and_an_empty_change(client, key):
    fid = post(client, key, {"trace_id": "t", "value": 1}).json()["feedback_ids"][0]
    assert put(client, key, fid, {"trace_id": "u"}).json()["error"]["param"] == "trace_id"
    assert put(client, key, fid, {}).status_code == 400


def test_a_key_is_required(client):
    response = client.post("/v1/feedback", {"trace_id": "t", "value": 1}, "application/json")
    assert response.status_code == 401


def test_reading_back_needs_a_key_that_may_read_the_logs(client):
    reader = ApiKey.generate("tools", can_read_logs=True)[1]
    app = ApiKey.generate("app", can_read_logs=False)[1]
    fid = post(client, app, {"trace_id": "t", "value": 2}).json()["feedback_ids"][0]
    headers = {"x-portkey-api-key": app}
    assert client.get("/v1/feedback", {"trace_id": "t"}, headers=headers).status_code == 403
    rows = client.get("/v1/feedback", {"trace_id": "t"}, headers={"x-portkey-api-key": reader})
    assert [r["id"] for r in rows.json()["data"]] == [fid]
    one = client.get(f"/v1/feedback/{fid}", headers={"x-portkey-api-key": reader}).json()
    assert one["value"] == 2 and one["source"] == "api"


def test_an_app_key_may_update_only_its_own_feedback(client):
    mine = ApiKey.generate("app", can_read_logs=False)[1]
    other = ApiKey.generate("other app", can_read_logs=False)[1]
    fid = post(client, mine, {"trace_id": "t", "value": 2}).json()["feedback_ids"][0]
    assert put(client, other, fid, {"value": -10}).status_code == 404
    assert put(client, mine, fid, {"value": 3}).status_code == 200
    assert Feedback.objects.get(pk=fid).value == 3
