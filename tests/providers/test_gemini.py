import base64
import json
from pathlib import Path

import orjson
import pytest
from google.genai import types
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gateway.chat import Chat, parse_chat
from gateway.errors import GatewayError
from gateway.providers import gemini
from gateway.providers.base import Target
from tests.conftest import png_bytes
from tests.fakes import gemini as fake
from tests.fakes.server import Received

DATA = Path(__file__).resolve().parents[1] / "data" / "gemini"
TARGET = Target(provider="google", api_key="AIza-test-key")
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": ["string", "null"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


def make_chat(messages: list, **extra) -> Chat:
    body = {"model": "gemini-2.5-flash", "messages": messages, **extra}
    return parse_chat(orjson.dumps(body))


def data_uri(data: bytes, mime: str = "image/png") -> dict:
    url = f"data:{mime};base64," + base64.b64encode(data).decode()
    return {"type": "image_url", "image_url": {"url": url}}


def built(chat: Chat, target: Target = TARGET) -> dict:
    """The upstream body, which must also pass the fake's google-genai validation."""
    body = json.loads(gemini.build_request(chat, target).content)
    fake.validate(body, chat.model)
    return body


def recorded(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def normalized(chunks: list[dict]) -> list[dict]:
    """Chunks with their ids and times replaced, so two runs of a stream compare equal."""
    text = json.dumps([{**c, "created": 0} for c in chunks])
    for chunk in chunks:
        text = text.replace(chunk.get("id", "\0"), "ID")
        for choice in chunk.get("choices", []):
            for call in choice["delta"].get("tool_calls") or []:
                text = text.replace(call["id"], "CALL")
    return json.loads(text)


# --- request -------------------------------------------------------------------------------


def test_it_builds_the_url_and_puts_the_key_in_a_header():
    upstream = gemini.build_request(make_chat([{"role": "user", "content": "hi"}]), TARGET)
    assert upstream.method == "POST"
    assert upstream.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert upstream.headers["x-goog-api-key"] == "AIza-test-key"
    assert upstream.headers["content-type"] == "application/json"
    assert "AIza" not in upstream.url


def test_it_streams_with_alt_sse_and_honours_a_custom_host():
    chat = make_chat([{"role": "user", "content": "hi"}], stream=True, model="models/gemini-pro")
    target = Target(provider="google", base_url="http://127.0.0.1:9/gemini/", api_key="k")
    upstream = gemini.build_request(chat, target)
    assert upstream.url == (
        "http://127.0.0.1:9/gemini/v1beta/models/gemini-pro:streamGenerateContent?alt=sse"
    )


def test_it_moves_system_messages_and_merges_same_role_turns():
    chat = make_chat(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
            {"role": "user", "content": [{"type": "text", "text": "Look"}]},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "assistant", "content": "Bonjour"},
            {"role": "assistant", "content": [{"type": "text", "text": "!"}]},
            {"role": "user", "content": "Merci"},
        ]
    )
    body = built(chat)
    assert body["systemInstruction"] == {
        "parts": [{"text": "Be brief."}, {"text": "Answer in French."}]
    }
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Hello"}, {"text": "Look"}]},
        {"role": "model", "parts": [{"text": "Bonjour"}, {"text": "!"}]},
        {"role": "user", "parts": [{"text": "Merci"}]},
    ]


def test_it_renames_generation_parameters():
    chat = make_chat(
        [{"role": "user", "content": "hi"}],
        max_tokens=10,
        max_completion_tokens=20,
        temperature=0.2,
        top_p=0.9,
        stop="END",
        n=2,
        seed=7,
        response_format={"type": "json_object"},
        user="ignored",
    )
    assert built(chat)["generationConfig"] == {
        "maxOutputTokens": 20,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["END"],
        "candidateCount": 2,
        "seed": 7,
        "responseMimeType": "application/json",
    }


def test_it_sends_a_json_schema_as_response_json_schema():
    schema = {"type": "object", "properties": {"boxes": {"type": "array"}}, "required": ["boxes"]}
    chat = make_chat(
        [{"role": "user", "content": "hi"}],
        stop=["a", "b"],
        response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
    )
    assert built(chat)["generationConfig"] == {
        "stopSequences": ["a", "b"],
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }
    assert "generationConfig" not in built(make_chat([{"role": "user", "content": "hi"}]))


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("required", {"mode": "ANY"}),
        ("none", {"mode": "NONE"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_it_maps_tools_and_tool_choice(choice, config):
    chat = make_chat([{"role": "user", "content": "Paris?"}], tools=[WEATHER], tool_choice=choice)
    body = built(chat)
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parametersJsonSchema": WEATHER["function"]["parameters"],
                }
            ]
        }
    ]
    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_it_replays_tool_calls_and_names_their_results():
    signature = "c2lnbmF0dXJl"
    chat = make_chat(
        [
            {"role": "user", "content": "Weather and time in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        "extra_content": {"google": {"thought_signature": signature}},
                    },
                    {
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": ""},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 21}'},
            {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "9h"}]},
            {"role": "user", "content": "Thanks"},
        ],
        tools=[WEATHER],
    )
    contents = built(chat)["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": signature,
            },
            {"functionCall": {"name": "get_time", "args": {}}},
        ],
    }
    assert contents[2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
            {"functionResponse": {"name": "get_time", "response": {"output": "9h"}}},
            {"text": "Thanks"},
        ],
    }
    assert len(contents) == 3


def test_it_inlines_base64_and_fetched_url_images_byte_for_byte():
    png, jpeg = png_bytes(), png_bytes(size=(5, 7), fmt="JPEG")
    chat = make_chat(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare"},
                    data_uri(png, "image/jpeg"),  # the declared type lies: the bytes decide
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                ],
            }
        ]
    )
    chat.image(0, 2).describe(jpeg)  # as the core does after fetching the URL
    parts = built(chat)["contents"][0]["parts"]
    assert parts[0] == {"text": "Compare"}
    assert parts[1]["inline_data"]["mime_type"] == "image/png"
    assert base64.b64decode(parts[1]["inline_data"]["data"]) == png
    assert parts[2]["inline_data"]["mime_type"] == "image/jpeg"
    assert base64.b64decode(parts[2]["inline_data"]["data"]) == jpeg
    assert set(gemini.IMAGE_MIME_TYPES) == fake.IMAGE_TYPES
    assert gemini.ACCEPTS_IMAGE_URLS is False


def test_it_sends_the_converted_copy_when_the_core_made_one():
    gif = png_bytes(fmt="GIF")
    chat = make_chat([{"role": "user", "content": [data_uri(gif, "image/gif")]}])
    chat.image(0, 0).converted = (png_bytes(), "image/png")
    inline = built(chat)["contents"][0]["parts"][0]["inline_data"]
    assert inline["mime_type"] == "image/png"
    assert base64.b64decode(inline["data"]) == png_bytes()


def test_it_refuses_more_than_20_mb_of_inline_images():
    chat = make_chat(
        [
            {"role": "user", "content": [data_uri(png_bytes()), {"type": "text", "text": "a"}]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "b"}, data_uri(png_bytes())]},
        ]
    )
    chat.image(0, 0).data = b"\x89PNG" + b"\0" * 8_000_000  # 10.7 MB once base64-encoded
    chat.image(2, 1).data = b"\x89PNG" + b"\0" * 8_000_000
    with pytest.raises(GatewayError) as caught:
        gemini.build_request(chat, TARGET)
    error = caught.value
    assert error.status == 400
    assert error.type == "invalid_request_error"
    assert error.code == "request_too_large"
    assert error.param == "messages.2"
    assert "20 MB" in error.message and "21.3 MB" in error.message
    chat.image(2, 1).data = png_bytes()
    assert gemini.build_request(chat, TARGET).content  # 10.7 MB alone is fine


@pytest.mark.parametrize(
    ("messages", "extra", "param", "words"),
    [
        (
            [{"role": "tool", "tool_call_id": "call_x", "content": "1"}],
            {},
            "messages.0",
            "call_x",
        ),
        (
            [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
            {},
            "messages.0.content.0",
            "input_audio",
        ),
        ([{"role": "function", "name": "f", "content": "1"}], {}, "messages.0", "function"),
        (
            [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}],
                },
            ],
            {},
            "messages.1",
            "JSON-object arguments",
        ),
        (
            [{"role": "user", "content": "hi"}],
            {"tools": [{"type": "custom", "custom": {"name": "x"}}]},
            "tools[0]",
            "function tools",
        ),
        (
            [{"role": "user", "content": "hi"}],
            {"tool_choice": "sometimes"},
            "tool_choice",
            "auto, required, none",
        ),
    ],
)
def test_it_refuses_what_gemini_cannot_express(messages, extra, param, words):
    with pytest.raises(GatewayError) as caught:
        gemini.build_request(make_chat(messages, **extra), TARGET)
    assert caught.value.status == 400
    assert caught.value.param == param
    assert words in caught.value.message


def test_it_refuses_an_image_in_a_system_message():
    chat = make_chat([{"role": "system", "content": [data_uri(png_bytes())]}])
    with pytest.raises(GatewayError) as caught:
        gemini.build_request(chat, TARGET)
    assert caught.value.param == "messages.0"
    assert "text only" in caught.value.message


# --- response ------------------------------------------------------------------------------


def test_the_recorded_payloads_match_google_genai_types():
    for name in ("response_text", "response_tool_calls", "response_blocked"):
        types.GenerateContentResponse.model_validate(recorded(f"{name}.json"))
    types.GenerateContentResponse.model_validate(recorded("response_two_candidates.json"))
    for name in ("stream_text.sse", "stream_tool_calls.sse"):
        for line in (DATA / name).read_bytes().decode().split("\r\n\r\n"):
            if line:
                types.GenerateContentResponse.model_validate_json(line.removeprefix("data: "))


def test_it_turns_a_response_into_a_chat_completion():
    chat = make_chat([{"role": "user", "content": "hi"}])
    body = gemini.parse_response(recorded("response_text.json"), chat)
    completion = ChatCompletion.model_validate(body)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gemini-2.5-flash"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == (
        "The image shows a rocket standing on a launch pad under a clear blue sky."
    )
    assert choice.finish_reason == "stop"
    assert body["usage"] == {
        "prompt_tokens": 266,
        "completion_tokens": 46,
        "total_tokens": 312,
        "completion_tokens_details": {"reasoning_tokens": 32},
    }


def test_it_turns_function_calls_into_tool_calls():
    chat = make_chat([{"role": "user", "content": "hi"}])
    body = gemini.parse_response(recorded("response_tool_calls.json"), chat)
    choice = ChatCompletion.model_validate(body).choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    first, second = choice.message.tool_calls
    assert first.id.startswith("call_") and second.id.startswith("call_") and first.id != second.id
    assert first.function.name == "get_weather"
    assert json.loads(first.function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert json.loads(second.function.arguments) == {"timezone": "Europe/Paris"}
    signature = body["choices"][0]["message"]["tool_calls"][0]["extra_content"]["google"]
    assert signature["thought_signature"].startswith("CiQB")
    assert "extra_content" not in body["choices"][0]["message"]["tool_calls"][1]


def test_it_maps_every_candidate_and_its_finish_reason():
    chat = make_chat([{"role": "user", "content": "hi"}], n=2)
    body = gemini.parse_response(recorded("response_two_candidates.json"), chat)
    completion = ChatCompletion.model_validate(body)
    assert [c.index for c in completion.choices] == [0, 1]
    assert [c.finish_reason for c in completion.choices] == ["length", "content_filter"]
    assert completion.choices[0].message.content == "A photo of a cat sitting"
    assert completion.choices[1].message.content is None
    assert body["usage"] == {"prompt_tokens": 263, "completion_tokens": 6, "total_tokens": 269}


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("LANGUAGE", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("OTHER", "stop"),
    ],
)
def test_it_maps_finish_reasons(reason, expected):
    data = {"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}}]}
    data["candidates"][0]["finishReason"] = reason
    body = gemini.parse_response(data, make_chat([{"role": "user", "content": "hi"}]))
    assert ChatCompletion.model_validate(body).choices[0].finish_reason == expected


def test_it_refuses_a_blocked_prompt_with_the_reason():
    with pytest.raises(GatewayError) as caught:
        gemini.parse_response(recorded("response_blocked.json"), make_chat([{"role": "user"}]))
    assert caught.value.status == 400
    assert caught.value.code == "content_filter"
    assert "blocked the prompt" in caught.value.message
    assert "PROHIBITED_CONTENT" in caught.value.message


# --- stream --------------------------------------------------------------------------------


def run(stream_file: str, pieces: list[bytes] | None = None, **extra) -> list[dict]:
    chat = make_chat([{"role": "user", "content": "hi"}], stream=True, **extra)
    stream = gemini.Stream(chat)
    data = (DATA / stream_file).read_bytes()
    out = [c for piece in (pieces or [data]) for c in stream.feed(piece)]
    return out + stream.close()


def test_it_streams_text_with_a_stable_id_role_first_and_usage_last():
    chunks = run("stream_text.sse", stream_options={"include_usage": True})
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    assert len({c["id"] for c in chunks}) == 1
    assert {c["model"] for c in chunks} == {"gemini-2.5-flash"}
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0]["role"] == "assistant"
    assert all("role" not in d for d in deltas[1:])
    text = "".join(d.get("content", "") for d in deltas)
    assert (
        text
        == "The image shows a rocket on its launch pad, ready for liftoff — café au lait sky. 🚀"
    )
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None, None, None, "stop"]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 266,
        "completion_tokens": 51,
        "total_tokens": 317,
        "completion_tokens_details": {"reasoning_tokens": 32},
    }


def test_it_gives_the_same_chunks_whatever_the_byte_splits():
    data = (DATA / "stream_text.sse").read_bytes()
    whole = normalized(run("stream_text.sse", stream_options={"include_usage": True}))
    for k in range(len(data) + 1):
        split = run("stream_text.sse", [data[:k], data[k:]], stream_options={"include_usage": True})
        assert normalized(split) == whole, k
    one_by_one = [data[i : i + 1] for i in range(len(data))]
    split = run("stream_text.sse", one_by_one, stream_options={"include_usage": True})
    assert normalized(split) == whole


def test_it_streams_tool_calls_whatever_the_byte_splits():
    data = (DATA / "stream_tool_calls.sse").read_bytes()
    chunks = run("stream_tool_calls.sse")
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    assert chunks[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "content": "Let me check the weather.",
    }
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[1:3]]
    assert [call["index"] for call in calls] == [0, 1]
    assert [call["function"]["name"] for call in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris"}
    assert calls[0]["extra_content"]["google"]["thought_signature"].startswith("CiQB")
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert all(c["choices"] for c in chunks)  # no usage chunk unless asked
    for k in range(len(data) + 1):
        assert normalized(run("stream_tool_calls.sse", [data[:k], data[k:]])) == normalized(chunks)


def test_it_streams_each_candidate_as_its_own_choice():
    chat = make_chat([{"role": "user", "content": "hi"}], stream=True, n=2)
    stream = gemini.Stream(chat)
    body = {"contents": [{"role": "user", "parts": [{"text": "hi there"}]}]}
    data = b"".join(fake.fragments("gemini-2.5-flash", body, 2))
    chunks = stream.feed(data) + stream.close()
    for index in (0, 1):
        mine = [c["choices"][0] for c in chunks if c["choices"][0]["index"] == index]
        assert mine[0]["delta"]["role"] == "assistant"
        assert "".join(c["delta"].get("content", "") for c in mine) == fake.reply_text(body)
        assert mine[-1]["finish_reason"] == "stop"


def test_it_forwards_an_upstream_error_event_and_stops():
    stream = gemini.Stream(make_chat([{"role": "user", "content": "hi"}], stream=True))
    error = recorded("error_quota.json")
    chunks = stream.feed(b"data: " + json.dumps(error).encode() + b"\r\n\r\n")
    chunks += stream.feed(b'data: {"candidates": []}\r\n\r\n') + stream.close()
    assert len(chunks) == 1
    assert chunks[0]["error"]["type"] == "rate_limit_error"
    assert chunks[0]["error"]["code"] == "resource_exhausted"
    assert chunks[0]["error"]["message"].startswith("You exceeded your current quota")
    assert chunks[0]["error"]["param"] is None


def test_it_reports_a_blocked_prompt_in_a_stream():
    stream = gemini.Stream(make_chat([{"role": "user", "content": "hi"}], stream=True))
    data = orjson.dumps(recorded("response_blocked.json"))
    chunks = stream.feed(b"data: " + data + b"\r\n\r\n") + stream.close()
    assert [c["error"]["code"] for c in chunks] == ["content_filter"]
    assert "PROHIBITED_CONTENT" in chunks[0]["error"]["message"]


def test_it_reports_a_stream_that_ends_early_or_garbled():
    stream = gemini.Stream(make_chat([{"role": "user", "content": "hi"}], stream=True))
    first = (DATA / "stream_text.sse").read_bytes().split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    chunks = stream.feed(first) + stream.close()
    assert chunks[0]["choices"][0]["delta"]["content"] == "The image shows"
    assert chunks[-1]["error"]["message"] == "Gemini ended the stream unfinished."
    stream = gemini.Stream(make_chat([{"role": "user", "content": "hi"}], stream=True))
    chunks = stream.feed(b"data: {not json\r\n\r\n") + stream.close()
    assert len(chunks) == 1 and "malformed" in chunks[0]["error"]["message"]


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "type_", "code"),
    [
        ("error_invalid_key.json", 400, "invalid_request_error", "invalid_argument"),
        ("error_quota.json", 429, "rate_limit_error", "resource_exhausted"),
        ("error_model_not_found.json", 404, "not_found_error", "not_found"),
    ],
)
def test_it_maps_google_errors(name, status, type_, code):
    content = (DATA / name).read_bytes()
    error = gemini.parse_error(status, content)
    assert (error.status, error.type, error.code) == (status, type_, code)
    assert error.message == json.loads(content)["error"]["message"]
    wrapped = gemini.parse_error(status, b"[" + content + b"]")  # the non-SSE stream shape
    assert (wrapped.status, wrapped.type, wrapped.code) == (status, type_, code)


def test_it_maps_other_statuses_and_bodies_that_are_not_json():
    body = {"error": {"code": 403, "message": "Permission denied.", "status": "PERMISSION_DENIED"}}
    assert gemini.parse_error(403, orjson.dumps(body)).type == "permission_error"
    body = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    error = gemini.parse_error(503, orjson.dumps(body))
    assert (error.type, error.code, error.message) == (
        "api_error",
        "unavailable",
        "The model is overloaded.",
    )
    error = gemini.parse_error(502, b"<html>Bad Gateway</html>")
    assert (error.status, error.message) == (502, "<html>Bad Gateway</html>")
    assert gemini.parse_error(500, b"").message == "Gemini returned HTTP 500."


# --- the fake upstream's validator ---------------------------------------------------------


def post(body: object, path: str = "/v1beta/models/gemini-2.5-flash:generateContent", **headers):
    headers = {"x-goog-api-key": "k", **headers}
    return fake.handle(Received("POST", path, headers, json.dumps(body).encode()))


GOOD_PART = {"text": "hi"}
IMAGE_PART = {"inline_data": {"mime_type": "image/png", "data": base64.b64encode(b"x").decode()}}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"contents": [{"role": "assistant", "parts": [GOOD_PART]}]}, "role"),
        ({"contents": [{"role": "system", "parts": [GOOD_PART]}]}, "role"),
        ({"contents": [{"role": "user", "parts": [{"image_url": "x"}]}]}, "image_url"),
        ({"contents": [{"role": "user", "parts": [{"text": "a", **IMAGE_PART}]}]}, "exactly one"),
        (
            {"contents": [{"role": "user", "parts": [{"inline_data": {"data": "!!"}}]}]},
            "base64",
        ),
        (
            {
                "contents": [
                    {
                        "role": "user",
                        "parts": [{"inline_data": {"mime_type": "image/gif", "data": "eA=="}}],
                    }
                ]
            },
            "Unsupported MIME type",
        ),
        ({"contents": []}, "contents is not specified"),
        ({"contents": [{"role": "user", "parts": [GOOD_PART]}], "max_tokens": 5}, "max_tokens"),
        (
            {"contents": [{"role": "user", "parts": [GOOD_PART]}], "generationConfig": {"n": 2}},
            "generationConfig",
        ),
        (
            {
                "contents": [{"role": "user", "parts": [GOOD_PART]}],
                "toolConfig": {"functionCallingConfig": {"mode": "REQUIRED"}},
            },
            "FunctionCallingConfigMode",
        ),
        (
            {
                "contents": [
                    {"role": "user", "parts": [{"functionCall": {"name": "f", "args": "{}"}}]}
                ]
            },
            "functionCall",
        ),
        (
            {
                "contents": [
                    {
                        "role": "model",
                        "parts": [{"functionResponse": {"name": "f", "response": {}}}],
                    }
                ]
            },
            "user role",
        ),
        (
            {
                "contents": [{"role": "user", "parts": [GOOD_PART]}],
                "tools": [{"functionDeclarations": [{"name": "f", "parameters_schema": {}}]}],
            },
            "parameters_schema",
        ),
        (
            {
                "contents": [{"role": "user", "parts": [GOOD_PART]}],
                "generationConfig": {"responseJsonSchema": {"type": "object"}},
            },
            "responseMimeType",
        ),
    ],
)
@pytest.mark.filterwarnings("ignore:.*is not a valid:UserWarning")  # google-genai's lax enums
def test_the_fake_refuses_bodies_the_api_refuses(body, words):
    reply = post(body)
    assert reply.status == 400
    error = json.loads(reply.body)["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert words in error["message"]


def test_the_fake_wants_the_key_header_and_a_known_path():
    body = {"contents": [{"role": "user", "parts": [GOOD_PART]}]}
    path = "/v1beta/models/gemini-2.5-flash:generateContent"
    reply = fake.handle(Received("POST", path, {}, json.dumps(body).encode()))
    assert (reply.status, json.loads(reply.body)["error"]["status"]) == (403, "PERMISSION_DENIED")
    assert post(body, "/v1/chat/completions").status == 404
    assert post(body, path.replace("generateContent", "streamGenerateContent")).status == 400
    assert post(body).status == 200


def test_the_fake_refuses_a_gemini_3_function_call_without_its_signature():
    chat = make_chat(
        [
            {"role": "user", "content": "Paris?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ],
        model="gemini-3-flash-preview",
    )
    body = json.loads(gemini.build_request(chat, TARGET).content)
    with pytest.raises(fake.Invalid, match="thought_signature"):
        fake.validate(body, "gemini-3-flash-preview")
    fake.validate(body, "gemini-2.5-flash")


def test_the_fake_answers_what_google_genai_accepts():
    body = {
        "contents": [{"role": "user", "parts": [IMAGE_PART, {"text": "hi"}]}],
        "tools": [{"functionDeclarations": [{"name": "look"}]}],
    }
    for model in ("gemini-2.5-flash", "thinking"):
        reply = post(body, f"/v1beta/models/{model}:generateContent")
        types.GenerateContentResponse.model_validate_json(reply.body)
    reply = post({"contents": body["contents"]}, "/v1beta/models/x:streamGenerateContent?alt=sse")
    for piece in reply.chunks:
        assert piece.startswith(b"data: ") and piece.endswith(b"\r\n\r\n")
        types.GenerateContentResponse.model_validate_json(piece[6:])


# --- image output (Gemini image models) ------------------------------------------------------

PICTURE = base64.b64encode(png_bytes((6, 4))).decode()


def image_reply(*parts: dict, finish: str = "STOP") -> dict:
    candidate = {"content": {"role": "model", "parts": list(parts)}, "finishReason": finish}
    return {"candidates": [candidate], "usageMetadata": {"promptTokenCount": 5}}


def test_modalities_and_image_config_become_the_generation_config():
    chat = make_chat(
        [{"role": "user", "content": "draw a fox"}],
        model="gemini-2.5-flash-image",
        modalities=["text", "image"],
        image_config={"aspect_ratio": "16:9"},
    )
    assert built(chat)["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": "16:9"},
    }


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"modalities": "image"}, "modalities"),
        ({"image_config": {"aspect_ratio": "16:9", "quality": "hd"}}, "image_config"),
    ],
)
def test_output_settings_gemini_cannot_take_are_refused(extra, param):
    chat = make_chat([{"role": "user", "content": "draw"}], model="gemini-2.5-flash-image", **extra)
    with pytest.raises(GatewayError) as caught:
        gemini.build_request(chat, TARGET)
    assert (caught.value.status, caught.value.param) == (400, param)


def test_pictures_in_a_reply_become_message_images_in_openrouters_shape():
    data = image_reply(
        {"text": "Sketching", "thought": True},
        {"inlineData": {"mimeType": "image/png", "data": "ZHJhZnQ="}, "thought": True},
        {"text": "Here is the fox. "},
        {"inlineData": {"mimeType": "image/png", "data": PICTURE}},
        {"text": "And a jpeg."},
        {"inlineData": {"mimeType": "image/jpeg", "data": PICTURE}},
    )
    out = gemini.parse_response(data, make_chat([{"role": "user", "content": "fox"}]))
    ChatCompletion.model_validate(out)
    message = out["choices"][0]["message"]
    assert message["content"] == "Here is the fox. And a jpeg."
    assert message["images"] == [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PICTURE}"}, "index": 0},
        {
            "type": "image_url",
            "image_url": {"url": f"data:image/jpeg;base64,{PICTURE}"},
            "index": 1,
        },
    ]
    assert out["choices"][0]["finish_reason"] == "stop"


def test_a_reply_without_pictures_has_no_images_key():
    out = gemini.parse_response(image_reply({"text": "hi"}), make_chat([{"role": "user"}]))
    assert "images" not in out["choices"][0]["message"]


def test_pictures_stream_as_delta_images_in_order_and_numbered():
    chat = make_chat([{"role": "user", "content": "fox"}], stream=True)
    stream = gemini.Stream(chat)
    first = image_reply(
        {"text": "A fox"}, {"inlineData": {"mimeType": "image/png", "data": PICTURE}}
    )
    first["candidates"][0].pop("finishReason")
    last = image_reply({"inlineData": {"mimeType": "image/png", "data": PICTURE}}, {"text": "."})
    data = b"".join(b"data: " + orjson.dumps(d) + b"\r\n\r\n" for d in (first, last))
    chunks = stream.feed(data) + stream.close()
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": "A fox"}
    assert [d["images"][0]["index"] for d in deltas if "images" in d] == [0, 1]
    assert list(deltas[1]) == ["images"] and list(deltas[2]) == ["images"]
    assert deltas[3] == {"content": "."} and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    url = deltas[1]["images"][0]["image_url"]["url"]
    assert base64.b64decode(url.removeprefix("data:image/png;base64,")) == png_bytes((6, 4))


def test_the_fake_gemini_draws_for_an_image_model_and_refuses_image_output_elsewhere():
    chat = make_chat(
        [{"role": "user", "content": "fox"}],
        model="gemini-2.5-flash-image",
        modalities=["image", "text"],
    )
    body = built(chat)
    out = gemini.parse_response(fake.response(chat.model, body, 1), chat)
    [picture] = out["choices"][0]["message"]["images"]
    assert picture["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
    with pytest.raises(fake.Invalid):
        fake.validate(body, "gemini-2.5-flash")
