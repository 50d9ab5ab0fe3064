"""The Responses API when things go wrong, over real sockets: a translated stream that fails
mid-way ends in an error the SDK raises; a stream the client leaves is kept as failed, not
"in progress"; unknown ids answer at once; item references and ids are bounded and checked."""

import json
import time

import httpx
import openai
import pytest

from tests.api.test_responses_e2e import CLAUDE, client_for
from tests.faults import leave_mid_stream


@pytest.fixture
def claude(iris, fake_anthropic) -> openai.OpenAI:
    return client_for(iris, "anthropic", f"{fake_anthropic.url}/v1", "sk-ant-secret")


def test_a_translated_stream_failing_midway_ends_in_an_error_the_sdk_raises(claude, iris):
    raw = claude.responses.with_raw_response.create(model="error-event", input="hello", stream=True)
    kinds = []
    with pytest.raises(openai.APIError):
        for event in raw.parse():
            kinds.append(event.type)
    assert kinds[-1] == "response.failed"  # then the error event, which the SDK raises on
    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["error_type"] and log["response_body"]["status"] == "failed"


def test_a_stream_the_client_leaves_is_kept_as_failed(claude, iris, fake_anthropic):
    headers = {
        "x-portkey-api-key": iris.key,
        "x-portkey-provider": "anthropic",
        "x-portkey-custom-host": f"{fake_anthropic.url}/v1",
        "authorization": "Bearer sk-ant-secret",
        "content-type": "application/json",
    }
    body = json.dumps({"model": "slow-stream", "input": "take your time", "stream": True}).encode()
    request_id = leave_mid_stream(iris.port, "/v1/responses", headers, body, b"response.created")
    log = iris.log(request_id)
    assert log["error_type"] == "client_disconnected"
    assert log["response_body"]["status"] == "failed"  # not "in_progress" for ever
    stored = claude.responses.retrieve(f"resp_iris_{request_id}")
    assert stored.status == "failed" and stored.error.code == "client_disconnected"


def test_an_unknown_iris_id_is_a_404_at_once(claude):
    started = time.monotonic()
    with pytest.raises(openai.NotFoundError):
        claude.responses.retrieve("resp_iris_" + "0" * 32)
    assert time.monotonic() - started < 1.5  # no seconds spent waiting for the log writer


def test_a_response_id_cannot_reach_another_upstream_path(iris):
    headers = iris.headers(
        **{"x-portkey-provider": "openai", "x-portkey-custom-host": "http://127.0.0.1:9/v1"}
    )
    for smuggled in ("resp_1%3Fapi-version=x", "resp_1%23x", "resp_1%2F..%2Fmodels"):
        response = httpx.get(f"{iris.url}/v1/responses/{smuggled}", headers=headers)
        assert response.status_code == 404, smuggled
        assert response.json()["error"]["code"] in ("not_found", "unknown_url")


def test_item_references_are_bounded(claude):
    refs = [{"type": "item_reference", "id": f"msg_{'0' * 32}_o0"}] * 101
    with pytest.raises(openai.BadRequestError) as caught:
        claude.responses.create(model=CLAUDE, input=[*refs, {"role": "user", "content": "hi"}])
    assert caught.value.body["code"] == "too_many_references"


def test_an_unknown_item_reference_is_a_404_naming_it(claude):
    items = [
        {"type": "item_reference", "id": f"msg_{'0' * 32}_o0"},
        {"role": "user", "content": "hi"},
    ]
    with pytest.raises(openai.NotFoundError) as caught:
        claude.responses.create(model=CLAUDE, input=items)
    assert caught.value.body["param"] == "input.0.id"
