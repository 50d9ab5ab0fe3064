"""POST /v1/replays and GET /v1/replays/{id} against a real Iris (`manage.py serve`) and a
fake OpenAI over sockets: records made through the proxy, replayed in bulk on two targets."""

import base64
import time
import uuid

import httpx
import pytest

from tests.conftest import png_bytes


def upstream(fake_openai) -> dict[str, str]:
    return {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"{fake_openai.url}/v1",
        "authorization": "Bearer sk-test",
    }


def chat(iris, fake_openai, trace: str, text: str) -> dict:
    image = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": text},
                    {"type": "image_url", "image_url": {"url": image}},
                ],
            }
        ],
    }
    headers = iris.headers(**upstream(fake_openai), **{"x-portkey-trace-id": trace})
    response = httpx.post(f"{iris.url}/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def finished(iris, batch_id: int, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = httpx.get(f"{iris.url}/v1/replays/{batch_id}", headers=iris.headers()).json()
        if found["status"] != "running":
            return found
        time.sleep(0.1)
    raise AssertionError(f"batch {batch_id} still running: {found}")


@pytest.fixture
def trace(iris, fake_openai) -> str:
    trace = f"bulk-{uuid.uuid4().hex[:8]}"
    for n in range(3):
        chat(iris, fake_openai, trace, f"Count the cats, take {n}")
    assert len(iris.find_logs(trace_id=trace)) >= 1
    deadline = time.monotonic() + 10
    while len(iris.logs(trace_id=trace)["data"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    return trace


def test_a_bulk_replay_runs_each_record_on_each_target_and_reports_agreement(
    iris, fake_openai, trace
):
    spec = {
        "filter": {"trace_id": trace, "has_images": True},
        "targets": [
            {"provider": "openai", "model": "gpt-4o-mini"},
            {"provider": "openai", "model": "fail-429"},
        ],
        "limit": 10,
        "concurrency": 2,
        "agreement": {"regex": r"take (\d)"},
    }
    headers = iris.headers(**upstream(fake_openai))
    started = httpx.post(f"{iris.url}/v1/replays", json=spec, headers=headers)
    assert started.status_code == 202, started.text
    assert started.json()["total"] == 6 and started.json()["status"] == "running"
    found = finished(iris, started.json()["id"])
    assert (found["status"], found["done"], found["failed"]) == ("done", 6, 3)
    same, failing = found["targets"]
    assert (same["agreed"], same["compared"], same["agreement_rate"]) == (3, 3, 1.0)
    assert (failing["failed"], failing["compared"], failing["agreement_rate"]) == (3, 0, None)
    assert found["agreement"] == "regex" and found["pattern"] == r"take (\d)"
    originals = {row["request_id"]: row for row in iris.logs(trace_id=trace)["data"]}
    assert {r["request_id"] for r in found["records"]} == set(originals)
    for record in found["records"]:
        ok, refused = record["replays"]
        assert record["answer"].startswith("I see 1 image(s). You said: Count the cats")
        assert ok["status"] == "done" and ok["answer"] == record["answer"] and ok["agreed"]
        assert refused["status"] == "failed" and refused["status_code"] == 429
        assert "Rate limit" in refused["error"] and refused["agreed"] is None
        replayed = iris.log(ok["request_id"])  # the replay is a record of its own
        assert replayed["metadata"]["iris_replay_of"] == record["request_id"]
        assert replayed["image_count"] == 1
    again = httpx.get(f"{iris.url}/v1/replays/{found['id']}", headers=iris.headers()).json()
    assert all(r["replays"][0]["log_id"] for r in again["records"])  # the records are written


@pytest.mark.parametrize(
    "change, status, words",
    [
        ({"limit": 501}, 400, "GATEWAY_MAX_BATCH_RECORDS"),
        ({"targets": []}, 400, "targets is a list of 1 to 5"),
        ({"targets": [{"provider": "@nowhere"}]}, 400, "No provider @nowhere"),
        ({"agreement": "fuzzy"}, 400, "agreement is"),
        ({"filter": {"since": "yesterday"}}, 400, "Bad filter"),
        ({"filter": {"trace_id": "no-such-trace"}}, 400, "No records match"),
        ({"concurrency": 0}, 400, "concurrency is a whole number"),
    ],
)
def test_a_bad_batch_is_refused_in_openai_shape(iris, fake_openai, trace, change, status, words):
    spec = {"filter": {"trace_id": trace}, "targets": [{"provider": "openai"}], **change}
    answer = httpx.post(f"{iris.url}/v1/replays", json=spec, headers=iris.headers())
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]["message"]


def test_it_needs_a_key_that_may_read_the_logs(iris):
    spec = {"targets": [{"provider": "openai"}]}
    assert httpx.post(f"{iris.url}/v1/replays", json=spec).status_code == 401
    code = (
        "from gateway.models import ApiKey\n"
        "ApiKey.objects.filter(name='no-logs').delete()\n"
        "print(ApiKey.generate('no-logs', can_read_logs=False)[1])"
    )
    raw = iris.manage("shell", "-c", code).splitlines()[-1]
    refused = httpx.post(f"{iris.url}/v1/replays", json=spec, headers={"x-portkey-api-key": raw})
    assert refused.status_code == 403
    missing = httpx.get(f"{iris.url}/v1/replays/999999", headers=iris.headers())
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "batch_not_found"
    wrong = httpx.get(f"{iris.url}/v1/replays", headers=iris.headers())
    assert wrong.status_code == 405
