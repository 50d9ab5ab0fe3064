"""The portkey-ai SDK's feedback.create / update against a real Iris over a socket."""

import httpx
from portkey_ai import Portkey


def reader_headers(iris) -> dict[str, str]:
    """A key that may read feedback back (new keys may not read the logs by default)."""
    flags = ["--read-logs"] if "--read-logs" in iris.manage("create_api_key", "--help") else []
    return {"x-portkey-api-key": iris.manage("create_api_key", "feedback-reader", *flags)}


def test_the_portkey_sdk_creates_and_updates_feedback(iris):
    portkey = Portkey(api_key=iris.key, base_url=f"{iris.url}/v1")
    created = portkey.feedback.create(
        trace_id="sdk-trace", value=-4, weight=0.25, metadata={"_user": "u7", "why": "box"}
    )
    assert created.status == "success"
    (fid,) = created.feedback_ids
    updated = portkey.feedback.update(feedback_id=fid, value=6)  # weight, metadata not sent
    assert updated.status == "success" and updated.feedback_ids == [fid]
    rows = httpx.get(
        f"{iris.url}/v1/feedback", params={"trace_id": "sdk-trace"}, headers=reader_headers(iris)
    ).json()["data"]
    assert [(r["id"], r["value"], r["weight"]) for r in rows] == [(fid, 6, 0.25)]
    assert rows[0]["metadata"] == {"_user": "u7", "why": "box"} and rows[0]["user"] == "u7"


def test_the_sdks_bulk_create_and_its_errors(iris):
    portkey = Portkey(api_key=iris.key, base_url=f"{iris.url}/v1")
    made = portkey.feedback.bulk_create(
        feedbacks=[{"trace_id": "bulk", "value": 1}, {"trace_id": "bulk", "value": -1}]
    )
    assert len(made.feedback_ids) == 2
    response = httpx.post(
        f"{iris.url}/v1/feedback", json={"trace_id": "x", "value": 99}, headers=iris.headers()
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "value"
