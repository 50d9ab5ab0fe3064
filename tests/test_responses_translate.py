"""The Responses API ⇄ Chat Completions translation (gateway/responses), without sockets: each
Response and event checked against the openai SDK's own types."""

import base64
import io
import json

import pydantic
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from PIL import Image as PILImage

from gateway.chat import DECODED_FILE, DECODED_IMAGE, Chat
from gateway.errors import GatewayError
from gateway.providers import anthropic
from gateway.providers.base import Target
from gateway.responses import events, translate
from gateway.responses.passthrough import upstream_address
from gateway.responses.request import iris_id, parse_request, request_id_of
from tests.fakes import anthropic as fake_anthropic

EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)


def png() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (4, 3), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def pdf() -> bytes:
    import pypdfium2

    document = pypdfium2.PdfDocument.new()
    document.new_page(200, 100)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def parse(**body):
    return parse_request(json.dumps({"model": "claude-x", **body}).encode())


def chat_of(**body) -> dict:
    return translate.to_chat(parse(**body), "anthropic", takes_reasoning=False).body


def test_a_string_input_is_one_user_message_after_the_instructions():
    body = chat_of(input="hi", instructions="Be terse.", max_output_tokens=50, temperature=0.2)
    assert body == {
        "model": "claude-x",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "hi"},
        ],
        "max_completion_tokens": 50,
        "temperature": 0.2,
    }


def test_images_and_pdfs_are_decoded_once_and_logged_by_reference():
    picture, document = png(), pdf()
    request = parse(
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "what is this?"},
                    {
                        "type": "input_image",
                        "image_url": uri(picture, "image/png"),
                        "detail": "low",
                    },
                    {"type": "input_image", "image_url": "https://example.com/cat.png"},
                    {
                        "type": "input_file",
                        "file_data": uri(document, "application/pdf"),
                        "filename": "a.pdf",
                    },
                ],
            }
        ]
    )
    [decoded, linked], [doc] = request.images, request.documents
    assert (decoded.data, decoded.mime, decoded.message, decoded.part) == (
        picture,
        "image/png",
        0,
        1,
    )
    assert (linked.origin, linked.url) == ("url", "https://example.com/cat.png")
    assert (doc.data, doc.mime, doc.frames, doc.part) == (document, "application/pdf", 1, 3)
    content = request.logged_body()["input"][0]["content"]
    assert content[1]["image_url"] == f"iris-blob:{decoded.sha256}"
    assert content[3]["file_data"] == f"iris-blob:{doc.sha256}"
    assert request.prompt_text() == "what is this?"

    plan = translate.to_chat(request, "anthropic", takes_reasoning=False)
    parts = plan.body["messages"][0]["content"]
    assert parts[1] == {"type": "image_url", "image_url": {"url": DECODED_IMAGE, "detail": "low"}}
    assert parts[2] == {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    assert parts[3] == {"type": "file", "file": {"file_data": DECODED_FILE, "filename": "a.pdf"}}
    assert [(img, m, p) for img, m, p in plan.placements] == [
        (decoded, 0, 1),
        (linked, 0, 2),
        (doc, 0, 3),
    ]


@pytest.mark.parametrize(
    ("part", "param"),
    [
        ({"type": "input_image", "image_url": "ftp://x"}, "input.0.content.0.image_url"),
        (
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            "input.0.content.0.image_url",
        ),
        (
            {"type": "input_file", "file_data": uri(b"hello", "application/pdf")},
            "input.0.content.0.file_data",
        ),
        ({"type": "input_file", "file_data": "JVBERi0="}, "input.0.content.0.file_data"),
    ],
)
def test_a_bad_image_or_file_is_a_400_naming_it(part, param):
    with pytest.raises(GatewayError) as caught:
        parse(input=[{"role": "user", "content": [part]}])
    assert (caught.value.status, caught.value.param) == (400, param)


def test_a_missing_model_or_input_is_named():
    for raw, param in ((b'{"input": "x"}', "model"), (b'{"model": "m"}', "input")):
        with pytest.raises(GatewayError) as caught:
            parse_request(raw)
        assert caught.value.param == param


def test_function_calls_join_the_assistant_turn_and_outputs_become_tool_messages():
    body = chat_of(
        input=[
            {"role": "user", "content": "weather in Paris and Rome?"},
            {
                "type": "message",
                "role": "assistant",
                "id": "msg_1",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
            },
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "weather",
                "arguments": '{"city":"Paris"}',
            },
            {
                "type": "function_call",
                "call_id": "c2",
                "name": "weather",
                "arguments": '{"city":"Rome"}',
            },
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {
                "type": "function_call_output",
                "call_id": "c2",
                "output": [{"type": "input_text", "text": "rain"}],
            },
        ],
        tools=[
            {
                "type": "function",
                "name": "weather",
                "parameters": {"type": "object"},
                "strict": True,
            }
        ],
        tool_choice={"type": "function", "name": "weather"},
        parallel_tool_calls=False,
    )
    user, assistant, first, second = body["messages"]
    assert assistant["content"] == "Checking."
    assert [c["id"] for c in assistant["tool_calls"]] == ["c1", "c2"]
    assert assistant["tool_calls"][1]["function"] == {
        "name": "weather",
        "arguments": '{"city":"Rome"}',
    }
    assert first == {"role": "tool", "tool_call_id": "c1", "content": "sunny"}
    assert second["content"] == "rain"
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "weather", "parameters": {"type": "object"}, "strict": True},
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    assert body["parallel_tool_calls"] is False


def test_a_json_schema_format_becomes_response_format():
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    text = {"format": {"type": "json_schema", "name": "Capital", "schema": schema, "strict": True}}
    body = chat_of(input="capital of France?", text=text, user="u-1", metadata={"a": "b"})
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Capital", "schema": schema, "strict": True},
    }
    assert body["user"] == "u-1" and "metadata" not in body  # kept on the Response instead
    assert "response_format" not in chat_of(input="x", text={"format": {"type": "text"}})


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"max_tool_calls": 3}, "max_tool_calls"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"reasoning": {"effort": "high"}}, "reasoning.effort"),
        ({"reasoning": {"summary": "auto"}}, "reasoning.summary"),
        ({"include": ["file_search_call.results"]}, "include"),
        ({"truncation": "auto"}, "truncation"),
        ({"text": {"verbosity": "low"}}, "text.verbosity"),
        ({"tools": [{"type": "web_search"}]}, "tools.0.type"),
        ({"tool_choice": {"type": "file_search"}}, "tool_choice"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input.0.type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0]",
        ),
    ],
)
def test_what_cannot_be_honoured_is_a_400_naming_it(extra, param):
    with pytest.raises(GatewayError) as caught:
        chat_of(**{"input": "hi", **extra})
    assert (caught.value.status, caught.value.param) == (400, param)
    assert caught.value.message


def test_reasoning_effort_goes_to_a_provider_that_takes_it_and_nulls_are_unset():
    request = parse(input="hi", reasoning={"effort": "low"}, prompt_cache_key=None, top_p=None)
    body = translate.to_chat(request, "x", takes_reasoning=True).body
    assert body["reasoning_effort"] == "low" and "top_p" not in body


def test_a_chat_translators_error_names_the_input_item():
    plan = translate.to_chat(
        parse(input="hi", instructions="sys"), "anthropic", takes_reasoning=False
    )
    error = GatewayError(400, "messages[1].content[2]: no.", param="messages.1.content.2.file")
    translate.rename_error(error, plan)
    assert (error.message, error.param) == ("input[0].content[2]: no.", "input.0.content.2.file")


def test_iris_ids_carry_the_log_request_id():
    rid = "0123456789abcdef0123456789abcdef"
    assert request_id_of(iris_id(rid)) == rid
    assert request_id_of("resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b") is None
    assert request_id_of("resp_iris_../../etc") is None


COMPLETION = {
    "id": "msg_1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "claude-x",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 20,
        "completion_tokens": 5,
        "total_tokens": 25,
        "prompt_tokens_details": {"cached_tokens": 4},
    },
}


def test_a_completion_becomes_a_response_the_sdk_accepts():
    tools = [{"type": "function", "name": "weather", "parameters": {"type": "object"}}]
    request = parse(input="weather?", tools=tools, metadata={"k": "v"}, store=False)
    body = events.to_response(COMPLETION, request, "resp_iris_x")
    response = Response.model_validate(body)
    assert response.id == "resp_iris_x" and response.status == "completed"
    assert response.output_text == "Let me look."
    call = response.output[1]
    assert (call.type, call.call_id, call.name, call.arguments) == (
        "function_call",
        "toolu_1",
        "weather",
        '{"city":"Paris"}',
    )
    assert (
        response.usage.input_tokens == 20 and response.usage.input_tokens_details.cached_tokens == 4
    )
    assert response.metadata == {"k": "v"} and body["store"] is False


def test_a_completion_cut_by_the_token_limit_is_incomplete():
    cut = {**COMPLETION, "choices": [{"message": {"content": "Lo"}, "finish_reason": "length"}]}
    response = Response.model_validate(events.to_response(cut, parse(input="x"), "resp_x"))
    assert (response.status, response.incomplete_details.reason) == (
        "incomplete",
        "max_output_tokens",
    )


def stream_events(message: dict, request) -> list[dict]:
    """The fake Anthropic's SSE bytes → the Anthropic chat Stream → Responses events."""
    chat = Chat(
        raw=b"",
        body={
            "model": "claude-x",
            "messages": [],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    stream = events.ResponseStream(anthropic.Stream(chat), request, "resp_iris_s")
    out = []
    for piece in fake_anthropic.events(message, message["model"]):
        out += stream.feed(piece)
    return out + stream.close()


def test_a_stream_of_text_and_a_tool_call_becomes_typed_events():
    body = {
        "model": "claude-x",
        "messages": [{"role": "user", "content": "Paris"}],
        "tools": [
            {
                "name": "weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
    }
    out = stream_events(fake_anthropic.answer(body, 0), parse(input="Paris", stream=True))
    for event in out:
        EVENTS.validate_python(event)
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    kinds = [e["type"] for e in out]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-1] == "response.completed"
    text = "".join(e["delta"] for e in out if e["type"] == "response.output_text.delta")
    arguments = "".join(
        e["delta"] for e in out if e["type"] == "response.function_call_arguments.delta"
    )
    final = Response.model_validate(out[-1]["response"])
    assert text == final.output_text == "Let me use a tool."
    assert json.loads(arguments) == json.loads(final.output[1].arguments) == {"city": "Paris"}
    assert final.output[1].call_id == "toolu_fake01"
    assert final.usage.output_tokens > 0
    done = [e for e in out if e["type"] == "response.output_item.done"]
    assert [e["output_index"] for e in done] == [0, 1]


def test_an_error_mid_stream_ends_in_response_failed_and_an_error_event():
    body = {"model": "error-event", "messages": [{"role": "user", "content": "one two three"}]}
    out = stream_events(fake_anthropic.answer(body, 0), parse(input="x", stream=True))
    for event in out:
        EVENTS.validate_python(event)
    failed, error = out[-2:]
    assert failed["type"] == "response.failed" and failed["response"]["status"] == "failed"
    assert error["type"] == "error" and error["message"] == "Overloaded"
    assert error["error"]["message"] == "Overloaded"  # what the SDKs raise on, and the relay logs


@pytest.mark.parametrize(
    ("options", "url"),
    [
        ({}, "https://res.openai.azure.com/openai/v1/responses/resp_1"),
        ({"azure-api-version": "v1"}, "https://res.openai.azure.com/openai/v1/responses/resp_1"),
        (
            {"azure-api-version": "2025-04-01-preview"},
            "https://res.openai.azure.com/openai/responses/resp_1?api-version=2025-04-01-preview",
        ),
    ],
)
def test_azure_serves_the_responses_api_at_its_v1_path_or_a_preview_version(options, url):
    target = Target(
        "azure-openai", api_key="k" * 32, options={"azure-resource-name": "res", **options}
    )
    assert upstream_address(target, "/resp_1") == (url, {"api-key": "k" * 32})


def test_openai_gets_its_own_path_and_bearer_key():
    target = Target("openai", base_url="http://127.0.0.1:9/v1/", api_key="sk-x")
    url, headers = upstream_address(target, "")
    assert (url, headers) == ("http://127.0.0.1:9/v1/responses", {"authorization": "Bearer sk-x"})


def test_search_texts_of_a_request_that_got_no_answer_or_an_error():
    request = parse_request(b'{"model": "m", "instructions": "Be brief.", "input": "Hello?"}')
    assert request.search_texts(None) == ["Be brief.", "Hello?"]
    assert request.search_texts({"error": {"message": "no"}}) == ["Be brief.", "Hello?"]
