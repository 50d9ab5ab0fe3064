"""Every failure answers an OpenAI-shaped error with the right status, and is logged."""

import base64
import json

import httpx
import openai
import pytest

from tests.conftest import free_port, png_bytes


def post(iris, body, *, upstream: str, raw: bytes | None = None, **headers) -> httpx.Response:
    return httpx.post(
        f"{iris.url}/v1/chat/completions",
        headers=iris.headers(
            **{
                "x-portkey-provider": "openai",
                "x-portkey-custom-host": upstream,
                "authorization": "Bearer sk-upstream-secret",
                "content-type": "application/json",
                **headers,
            }
        ),
        content=raw if raw is not None else json.dumps(body).encode(),
        timeout=30,
    )


def assert_openai_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    return error


def user(content) -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}


@pytest.fixture
def upstream(fake_openai) -> str:
    return f"{fake_openai.url}/v1"


def test_it_refuses_malformed_json_and_logs_the_body(iris, upstream):
    response = post(iris, None, upstream=upstream, raw=b'{"model": "gpt-4o", "messages": [')
    error = assert_openai_error(response, 400)
    assert error["code"] == "invalid_json" and "not valid JSON" in error["message"]
    log = iris.log(response.headers["x-iris-request-id"])
    assert log["status_code"] == 400 and log["error_type"] == "invalid_request_error"
    assert log["request_body"] == {"_unparsed": '{"model": "gpt-4o", "messages": ['}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "gpt-4o"}, "messages"),
        ({"model": "gpt-4o", "messages": []}, "messages"),
    ],
)
def test_it_names_a_missing_parameter(iris, upstream, body, param):
    error = assert_openai_error(post(iris, body, upstream=upstream), 400)
    assert error["param"] == param and error["code"] == "missing_required_parameter"


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("data:image/png;base64,@@not-base64@@", "not valid base64"),
        (
            "data:image/png;base64," + base64.b64encode(b"just text, no image").decode(),
            "is not an image",
        ),
        ("data:image/png,rawbytes", "not base64-encoded"),
        ("ftp://example.com/cat.png", "must be an http(s) URL"),
    ],
)
def test_it_says_which_message_and_part_holds_a_bad_image(iris, upstream, uri, says):
    body = user(
        [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": uri}}]
    )
    response = post(iris, body, upstream=upstream)
    error = assert_openai_error(response, 400)
    assert error["message"].startswith("messages[0].content[1]:") and says in error["message"]
    assert error["param"] == "messages.0.content.1.image_url"
    assert iris.log(response.headers["x-iris-request-id"])["error_message"] == error["message"]


def test_it_refuses_an_unknown_provider_naming_the_supported_ones(iris, upstream):
    response = post(iris, user("hi"), upstream=upstream, **{"x-portkey-provider": "acme"})
    error = assert_openai_error(response, 400)
    assert "'acme'" in error["message"] and "openai" in error["message"]
    assert "anthropic" in error["message"]


def test_it_refuses_bad_metadata(iris, upstream):
    response = post(iris, user("hi"), upstream=upstream, **{"x-portkey-metadata": '{"n": 1}'})
    assert assert_openai_error(response, 400)["param"] == "x-portkey-metadata"


def test_it_refuses_a_body_over_the_limit_with_413(tmp_path, fake_openai):
    from tests.conftest import IrisServer

    small = IrisServer(tmp_path, GATEWAY_MAX_BODY_BYTES="4096").start()
    try:
        big = user("x" * 5000)
        response = post(small, big, upstream=f"{fake_openai.url}/v1")
        assert assert_openai_error(response, 413)["code"] == "request_too_large"
        assert small.log(response.headers["x-iris-request-id"])["status_code"] == 413
        fine = post(small, user("hi"), upstream=f"{fake_openai.url}/v1")
        assert fine.status_code == 200
    finally:
        small.stop()


def test_it_accepts_a_body_far_over_djangos_upload_limit(iris, upstream):
    image = png_bytes((1500, 1500), mode="RGB", color=(10, 20, 30), compress_level=0)
    assert len(image) > 3 * 1024 * 1024  # Django's own default cap is 2.5 MB
    body = user(
        [
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64," + base64.b64encode(image).decode()},
            }
        ]
    )
    response = post(iris, body, upstream=upstream)
    assert response.status_code == 200, response.text


def test_it_answers_502_when_the_upstream_is_unreachable(iris):
    response = post(iris, user("hi"), upstream=f"http://127.0.0.1:{free_port()}/v1")
    error = assert_openai_error(response, 502)
    assert error["code"] == "upstream_unreachable"
    log = iris.log(response.headers["x-iris-request-id"])
    assert log["status_code"] == 502 and "sk-upstream-secret" not in json.dumps(log)


def test_it_answers_504_when_the_upstream_times_out(tmp_path, upstream):
    from tests.conftest import IrisServer

    impatient = IrisServer(tmp_path, GATEWAY_UPSTREAM_TIMEOUT="1").start()
    try:  # model "slow" makes the fake upstream sleep 3 s
        response = post(
            impatient,
            {"model": "slow", "messages": [{"role": "user", "content": "hi"}]},
            upstream=upstream,
        )
        assert assert_openai_error(response, 504)["code"] == "upstream_timeout"
        assert impatient.log(response.headers["x-iris-request-id"])["status_code"] == 504
    finally:
        impatient.stop()


def test_it_passes_an_upstream_error_on_with_its_status_and_message(iris, upstream):
    client = openai.OpenAI(
        base_url=f"{iris.url}/v1",
        api_key="sk-x",
        max_retries=0,
        default_headers=iris.headers(
            **{"x-portkey-provider": "openai", "x-portkey-custom-host": upstream}
        ),
    )
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="fail-429", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 429
    assert caught.value.body["message"] == "Rate limit reached for requests"
    assert caught.value.body["code"] == "rate_limit_exceeded"
    request_id = caught.value.response.headers["x-iris-request-id"]
    log = iris.log(request_id)
    assert log["status_code"] == 429 and log["error_message"] == "Rate limit reached for requests"


def test_a_stream_that_dies_ends_with_an_error_event(iris, upstream):
    body = {"model": "die", "stream": True, "messages": [{"role": "user", "content": "a b c d"}]}
    with httpx.stream(
        "POST",
        f"{iris.url}/v1/chat/completions",
        json=body,
        timeout=10,
        headers=iris.headers(
            **{
                "x-portkey-provider": "openai",
                "x-portkey-custom-host": upstream,
                "authorization": "Bearer sk-x",
            }
        ),
    ) as response:
        assert response.status_code == 200
        events = [
            line.removeprefix("data: ")
            for line in response.iter_lines()
            if line.startswith("data: ")
        ]
        request_id = response.headers["x-iris-request-id"]
    assert "[DONE]" not in events
    last = json.loads(events[-1])
    assert last["error"]["code"] == "upstream_error" and last["error"]["type"] == "api_error"
    assert json.loads(events[1])["choices"][0]["delta"]["content"] == "I"
    log = iris.log(request_id)
    assert log["error_type"] == "api_error" and log["chunk_count"] == 3
    assert log["response_body"]["choices"][0]["message"]["content"] == "I see"


def test_the_openai_sdk_raises_on_a_dying_stream(iris, upstream):
    client = openai.OpenAI(
        base_url=f"{iris.url}/v1",
        api_key="sk-x",
        max_retries=0,
        default_headers=iris.headers(
            **{"x-portkey-provider": "openai", "x-portkey-custom-host": upstream}
        ),
    )
    stream = client.chat.completions.create(
        model="die", stream=True, messages=[{"role": "user", "content": "a b c"}]
    )
    with pytest.raises(openai.APIError, match="Upstream failed during the stream"):
        list(stream)


def test_a_client_that_hangs_up_before_the_answer_is_logged(iris, upstream):
    trace = f"hung-up-{free_port()}"
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{iris.url}/v1/chat/completions",
            headers=iris.headers(
                **{
                    "x-portkey-provider": "openai",
                    "x-portkey-custom-host": upstream,
                    "authorization": "Bearer sk-x",
                    "x-portkey-trace-id": trace,
                }
            ),
            json={**user("hello"), "model": "slow"},  # the fake sleeps 3 s
            timeout=0.5,
        )
    [log] = iris.find_logs(trace_id=trace, timeout=10)
    assert (log["status_code"], log["error_type"]) == (499, "client_disconnected")
    assert log["model"] == "slow" and log["latency_ms"] < 3000


def _deeply_nested_error(depth: int) -> bytes:
    return b'{"error": {"message": "bad", "x": ' + b"[" * depth + b"]" * depth + b"}}"


def test_an_upstream_error_nested_too_deep_still_answers_in_openai_shape(iris):
    """An upstream's 400 with a body nested 300 and 1,000 levels deep: the masking of secrets
    in it must not turn it into a bare 500 (orjson stops at 255 levels, Python at ~1,000)."""
    from tests.fakes.server import FakeServer, Reply

    for depth in (300, 1000):
        body = _deeply_nested_error(depth)
        with FakeServer(lambda request, body=body: Reply(400, body)) as upstream:
            response = httpx.post(
                f"{iris.url}/v1/chat/completions",
                headers=iris.headers(
                    **{
                        "x-portkey-provider": "openai",
                        "x-portkey-custom-host": f"{upstream.url}/v1",
                        "authorization": "Bearer sk-deep",
                    }
                ),
                json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["message"]
        log = iris.log(response.headers["x-iris-request-id"])
        assert log["status_code"] == 400
        kept = json.dumps(log["response_body"])  # placeholder, or cut by the log's depth limit
        assert "nested too deep" in kept
