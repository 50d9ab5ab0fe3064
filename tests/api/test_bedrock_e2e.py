"""Bedrock through a real Iris: the official openai SDK in front, the fake Bedrock behind."""

import base64
import json
from pathlib import Path
from urllib.parse import unquote

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.conftest import png_bytes
from tests.fakes import bedrock as fake_bedrock_handler

IMAGES = Path(__file__).resolve().parents[3] / "shared" / "images"
MODEL = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
TOOLS_MODEL = "us.anthropic.claude-tools-v1:0"
AWS_HEADERS = {
    "x-portkey-aws-access-key-id": fake_bedrock_handler.ACCESS_KEY_ID,
    "x-portkey-aws-secret-access-key": fake_bedrock_handler.SECRET_ACCESS_KEY,
    "x-portkey-aws-session-token": fake_bedrock_handler.SESSION_TOKEN,
    "x-portkey-aws-region": fake_bedrock_handler.REGION,
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def make_client(iris, fake_bedrock, api_key: str = "unused", **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=iris.url + "/v1",
        api_key=api_key,
        max_retries=0,
        default_headers=iris.headers(
            **{
                "x-portkey-provider": "bedrock",
                "x-portkey-custom-host": fake_bedrock.url,
                **headers,
            }
        ),
    )


@pytest.fixture
def client(iris, fake_bedrock) -> openai.OpenAI:
    return make_client(iris, fake_bedrock, **AWS_HEADERS)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def upstream_images(fake_bedrock) -> list[dict]:
    body = fake_bedrock.last().json()
    return [b["image"] for m in body["messages"] for b in m["content"] if "image" in b]


def test_it_answers_a_chat_with_a_base64_image(iris, fake_bedrock, client):
    png = png_bytes(size=(6, 4))
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": data_uri(png, "image/png")}},
                ],
            },
        ],
        max_tokens=64,
    )
    body = ChatCompletion.model_validate(json.loads(raw.content))
    assert body.choices[0].message.content == "I see 1 image(s). You said: What is this?"
    assert body.choices[0].finish_reason == "stop"
    assert body.usage.prompt_tokens == 11
    sent = fake_bedrock.last()
    assert sent.path == "/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIA")
    assert sent.headers["x-amz-security-token"] == fake_bedrock_handler.SESSION_TOKEN
    (image,) = upstream_images(fake_bedrock)
    assert image["format"] == "png"
    assert base64.b64decode(image["source"]["bytes"]) == png
    assert sent.json()["system"] == [{"text": "Be brief."}]
    assert sent.json()["inferenceConfig"] == {"maxTokens": 64}

    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["provider"] == "bedrock"
    assert log["model"] == MODEL
    assert log["status_code"] == 200
    assert log["image_count"] == 1
    assert log["upstream_url"].endswith(
        "/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    )
    logged = log["upstream_body"]["messages"][0]["content"][1]["image"]
    assert logged["source"] == {"bytes": f"iris-blob:{log['images'][0]['sha256']}"}
    assert log["upstream_body"]["inferenceConfig"] == {"maxTokens": 64}
    assert log["request_headers"]["x-portkey-aws-secret-access-key"] == "[redacted]"
    assert log["request_headers"]["x-portkey-aws-session-token"] == "[redacted]"
    assert log["request_headers"]["x-portkey-aws-region"] == "us-east-1"
    assert log["response_body"]["choices"][0]["message"]["content"].startswith("I see 1 image")


def test_it_fetches_url_images_and_sends_their_bytes(iris, fake_bedrock, fake_openai, client):
    response = client.chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image_url",
                        "image_url": {"url": f"{fake_openai.url}/images/rocket.jpg"},
                    },
                    {"type": "text", "text": "And this?"},
                ],
            }
        ],
    )
    ChatCompletion.model_validate(response.model_dump())
    assert response.choices[0].message.content == "I see 1 image(s). You said: And this?"
    (image,) = upstream_images(fake_bedrock)
    assert image["format"] == "jpeg"
    assert base64.b64decode(image["source"]["bytes"]) == (IMAGES / "rocket.jpg").read_bytes()


def test_it_streams_with_usage(iris, fake_bedrock, client):
    with client.chat.completions.with_streaming_response.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Tell me about rockets"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as raw:
        request_id = raw.headers["x-iris-request-id"]
        assert raw.headers["content-type"].startswith("text/event-stream")
        chunks = [ChatCompletionChunk.model_validate(c.model_dump()) for c in raw.parse()]
    assert fake_bedrock.last().path.endswith("%3A0/converse-stream")
    assert fake_bedrock.last().headers["accept"] == "application/vnd.amazon.eventstream"
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "I see 0 image(s). You said: Tell me about rockets"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert (
        chunks[-1].usage.total_tokens
        == chunks[-1].usage.prompt_tokens + chunks[-1].usage.completion_tokens
    )
    log = iris.log(request_id)
    assert log["is_stream"] is True
    assert log["status_code"] == 200
    assert log["response_body"]["choices"][0]["message"]["content"] == text
    assert log["total_tokens"] == chunks[-1].usage.total_tokens


def test_it_round_trips_a_tool_call(iris, fake_bedrock, client):
    messages: list = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat.completions.create(
        model=TOOLS_MODEL, messages=messages, tools=[WEATHER], tool_choice="auto"
    )
    ChatCompletion.model_validate(first.model_dump())
    assert fake_bedrock.last().json()["toolConfig"]["toolChoice"] == {"auto": {}}
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18 °C and sunny"},
    ]
    second = client.chat.completions.create(model=TOOLS_MODEL, messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "The tool said: 18 °C and sunny"
    sent = fake_bedrock.last().json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"][-1]["toolUse"]["toolUseId"] == call.id
    assert sent[2]["content"][0]["toolResult"]["toolUseId"] == call.id


def test_it_streams_a_tool_call(iris, fake_bedrock, client):
    stream = client.chat.completions.create(
        model=TOOLS_MODEL,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
        stream=True,
    )
    chunks = [ChatCompletionChunk.model_validate(c.model_dump()) for c in stream]
    calls = [t for c in chunks for t in c.choices[0].delta.tool_calls or ()]
    assert calls[0].id.startswith("tooluse_")
    assert calls[0].function.name == "get_weather"
    assert json.loads("".join(t.function.arguments or "" for t in calls)) == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_a_bedrock_api_key_is_sent_as_a_bearer_token(iris, fake_bedrock):
    client = make_client(
        iris,
        fake_bedrock,
        api_key=fake_bedrock_handler.API_KEY,
        **{"x-portkey-aws-region": fake_bedrock_handler.REGION},
    )
    response = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "key auth"}]
    )
    assert response.choices[0].message.content == "I see 0 image(s). You said: key auth"
    assert fake_bedrock.last().headers["authorization"] == f"Bearer {fake_bedrock_handler.API_KEY}"


def test_an_upstream_error_keeps_its_status_in_openai_shape(iris, fake_bedrock, client):
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="us.anthropic.fail-429-v1:0", messages=[{"role": "user", "content": "hi"}]
        )
    error = caught.value
    assert error.status_code == 429
    assert error.body == {
        "message": "Too many requests, please wait before trying again.",
        "type": "rate_limit_error",
        "param": None,
        "code": "ThrottlingException",
    }
    log = iris.log(error.response.headers["x-iris-request-id"])
    assert log["status_code"] == 429
    assert log["error_type"] == "rate_limit_error"
    assert log["error_message"] == "Too many requests, please wait before trying again."


def test_a_wrong_secret_is_refused_by_the_signature_check(iris, fake_bedrock):
    client = make_client(
        iris, fake_bedrock, **{**AWS_HEADERS, "x-portkey-aws-secret-access-key": "wrong"}
    )
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 403
    assert caught.value.body["type"] == "authentication_error"
    assert "signature we calculated does not match" in caught.value.body["message"]


def test_missing_credentials_are_a_400_before_any_upstream_call(iris, fake_bedrock):
    before = len(fake_bedrock.received)
    headers = {"x-portkey-provider": "bedrock", "x-portkey-aws-region": "us-east-1"}
    response = httpx.post(
        f"{iris.url}/v1/chat/completions",
        headers=iris.headers(**headers, **{"x-portkey-custom-host": fake_bedrock.url}),
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_credentials"
    assert len(fake_bedrock.received) == before


def test_too_many_images_are_a_400_naming_the_part(iris, fake_bedrock, client):
    part = {"type": "image_url", "image_url": {"url": data_uri(png_bytes(), "image/png")}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": [part] * 21}]
        )
    assert caught.value.body["code"] == "too_many_images"
    assert caught.value.body["message"].startswith("messages[0].content[20]: ")


def test_a_stream_exception_ends_the_stream_with_an_error_event(iris, fake_bedrock):
    response = httpx.post(
        f"{iris.url}/v1/chat/completions",
        headers=iris.headers(
            **{"x-portkey-provider": "bedrock", "x-portkey-custom-host": fake_bedrock.url},
            **AWS_HEADERS,
        ),
        json={
            "model": "us.anthropic.stream-error-v1:0",
            "messages": [{"role": "user", "content": "one two three"}],
            "stream": True,
        },
        timeout=10,
    )
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert "[DONE]" not in events  # as from OpenAI, the error event is the last one
    error = json.loads(events[-1])["error"]
    assert error["code"] == "modelStreamErrorException"
    assert error["message"] == "The model stopped unexpectedly."
    log = iris.log(response.headers["x-iris-request-id"])
    assert log["error_message"] == "The model stopped unexpectedly."


def test_the_model_id_reaches_bedrock_intact(iris, fake_bedrock, client):
    model = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0"
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "arn"}])
    path = fake_bedrock.last().path
    assert "%2F" in path and "%3A" in path
    assert unquote(path.split("/")[2]) == model


def test_a_stream_that_dies_mid_way_ends_with_an_error_event(iris, fake_bedrock):
    response = httpx.post(
        f"{iris.url}/v1/chat/completions",
        headers=iris.headers(
            **{"x-portkey-provider": "bedrock", "x-portkey-custom-host": fake_bedrock.url},
            **AWS_HEADERS,
        ),
        json={
            "model": "us.anthropic.die-v1:0",
            "messages": [{"role": "user", "content": "one two three"}],
            "stream": True,
        },
        timeout=10,
    )
    events = [json.loads(e) for e in _data_lines(response.text) if e != "[DONE]"]
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert events[1]["choices"][0]["delta"] == {"content": "I"}
    assert "error" in events[-1]


def _data_lines(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]
