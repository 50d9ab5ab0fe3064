"""gateway/providers/anthropic.py: OpenAI dicts in, Anthropic bodies out, and back; no network.

Every body built here also goes through the fake upstream's validator (the SDK's TypedDicts
plus the rules they cannot express), so a translation the real API would refuse fails here.
"""

import base64
import json
from pathlib import Path

import orjson
import pytest
from anthropic.types import Message, RawMessageStreamEvent, UserMessageParam
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import TypeAdapter

from gateway.chat import Chat, parse_chat
from gateway.errors import GatewayError
from gateway.providers import anthropic
from gateway.providers.base import Target
from tests.conftest import png_bytes
from tests.fakes import anthropic as fake
from tests.fakes.schema import check
from tests.fakes.server import Received

DATA = Path(__file__).resolve().parents[1] / "data" / "anthropic"
TARGET = Target("anthropic", api_key="sk-ant-test")


def chat_of(**body) -> Chat:
    return parse_chat(orjson.dumps({"model": "claude-sonnet-4-5", **body}))


def sent(chat: Chat, target: Target = TARGET, *, validate: bool = True) -> dict:
    upstream = anthropic.build_request(chat, target)
    body = orjson.loads(upstream.content)
    if validate:
        fake.validate(body)
    return body


def build(**body) -> dict:
    return sent(chat_of(**body))


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def image_part(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def user(*parts) -> dict:
    return {"role": "user", "content": list(parts)}


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def error_of(call) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        call()
    return info.value


# --- build_request: endpoint and headers ------------------------------------------------


def test_it_posts_to_the_public_messages_endpoint_with_anthropic_headers():
    upstream = anthropic.build_request(chat_of(messages=[user(text("hi"))]), TARGET)
    assert (upstream.method, upstream.url) == ("POST", "https://api.anthropic.com/v1/messages")
    assert upstream.headers["x-api-key"] == "sk-ant-test"
    assert upstream.headers["anthropic-version"] == "2023-06-01"
    assert upstream.headers["content-type"] == "application/json"
    assert "authorization" not in upstream.headers


def test_it_appends_messages_to_a_custom_host():
    target = Target("anthropic", base_url="http://127.0.0.1:9/proxy/v1/", api_key="k")
    upstream = anthropic.build_request(chat_of(messages=[user(text("hi"))]), target)
    assert upstream.url == "http://127.0.0.1:9/proxy/v1/messages"


def test_it_takes_anthropic_version_and_beta_from_portkey_options():
    options = {"anthropic-version": "2026-10-21", "anthropic-beta": "files-api-2025-04-14"}
    target = Target("anthropic", api_key="k", options=options)
    upstream = anthropic.build_request(chat_of(messages=[user(text("hi"))]), target)
    assert upstream.headers["anthropic-version"] == "2026-10-21"
    assert upstream.headers["anthropic-beta"] == "files-api-2025-04-14"


# --- build_request: messages -------------------------------------------------------------


def test_it_moves_system_and_developer_messages_to_the_top_level_system():
    body = build(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [text("Answer in French.")]},
            {"role": "user", "content": "Bonjour"},
        ]
    )
    assert body["system"] == [text("Be brief."), text("Answer in French.")]
    assert body["messages"] == [{"role": "user", "content": [text("Bonjour")]}]


def test_it_refuses_an_image_in_a_system_message():
    chat = chat_of(messages=[{"role": "system", "content": [image_part(data_uri(png_bytes()))]}])
    error = error_of(lambda: sent(chat))
    assert (error.status, error.param) == (400, "messages.0")


def test_it_merges_consecutive_same_role_messages():
    body = build(
        messages=[
            {"role": "user", "content": "one"},
            {"role": "user", "content": [text("two")]},
            {"role": "assistant", "content": "three"},
            {"role": "assistant", "content": "four"},
            {"role": "user", "content": "five"},
        ]
    )
    assert body["messages"] == [
        {"role": "user", "content": [text("one"), text("two")]},
        {"role": "assistant", "content": [text("three"), text("four")]},
        {"role": "user", "content": [text("five")]},
    ]


def test_it_drops_empty_turns_and_empty_text_parts_that_anthropic_refuses():
    body = build(
        messages=[
            {"role": "user", "content": [text(""), text("hi")]},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "again"},
        ]
    )
    assert body["messages"] == [{"role": "user", "content": [text("hi"), text("again")]}]


def test_it_refuses_content_parts_anthropic_has_no_block_for():
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    error = error_of(lambda: build(messages=[user(text("listen"), audio)]))
    assert error.status == 400
    assert error.param == "messages.0.content.1"
    assert "messages[0].content[1]" in error.message


# --- build_request: parameters -----------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"max_tokens": 50}, 50),
        ({"max_completion_tokens": 60}, 60),
        ({"max_tokens": 70, "max_completion_tokens": 80}, 80),  # the newer name wins
        ({"max_tokens": None, "max_completion_tokens": 90}, 90),
        ({}, anthropic.DEFAULT_MAX_TOKENS),
    ],
)
def test_it_always_sends_max_tokens(params, expected):
    assert build(messages=[user(text("hi"))], **params)["max_tokens"] == expected


def test_it_maps_stop_sampling_and_user():
    body = build(
        messages=[user(text("hi"))],
        stop="END",
        temperature=0.2,
        top_p=0.9,
        user="user-42",
        store=True,  # harmless to leave out: Iris's log keeps every completion
    )
    assert body["stop_sequences"] == ["END"]
    assert (body["temperature"], body["top_p"]) == (0.2, 0.9)
    assert body["metadata"] == {"user_id": "user-42"}
    assert "store" not in body and "stop" not in body and "user" not in body
    assert build(messages=[user(text("hi"))], stop=["a", "b"])["stop_sequences"] == ["a", "b"]


def test_it_sets_stream_from_the_request():
    assert build(messages=[user(text("hi"))], stream=True)["stream"] is True
    assert build(messages=[user(text("hi"))])["stream"] is False


# --- build_request: tools ----------------------------------------------------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


def test_it_translates_tools_to_input_schema():
    bare = {"type": "function", "function": {"name": "now"}}
    body = build(messages=[user(text("hi"))], tools=[WEATHER, bare])
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city.",
            "input_schema": WEATHER["function"]["parameters"],
        },
        {"name": "now", "input_schema": {"type": "object"}},
    ]
    assert "tool_choice" not in body


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
    ],
)
def test_it_translates_tool_choice(choice, parallel, expected):
    extra = {"tool_choice": choice} if choice else {}
    if parallel is not None:
        extra["parallel_tool_calls"] = parallel
    body = build(messages=[user(text("hi"))], tools=[WEATHER], **extra)
    assert body["tool_choice"] == expected


def test_it_refuses_a_tool_that_is_not_a_function():
    error = error_of(lambda: build(messages=[user(text("hi"))], tools=[{"type": "custom"}]))
    assert (error.status, error.param) == (400, "tools.0")


def test_it_turns_tool_calls_into_tool_use_and_tool_messages_into_user_tool_results():
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
    }
    other = {**call, "id": "call_2", "function": {"name": "get_weather", "arguments": ""}}
    body = build(
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Paris and here?"},
            {"role": "assistant", "content": None, "tool_calls": [call, other]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18°C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [text("21°C")]},
            {"role": "user", "content": "Which is warmer?"},
        ],
    )
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"location": "Paris"},
                },
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": [text("18°C")]},
                {"type": "tool_result", "tool_use_id": "call_2", "content": [text("21°C")]},
                text("Which is warmer?"),
            ],
        },
    ]


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]"])
def test_it_refuses_tool_arguments_that_are_not_a_json_object(arguments):
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    messages = [user(text("hi")), {"role": "assistant", "tool_calls": [call]}]
    error = error_of(lambda: build(messages=messages))
    assert error.status == 400
    assert error.param == "messages.1.tool_calls.0.function.arguments"


# --- build_request: images ---------------------------------------------------------------


def test_it_sends_base64_images_byte_for_byte_with_the_media_type_of_the_bytes():
    png = png_bytes(size=(6, 4))
    # The client claims JPEG; the bytes are PNG, and Anthropic checks the bytes.
    body = build(messages=[user(text("what is it?"), image_part(data_uri(png, "image/jpeg")))])
    block = body["messages"][0]["content"][1]
    assert block["type"] == "image"
    assert block["source"]["type"] == "base64"
    assert block["source"]["media_type"] == "image/png"
    assert base64.b64decode(block["source"]["data"]) == png


@pytest.mark.parametrize(
    ("fmt", "mime"), [("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")]
)
def test_it_sends_each_accepted_format_as_is(fmt, mime):
    raw = png_bytes(size=(5, 5), fmt=fmt)
    body = build(messages=[user(image_part(data_uri(raw, mime)))])
    source = body["messages"][0]["content"][0]["source"]
    assert source["media_type"] == mime
    assert base64.b64decode(source["data"]) == raw
    assert mime in anthropic.IMAGE_MIME_TYPES


def test_it_sends_the_converted_copy_when_the_core_converted_the_image():
    bmp = png_bytes(size=(3, 3), fmt="BMP")
    chat = chat_of(messages=[user(image_part(data_uri(bmp, "image/bmp")))])
    png = png_bytes(size=(3, 3))
    chat.image(0, 0).converted = (png, "image/png")  # what the core does for a BMP
    source = sent(chat)["messages"][0]["content"][0]["source"]
    assert source["media_type"] == "image/png"
    assert base64.b64decode(source["data"]) == png


def test_it_sends_a_url_image_as_a_url_source():
    url = "https://example.com/cat.jpg"
    body = sent(chat_of(messages=[user(image_part(url))]), validate=False)  # the fake would fetch
    block = body["messages"][0]["content"][0]
    assert block == {"type": "image", "source": {"type": "url", "url": url}}
    assert anthropic.ACCEPTS_IMAGE_URLS is True


def test_it_inlines_a_url_image_the_core_already_fetched():
    jpeg = png_bytes(size=(5, 7), fmt="JPEG")
    chat = chat_of(messages=[user(image_part("https://example.com/photo"))])
    chat.image(0, 0).describe(jpeg)  # as the core does when it fetched the URL
    source = sent(chat)["messages"][0]["content"][0]["source"]
    assert source["type"] == "base64"
    assert source["media_type"] == "image/jpeg"
    assert base64.b64decode(source["data"]) == jpeg


# --- build_request: image limits (checked before anything is sent) -----------------------


def test_it_accepts_an_image_of_exactly_10_mb_in_base64_and_refuses_one_byte_more():
    limit_bytes = anthropic.MAX_IMAGE_BASE64 // 4 * 3  # 7,864,320 bytes → 10,485,760 in base64
    chat = chat_of(messages=[user(text("a"), image_part(data_uri(png_bytes())))])
    chat.image(0, 1).data = b"\0" * limit_bytes
    block = sent(chat, validate=False)["messages"][0]["content"][1]
    assert len(block["source"]["data"]) == anthropic.MAX_IMAGE_BASE64
    chat.image(0, 1).data = b"\0" * (limit_bytes + 1)
    error = error_of(lambda: sent(chat, validate=False))
    assert (error.status, error.code) == (400, "image_too_large")
    assert error.param == "messages.0.content.1.image_url"
    assert error.message.startswith("messages[0].content[1]: ")
    assert "10 MB" in error.message


def test_it_refuses_an_image_larger_than_8000_px():
    chat = chat_of(messages=[user(image_part(data_uri(png_bytes())))])
    chat.image(0, 0).width = 8001
    error = error_of(lambda: sent(chat))
    assert (error.status, error.code) == (400, "image_too_large")
    assert "messages[0].content[0]" in error.message and "8000×8000" in error.message


def test_it_allows_2001_px_with_20_images_but_not_with_21():
    tiny = image_part(data_uri(png_bytes()))
    chat = chat_of(messages=[user(*[tiny] * 20)])
    chat.image(0, 19).height = 2001
    sent(chat, validate=False)
    chat = chat_of(messages=[user(*[tiny] * 21)])
    chat.image(0, 7).height = 2001
    error = error_of(lambda: sent(chat))
    assert error.param == "messages.0.content.7.image_url"
    assert "2000×2000" in error.message and "more than 20 images" in error.message


def test_it_refuses_more_than_100_images_naming_the_first_one_too_many():
    tiny = image_part(data_uri(png_bytes()))
    sent(chat_of(messages=[user(*[tiny] * 50), user(*[tiny] * 50)]))
    chat = chat_of(messages=[user(*[tiny] * 50), user(*[tiny] * 51)])
    error = error_of(lambda: sent(chat))
    assert (error.status, error.code) == (400, "too_many_images")
    assert error.message.startswith("messages[1].content[50]: ")
    assert "101" in error.message


# --- parse_response -----------------------------------------------------------------------


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def test_recorded_payloads_are_valid_anthropic_messages():
    for name in ("message_text.json", "message_tool_use.json"):
        Message.model_validate(load(name))
    adapter = TypeAdapter(RawMessageStreamEvent)
    for name in ("stream_text.sse", "stream_tool_use.sse", "stream_error.sse"):
        for line in (DATA / name).read_text().splitlines():
            event = json.loads(line[6:]) if line.startswith("data: ") else {}
            if event.get("type") not in (None, "ping", "error"):
                adapter.validate_python(event)


def test_it_turns_a_message_into_a_chat_completion():
    body = anthropic.parse_response(load("message_text.json"), chat_of(messages=[user(text("?"))]))
    ChatCompletion.model_validate(body)
    assert body["object"] == "chat.completion"
    assert body["id"] == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert body["model"] == "claude-sonnet-4-5-20250929"
    choice = body["choices"][0]
    said = "The image shows a red rocket on a launch pad, with steam rising around its base."
    assert choice["message"] == {"role": "assistant", "content": said}
    assert choice["finish_reason"] == "stop"


def test_it_counts_cached_tokens_in_prompt_tokens_and_keeps_anthropics_cache_fields():
    usage = anthropic.parse_response(load("message_text.json"), chat_of(messages=[user()]))["usage"]
    assert usage["prompt_tokens"] == 1543 + 0 + 2048
    assert usage["completion_tokens"] == 24
    assert usage["total_tokens"] == 1543 + 2048 + 24
    assert usage["prompt_tokens_details"] == {"cached_tokens": 2048}
    assert usage["cache_read_input_tokens"] == 2048
    assert usage["cache_creation_input_tokens"] == 0


def test_it_turns_tool_use_blocks_into_tool_calls():
    body = anthropic.parse_response(load("message_tool_use.json"), chat_of(messages=[user()]))
    ChatCompletion.model_validate(body)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "I'll look up the weather in both cities."
    calls = choice["message"]["tool_calls"]
    assert [c["id"] for c in calls] == [
        "toolu_01A09q90qw90lq917835lq9",
        "toolu_01B12r33kd81mz447261pw2",
    ]
    assert all(c["type"] == "function" and c["function"]["name"] == "get_weather" for c in calls)
    assert json.loads(calls[0]["function"]["arguments"]) == {
        "location": "San Francisco, CA",
        "unit": "celsius",
    }
    assert json.loads(calls[1]["function"]["arguments"]) == {"location": "Paris, France"}


def test_it_leaves_content_null_when_the_reply_is_only_tool_calls():
    data = load("message_tool_use.json")
    data["content"] = data["content"][1:]
    message = anthropic.parse_response(data, chat_of(messages=[user()]))["choices"][0]["message"]
    assert message["content"] is None and len(message["tool_calls"]) == 2


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", "stop"),
    ],
)
def test_it_maps_stop_reasons(stop_reason, finish_reason):
    data = {**load("message_text.json"), "stop_reason": stop_reason}
    body = anthropic.parse_response(data, chat_of(messages=[user()]))
    ChatCompletion.model_validate(body)
    assert body["choices"][0]["finish_reason"] == finish_reason


# --- Stream -------------------------------------------------------------------------------


def stream_chat(include_usage: bool = True) -> Chat:
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    return chat_of(messages=[user(text("hi"))], stream=True, **options)


def run(raw: bytes, chat: Chat, *, splits: list[int] = ()) -> list[dict]:
    stream = anthropic.Stream(chat)
    out, start = [], 0
    for end in [*splits, len(raw)]:
        out.extend(stream.feed(raw[start:end]))
        start = end
    return out + stream.close()


def every_split(raw: bytes, chat: Chat) -> list[dict]:
    """Feed the stream whole, then split at every byte offset; all must give the same chunks."""
    whole = run(raw, chat)
    assert len({c.get("id") for c in whole if "id" in c}) == 1  # one stable id
    expected = [strip(c) for c in whole]
    for offset in range(1, len(raw)):
        assert [strip(c) for c in run(raw, chat, splits=[offset])] == expected, offset
    byte_by_byte = run(raw, chat, splits=list(range(1, len(raw))))
    assert [strip(c) for c in byte_by_byte] == expected
    for c in whole:
        if "error" not in c:
            ChatCompletionChunk.model_validate(c)
    return whole


def strip(chunk: dict) -> dict:
    return {k: v for k, v in chunk.items() if k not in ("id", "created")}


def content_of(chunks: list[dict]) -> str:
    return "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")
    )


def test_it_streams_text_with_role_first_a_finish_chunk_and_usage():
    chunks = every_split((DATA / "stream_text.sse").read_bytes(), stream_chat())
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[0]["model"] == "claude-sonnet-4-5-20250929"
    assert content_of(chunks) == "A red rocket stands on the pad — ready for launch. 🚀"
    finish = chunks[-2]["choices"][0]
    assert (finish["delta"], finish["finish_reason"]) == ({}, "stop")
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 1543 + 512 + 2048,
        "completion_tokens": 17,
        "total_tokens": 1543 + 512 + 2048 + 17,
        "prompt_tokens_details": {"cached_tokens": 2048},
        "cache_creation_input_tokens": 512,
        "cache_read_input_tokens": 2048,
    }
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-2]] == [None] * (len(chunks) - 2)


def test_it_sends_no_usage_chunk_unless_asked():
    chunks = run((DATA / "stream_text.sse").read_bytes(), stream_chat(include_usage=False))
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)


def test_it_streams_tool_calls_numbered_in_tool_use_order_and_skips_thinking():
    chunks = every_split((DATA / "stream_tool_use.sse").read_bytes(), stream_chat())
    assert content_of(chunks) == "Let me check both cities."
    calls: dict[int, dict] = {}
    for c in chunks:
        for call in (c.get("choices") or [{}])[0].get("delta", {}).get("tool_calls") or []:
            slot = calls.setdefault(call["index"], {"id": None, "name": "", "arguments": ""})
            slot["id"] = call.get("id") or slot["id"]
            slot["name"] += call.get("function", {}).get("name") or ""
            slot["arguments"] += call.get("function", {}).get("arguments") or ""
    assert sorted(calls) == [0, 1]
    assert calls[0]["id"] == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert calls[1]["id"] == "toolu_01B12r33kd81mz447261pw2"
    assert json.loads(calls[0]["arguments"]) == {"location": "San Francisco, CA", "unit": "celsius"}
    assert json.loads(calls[1]["arguments"]) == {"location": "Paris, France"}
    assert {calls[0]["name"], calls[1]["name"]} == {"get_weather"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_it_ends_the_stream_with_an_openai_error_when_anthropic_sends_an_error_event():
    chunks = every_split((DATA / "stream_error.sse").read_bytes(), stream_chat())
    assert content_of(chunks[:-1]) == "Once upon"
    assert chunks[-1] == {
        "error": {
            "message": "Overloaded",
            "type": "api_error",
            "param": None,
            "code": "overloaded_error",
        }
    }


def test_it_reports_a_stream_that_ends_before_message_stop():
    raw = (DATA / "stream_text.sse").read_bytes()
    cut = raw[: raw.index(b"event: message_delta")]
    chunks = run(cut, stream_chat())
    assert content_of(chunks[:-1]).startswith("A red rocket")
    assert chunks[-1]["error"]["type"] == "api_error"
    assert "ended early" in chunks[-1]["error"]["message"]


def test_it_reports_a_malformed_event_and_ignores_what_follows():
    raw = b"event: message_start\ndata: {not json\n\n" + (DATA / "stream_text.sse").read_bytes()
    chunks = run(raw, stream_chat())
    assert len(chunks) == 1 and "malformed" in chunks[0]["error"]["message"]


# --- parse_error ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "openai_type", "code"),
    [
        (400, "invalid_request_error", "invalid_request_error", None),
        (401, "authentication_error", "authentication_error", None),
        (402, "billing_error", "insufficient_quota", "billing_error"),
        (403, "permission_error", "permission_error", None),
        (404, "not_found_error", "not_found_error", None),
        (413, "request_too_large", "invalid_request_error", "request_too_large"),
        (429, "rate_limit_error", "rate_limit_error", None),
        (500, "api_error", "api_error", None),
        (529, "overloaded_error", "api_error", "overloaded_error"),
    ],
)
def test_it_maps_anthropic_errors(status, kind, openai_type, code):
    content = orjson.dumps({"type": "error", "error": {"type": kind, "message": f"It's {kind}"}})
    error = anthropic.parse_error(status, content)
    assert (error.status, error.type, error.code) == (status, openai_type, code)
    assert error.message == f"It's {kind}"


def test_it_maps_recorded_error_bodies():
    error = anthropic.parse_error(529, (DATA / "error_overloaded.json").read_bytes())
    assert error.body()["error"] == {
        "message": "Overloaded",
        "type": "api_error",
        "param": None,
        "code": "overloaded_error",
    }
    error = anthropic.parse_error(400, (DATA / "error_invalid_request.json").read_bytes())
    assert error.type == "invalid_request_error"
    assert "does not match the provided media type" in error.message


def test_it_keeps_a_non_json_error_body_as_the_message():
    error = anthropic.parse_error(502, b"<html>Bad gateway</html>")
    assert (error.status, error.type, error.message) == (
        502,
        "api_error",
        "<html>Bad gateway</html>",
    )


# --- the fake upstream's validator (tests/fakes/anthropic.py) ------------------------------

GOOD = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def rejects(body: dict, version: str = "2023-06-01") -> str:
    with pytest.raises(fake.Invalid) as info:
        fake.validate(body, version)
    return str(info.value)


def test_the_fake_accepts_a_good_body():
    assert fake.validate(GOOD) == 0


def test_the_fake_rejects_what_the_sdk_types_refuse():
    assert "max_tokens" in rejects({**GOOD, "max_tokens": "10"})
    assert "stop" in rejects({**GOOD, "stop": ["x"]})
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": ""}}
    assert "media_type" in rejects({**GOOD, "messages": [user(image)]})
    assert "content" in rejects({**GOOD, "messages": [{"role": "user"}]})


def test_the_fake_checks_blocks_that_a_whole_message_check_would_wave_through():
    bogus = {"role": "user", "content": [{"type": "image", "url": "https://x/y.png"}]}
    check(bogus, UserMessageParam)  # passes: the union also holds the SDK's response models
    assert "unknown field" in rejects({**GOOD, "messages": [bogus]})


def test_the_fake_rejects_a_system_role_and_consecutive_roles():
    system = {"role": "system", "content": "Be brief."}
    assert 'Unexpected role "system"' in rejects({**GOOD, "messages": [system, *GOOD["messages"]]})
    twice = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    assert "roles must alternate" in rejects({**GOOD, "messages": twice})


def test_the_fake_takes_sampling_params_only_under_the_2023_version():
    fake.validate({**GOOD, "temperature": 0.5, "top_p": 0.9, "top_k": 5})
    assert "temperature" in rejects({**GOOD, "temperature": 0.5}, "2026-10-21")


def test_the_fake_rejects_images_whose_bytes_disagree_with_the_media_type():
    source = {"type": "base64", "media_type": "image/jpeg", "data": base64.b64encode(png_bytes())}
    source["data"] = source["data"].decode()
    body = {**GOOD, "messages": [user({"type": "image", "source": source})]}
    assert "does not match the provided media type" in rejects(body)


def test_the_fake_rejects_tool_results_without_a_tool_use():
    result = {"type": "tool_result", "tool_use_id": "toolu_x", "content": "42"}
    body = {**GOOD, "messages": [*GOOD["messages"], {"role": "assistant", "content": "ok"}]}
    body["messages"].append(user(result))
    assert "unexpected `tool_use_id`" in rejects(body)


def test_the_fake_answers_anthropics_error_shape():
    request = Received(
        "POST",
        "/v1/messages",
        {"x-api-key": "k", "anthropic-version": "2023-06-01"},
        orjson.dumps({**GOOD, "messages": [{"role": "system", "content": "x"}]}),
    )
    reply = fake.handle(request)
    assert reply.status == 400
    body = json.loads(reply.body)
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    no_key = fake.handle(Received("POST", "/v1/messages", {}, orjson.dumps(GOOD)))
    assert no_key.status == 401
    assert json.loads(no_key.body)["error"]["type"] == "authentication_error"


def test_the_fake_answers_valid_anthropic_messages_and_events():
    good = Received(
        "POST", "/v1/messages", {"x-api-key": "k", "anthropic-version": "2023-06-01"}, b""
    )
    good.body = orjson.dumps(GOOD)
    Message.model_validate(json.loads(fake.handle(good).body))
    good.body = orjson.dumps({**GOOD, "stream": True})
    adapter = TypeAdapter(RawMessageStreamEvent)
    for piece in fake.handle(good).chunks:
        event = json.loads(piece.decode().split("data: ", 1)[1])
        if event["type"] != "ping":
            adapter.validate_python(event)
