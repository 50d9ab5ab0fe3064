"""Google Gemini through a real Iris: the openai (and portkey-ai) SDK in front, a fake Gemini."""

import base64
import json

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from portkey_ai import Portkey

from tests.conftest import SHARED_IMAGES
from tests.fakes import gemini as fake_gemini_handler

KEY = "AIza-fake-gemini-key"
CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()
CAT_URI = "data:image/png;base64," + base64.b64encode(CAT).decode()
TOOL = {
    "type": "function",
    "function": {
        "name": "report_object",
        "description": "Report the main object in the image.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
            "additionalProperties": False,
        },
    },
}


def client_for(iris, fake_gemini, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=iris.url + "/v1",
        api_key=key,  # sent as Authorization: Bearer; Iris moves it to x-goog-api-key
        max_retries=0,
        default_headers=iris.headers(
            **{"x-portkey-provider": "google", "x-portkey-custom-host": fake_gemini.url}
        ),
    )


@pytest.fixture
def client(iris, fake_gemini) -> openai.OpenAI:
    return client_for(iris, fake_gemini)


def vision(image_url: str, text: str = "What is in this image?") -> list[dict]:
    return [
        {"role": "system", "content": "You are terse."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": image_url}},
            ],
        },
    ]


def test_it_answers_a_base64_image(iris, fake_gemini, client):
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash", messages=vision(CAT_URI, "which animal?"), max_tokens=50
    )
    completion = ChatCompletion.model_validate(raw.parse().model_dump())
    assert completion.choices[0].message.content == "I see 1 image(s). You said: which animal?"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gemini-2.5-flash"
    assert completion.usage.prompt_tokens == 11 + 258

    last = fake_gemini.last()
    assert last.path == "/v1beta/models/gemini-2.5-flash:generateContent"  # no ?key=
    assert last.headers["x-goog-api-key"] == KEY and "authorization" not in last.headers
    body = last.json()
    assert body["systemInstruction"] == {"parts": [{"text": "You are terse."}]}
    assert body["generationConfig"] == {"maxOutputTokens": 50}
    inline = body["contents"][0]["parts"][1]["inline_data"]
    assert inline["mime_type"] == "image/png" and base64.b64decode(inline["data"]) == CAT

    log = iris.log(raw.headers["x-iris-request-id"])
    assert (log["provider"], log["status_code"], log["image_count"]) == ("google", 200, 1)
    assert (
        log["upstream_url"] == f"{fake_gemini.url}/v1beta/models/gemini-2.5-flash:generateContent"
    )
    logged = log["upstream_body"]["contents"][0]["parts"][1]["inline_data"]
    assert logged == {**inline, "data": f"iris-blob:{log['images'][0]['sha256']}"}
    assert log["upstream_body"]["generationConfig"] == {"maxOutputTokens": 50}
    assert log["response_body"]["choices"][0]["message"]["content"] == (
        "I see 1 image(s). You said: which animal?"
    )
    assert log["prompt_tokens"] == 269
    assert KEY not in json.dumps(log)


def test_it_streams_with_usage_and_logs_the_assembled_reply(iris, fake_gemini, client):
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash",
        messages=vision(CAT_URI, "stream it"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(raw.parse())
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk.model_dump())
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "I see 1 image(s). You said: stream it"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(text.split())
    assert fake_gemini.last().path.endswith(":streamGenerateContent?alt=sse")

    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["is_stream"] is True and log["chunk_count"] == len(chunks)
    assert log["response_body"]["choices"][0]["message"]["content"] == text
    assert log["completion_tokens"] == chunks[-1].usage.completion_tokens


def test_an_image_url_is_fetched_and_inlined(iris, fake_gemini, fake_openai, client):
    url = f"{fake_openai.url}/images/rocket.jpg"
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash", messages=vision(url)
    )
    assert raw.parse().choices[0].message.content.startswith("I see 1 image(s).")
    inline = fake_gemini.last().json()["contents"][0]["parts"][1]["inline_data"]
    assert inline["mime_type"] == "image/jpeg"
    assert base64.b64decode(inline["data"]) == (SHARED_IMAGES / "rocket.jpg").read_bytes()
    [image] = iris.log(raw.headers["x-iris-request-id"])["images"]
    assert (image["origin"], image["url"], image["mime"]) == ("url", url, "image/jpeg")


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_come_back_in_openais_shape(fake_gemini, client, stream):
    result = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=vision(CAT_URI, "box the animal"),
        tools=[TOOL],
        tool_choice="required",
        stream=stream,
    )
    if stream:
        chunks = list(result)
        for chunk in chunks:
            ChatCompletionChunk.model_validate(chunk.model_dump())
        [[call]] = [c.choices[0].delta.tool_calls for c in chunks if c.choices[0].delta.tool_calls]
        finish = chunks[-1].choices[0].finish_reason
    else:
        ChatCompletion.model_validate(result.model_dump())
        [call] = result.choices[0].message.tool_calls
        finish = result.choices[0].finish_reason
    assert (call.function.name, finish) == ("report_object", "tool_calls")
    assert call.id.startswith("call_")
    assert json.loads(call.function.arguments) == {"query": "box the animal"}
    body = fake_gemini.last().json()
    assert body["tools"][0]["functionDeclarations"][0]["name"] == "report_object"
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


def test_a_tool_loop_keeps_gemini_3s_thought_signature(fake_gemini, client):
    """The SDK's message, appended as is, carries extra_content back: Gemini 3 needs it."""
    model = "gemini-3-flash-preview"
    messages = vision(CAT_URI, "box the animal")
    first = client.chat.completions.create(model=model, messages=messages, tools=[TOOL])
    message = first.choices[0].message
    [call] = message.tool_calls
    messages += [
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"label": "cat"}'},
    ]
    second = client.chat.completions.create(model=model, messages=messages, tools=[TOOL])
    assert second.choices[0].message.content == (
        'I see 1 image(s). You said: tool report_object returned {"label": "cat"}'
    )
    [replayed] = fake_gemini.last().json()["contents"][1]["parts"]
    assert replayed["thoughtSignature"] == fake_gemini_handler.SIGNATURE


def test_a_tool_call_without_its_signature_gets_geminis_400(client):
    messages = [
        {"role": "user", "content": "box it"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gemini-3-flash-preview", messages=messages)
    assert caught.value.body["code"] == "invalid_argument"
    assert "thought_signature" in caught.value.body["message"]


def test_upstream_errors_come_back_in_openais_shape(iris, fake_gemini):
    client = client_for(iris, fake_gemini)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.with_raw_response.create(model="fail-429", messages=vision(CAT_URI))
    assert caught.value.body == {
        "message": "You exceeded your current quota.",
        "type": "rate_limit_error",
        "param": None,
        "code": "resource_exhausted",
    }
    log = iris.log(caught.value.response.headers["x-iris-request-id"])
    assert (log["status_code"], log["error_type"]) == (429, "rate_limit_error")
    assert log["response_body"]["error"]["status"] == "RESOURCE_EXHAUSTED"

    with pytest.raises(openai.BadRequestError) as caught:
        client_for(iris, fake_gemini, key="bad-key").chat.completions.create(
            model="gemini-2.5-flash", messages=vision(CAT_URI)
        )
    assert caught.value.body["message"] == "API key not valid. Please pass a valid API key."
    assert caught.value.body["type"] == "invalid_request_error"


@pytest.mark.parametrize("stream", [False, True])
def test_a_blocked_prompt_is_reported_as_a_content_filter_error(iris, client, stream):
    if not stream:
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="blocked", messages=vision(CAT_URI))
        assert caught.value.body["code"] == "content_filter"
        assert "blockReason: SAFETY" in caught.value.body["message"]
        return
    with pytest.raises(openai.APIError) as caught:
        list(client.chat.completions.create(model="blocked", messages=vision(CAT_URI), stream=True))
    assert "blockReason: SAFETY" in caught.value.message


def test_a_broken_stream_ends_with_an_error_event(iris, client):
    raw = client.chat.completions.with_raw_response.create(
        model="die", messages=vision(CAT_URI, "one two three four"), stream=True
    )
    received = []
    with pytest.raises(openai.APIError):
        for chunk in raw.parse():
            received.append(chunk.choices[0].delta.content)
    assert received == ["I", " see"]
    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["is_stream"] is True and log["error_type"]


def test_a_body_gemini_cannot_take_is_refused_before_any_upstream_call(fake_gemini, client):
    before = len(fake_gemini.received)
    messages = [{"role": "tool", "tool_call_id": "nope", "content": "orphan"}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gemini-2.5-flash", messages=messages)
    assert caught.value.body["param"] == "messages.0"
    assert len(fake_gemini.received) == before


@pytest.mark.parametrize("stream", [False, True])
def test_it_works_with_the_portkey_sdk(iris, fake_gemini, stream):
    portkey = Portkey(
        api_key=iris.key,
        base_url=iris.url + "/v1",
        provider="google",
        Authorization=f"Bearer {KEY}",
        custom_host=fake_gemini.url,
        trace_id="trace-gemini-portkey",
    )
    messages = vision(CAT_URI, "portkey?")
    result = portkey.chat.completions.create(
        model="gemini-2.5-flash", messages=messages, stream=stream
    )
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in result if c.choices)
    else:
        text = result.choices[0].message.content
    assert text == "I see 1 image(s). You said: portkey?"
    assert fake_gemini.last().headers["x-goog-api-key"] == KEY
    rows = iris.find_logs(trace_id="trace-gemini-portkey")
    assert rows and rows[0]["provider"] == "google"


def test_image_detail_reaches_gemini_as_media_resolution_and_the_log_estimates_it(
    iris, fake_gemini, client
):
    """detail low/high → media_resolution LOW/HIGH (ai.google.dev/gemini-api/docs/
    media-resolution, read 2026-11-26): on each part for Gemini 3, whose images then cost 280
    and 1120 tokens ("Token counts"); the fake checks the fields against google-genai's types."""
    content = [
        {"type": "text", "text": "compare"},
        {"type": "image_url", "image_url": {"url": CAT_URI, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": CAT_URI, "detail": "high"}},
        {"type": "image_url", "image_url": {"url": CAT_URI}},
    ]
    messages = [{"role": "user", "content": content}]
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-3-flash-preview", messages=messages
    )
    assert raw.parse().choices[0].message.content == "I see 3 image(s). You said: compare"
    body = fake_gemini.last().json()
    parts = body["contents"][0]["parts"][1:]
    assert [p.get("media_resolution") for p in parts] == [
        {"level": "MEDIA_RESOLUTION_LOW"},
        {"level": "MEDIA_RESOLUTION_HIGH"},
        None,
    ]
    assert "mediaResolution" not in body.get("generationConfig", {})
    log = iris.log(raw.headers["x-iris-request-id"])
    assert [i["estimated_tokens"] for i in log["images"]] == [280, 1120, 1120]

    # Gemini 2.5: one level for the whole request, in generationConfig, when all images agree.
    both_low = [content[0], content[1], content[1]]
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": both_low}]
    )
    body = fake_gemini.last().json()
    assert body["generationConfig"] == {"mediaResolution": "MEDIA_RESOLUTION_LOW"}
    assert not any("media_resolution" in p for p in body["contents"][0]["parts"])
    log = iris.log(raw.headers["x-iris-request-id"])
    assert [i["estimated_tokens"] for i in log["images"]] == [64, 64]  # "Gemini 2.5": LOW 64
