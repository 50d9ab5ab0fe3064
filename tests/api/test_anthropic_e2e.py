"""The official openai SDK → a real Iris → the fake Anthropic upstream, and back.

The fake checks every body against the anthropic SDK's types (tests/fakes/anthropic.py) and
answers with what it received, so each test shows what really went over the wire.
"""

import base64
import json

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.conftest import SHARED_IMAGES, png_bytes

CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()
MODEL = "claude-sonnet-4-5"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


def client_for(iris, fake_anthropic, key: str = "sk-ant-secret", **headers) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{iris.url}/v1",
        api_key=key,
        max_retries=0,  # a 529 would otherwise be retried by the SDK
        default_headers=iris.headers(
            **{
                "x-portkey-provider": "anthropic",
                "x-portkey-custom-host": f"{fake_anthropic.url}/v1",
                **headers,
            }
        ),
    )


@pytest.fixture
def client(iris, fake_anthropic) -> openai.OpenAI:
    return client_for(iris, fake_anthropic)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def ask(text: str, *images: str) -> list[dict]:
    parts = [{"type": "image_url", "image_url": {"url": url}} for url in images]
    return [{"role": "user", "content": [{"type": "text", "text": text}, *parts]}]


def sent(fake_anthropic) -> dict:
    return fake_anthropic.last("POST").json()


def test_it_translates_a_vision_request_and_its_answer(client, iris, fake_anthropic):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[{"role": "system", "content": "You are terse."}]
        + ask("what is this cat?", data_uri(CAT, "image/png")),
        max_tokens=300,
        temperature=0.3,
        user="user-7",
    )
    completion = raw.parse()
    ChatCompletion.model_validate(completion.model_dump())
    assert completion.choices[0].message.content == "I see 1 image(s). You said: what is this cat?"
    assert completion.choices[0].finish_reason == "stop"
    assert raw.headers["request-id"] == "req_fake01"  # Anthropic's request id reaches the client

    request = fake_anthropic.last("POST")
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-secret"
    assert request.headers["anthropic-version"] == "2023-06-01"
    body = request.json()
    assert body["system"] == [{"type": "text", "text": "You are terse."}]
    assert (body["max_tokens"], body["temperature"]) == (300, 0.3)
    assert body["metadata"] == {"user_id": "user-7"}
    source = body["messages"][0]["content"][1]["source"]
    assert (source["type"], source["media_type"]) == ("base64", "image/png")
    assert base64.b64decode(source["data"]) == CAT

    log = iris.log(raw.headers["x-iris-request-id"])
    assert (log["provider"], log["status_code"], log["image_count"]) == ("anthropic", 200, 1)
    assert log["upstream_url"] == f"{fake_anthropic.url}/v1/messages"
    # The translation as sent, the image by reference to its blob.
    upstream = log["upstream_body"]
    assert upstream["system"] == body["system"] and upstream["max_tokens"] == 300
    [blob] = log["images"]
    logged_source = upstream["messages"][0]["content"][1]["source"]
    assert logged_source == {**source, "data": f"iris-blob:{blob['sha256']}"}
    assert log["prompt_tokens"] == 20 + 1500
    assert log["response_body"]["choices"][0]["message"]["content"].startswith("I see 1 image")


def test_it_sends_the_media_type_of_the_bytes_not_the_data_uri_label(client, fake_anthropic):
    completion = client.chat.completions.create(
        model=MODEL, messages=ask("cat?", data_uri(CAT, "image/jpeg"))
    )
    assert completion.choices[0].message.content.startswith("I see 1 image(s)")
    source = sent(fake_anthropic)["messages"][0]["content"][1]["source"]
    assert source["media_type"] == "image/png"  # the fake refuses a label that lies
    assert sent(fake_anthropic)["max_tokens"] == 4096  # Anthropic requires one


def test_it_converts_a_format_anthropic_refuses(client, fake_anthropic):
    bmp = png_bytes(size=(9, 5), fmt="BMP")
    completion = client.chat.completions.create(
        model=MODEL, messages=ask("bitmap?", data_uri(bmp, "image/bmp"))
    )
    assert completion.choices[0].message.content.startswith("I see 1 image(s)")
    source = sent(fake_anthropic)["messages"][0]["content"][1]["source"]
    assert source["media_type"] == "image/png"
    assert base64.b64decode(source["data"]).startswith(b"\x89PNG")


def test_it_passes_an_image_url_for_anthropic_to_fetch(client, fake_anthropic, fake_openai):
    url = f"{fake_openai.url}/images/rocket.jpg"
    completion = client.chat.completions.create(model=MODEL, messages=ask("rocket?", url))
    assert completion.choices[0].message.content == "I see 1 image(s). You said: rocket?"
    block = sent(fake_anthropic)["messages"][0]["content"][1]
    assert block == {"type": "image", "source": {"type": "url", "url": url}}
    assert fake_openai.last("GET").path == "/images/rocket.jpg"  # the fake fetched it


def test_it_streams_with_usage_and_logs_the_assembled_reply(client, iris, fake_anthropic):
    raw = client.chat.completions.with_raw_response.create(
        model="cached",
        messages=ask("stream it", data_uri(CAT, "image/png")),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(raw.parse())
    for c in chunks:
        ChatCompletionChunk.model_validate(c.model_dump())
    assert sent(fake_anthropic)["stream"] is True
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "I see 1 image(s). You said: stream it"
    assert chunks[-2].choices[0].finish_reason == "stop"
    usage = chunks[-1].usage
    assert chunks[-1].choices == []
    assert usage.prompt_tokens == 20 + 1500 + 1024
    assert usage.prompt_tokens_details.cached_tokens == 1024

    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["is_stream"] is True and log["status_code"] == 200
    assert log["response_body"]["choices"][0]["message"]["content"] == text
    assert log["response_body"]["usage"]["cache_read_input_tokens"] == 1024
    assert log["prompt_tokens"] == 20 + 1500 + 1024


def test_it_round_trips_a_tool_call(client, fake_anthropic):
    first = client.chat.completions.create(
        model=MODEL, messages=ask("Weather in Paris?"), tools=[WEATHER], tool_choice="required"
    )
    ChatCompletion.model_validate(first.model_dump())
    assert sent(fake_anthropic)["tool_choice"] == {"type": "any"}
    assert sent(fake_anthropic)["tools"][0]["input_schema"] == WEATHER["function"]["parameters"]
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Weather in Paris?"}

    second = client.chat.completions.create(
        model=MODEL,
        tools=[WEATHER],
        messages=[
            *ask("Weather in Paris?"),
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "18°C and sunny"},
        ],
    )
    assert second.choices[0].message.content == "Tool said: 18°C and sunny"
    turns = sent(fake_anthropic)["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"][-1]["input"] == {"location": "Weather in Paris?"}
    assert turns[2]["content"][0]["tool_use_id"] == call.id


def test_it_streams_a_tool_call(client):
    stream = client.chat.completions.create(
        model=MODEL, messages=ask("Weather in Oslo?"), tools=[WEATHER], stream=True
    )
    calls: dict[int, dict] = {}
    finish = None
    for c in stream:
        ChatCompletionChunk.model_validate(c.model_dump())
        for call in c.choices[0].delta.tool_calls or []:
            slot = calls.setdefault(call.index, {"id": call.id, "name": "", "arguments": ""})
            slot["name"] += (call.function and call.function.name) or ""
            slot["arguments"] += (call.function and call.function.arguments) or ""
        finish = c.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert list(calls) == [0]
    assert calls[0]["id"].startswith("toolu_") and calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"location": "Weather in Oslo?"}


def test_it_passes_a_rate_limit_on_in_openais_shape(client, iris):
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="fail-429", messages=ask("hi"))
    assert caught.value.status_code == 429
    assert caught.value.body["type"] == "rate_limit_error"
    assert caught.value.body["message"] == "Number of request tokens has exceeded your limit."
    log = iris.log(caught.value.response.headers["x-iris-request-id"])
    assert (log["status_code"], log["error_type"]) == (429, "rate_limit_error")


def test_it_keeps_the_529_of_an_overloaded_anthropic(client, iris):
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="overloaded", messages=ask("hi"))
    assert caught.value.status_code == 529
    assert caught.value.body == {
        "message": "Overloaded",
        "type": "api_error",
        "param": None,
        "code": "overloaded_error",
    }
    log = iris.log(caught.value.response.headers["x-iris-request-id"])
    assert log["status_code"] == 529 and log["error_message"] == "Overloaded"


def test_it_passes_on_anthropics_authentication_error(iris, fake_anthropic):
    client = client_for(iris, fake_anthropic, key="bad-key")
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model=MODEL, messages=ask("hi"))
    assert caught.value.body["type"] == "authentication_error"
    assert caught.value.body["message"] == "invalid x-api-key"


def test_the_newer_api_version_refuses_temperature(iris, fake_anthropic):
    # Why Iris pins 2023-06-01: 2026-10-21 (the 2.x SDKs' default) refuses sampling params.
    client = client_for(iris, fake_anthropic, **{"x-portkey-anthropic-version": "2026-10-21"})
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=ask("hi"), temperature=0.5)
    assert "temperature" in caught.value.body["message"]
    assert fake_anthropic.last("POST").headers["anthropic-version"] == "2026-10-21"
    client.chat.completions.create(model=MODEL, messages=ask("hi"))  # and without it, fine


def test_it_refuses_more_than_100_images_before_calling_anthropic(client, fake_anthropic):
    tiny = data_uri(png_bytes(), "image/png")
    before = len(fake_anthropic.received)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=ask("many", *[tiny] * 101))
    assert caught.value.body["code"] == "too_many_images"
    assert caught.value.body["param"] == "messages.0.content.101.image_url"
    assert caught.value.body["message"].startswith("messages[0].content[101]: ")
    assert len(fake_anthropic.received) == before


def test_an_error_event_mid_stream_ends_with_an_openai_error(client, iris):
    raw = client.chat.completions.with_raw_response.create(
        model="error-event", messages=ask("a b c d"), stream=True
    )
    stream = raw.parse()
    with pytest.raises(openai.APIError, match="Overloaded"):
        list(stream)
    log = iris.log(raw.headers["x-iris-request-id"])
    assert (log["error_type"], log["error_message"]) == ("api_error", "Overloaded")
    assert log["response_body"]["choices"][0]["message"]["content"] == "I see"


def test_a_dying_stream_ends_with_an_openai_error(client, iris):
    stream = client.chat.completions.create(model="die", messages=ask("a b c"), stream=True)
    with pytest.raises(openai.APIError, match="Upstream failed during the stream"):
        list(stream)
