"""reasoning_effort on the anthropic, bedrock and google routes, and reasoning in the Responses
translation; no network. Every upstream body goes through the fake's validator (the SDKs'
types and the documented thinking rules), and every reply the fakes make is translated back."""

import json

import orjson
import pydantic
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent

from gateway.chat import parse_chat
from gateway.errors import GatewayError
from gateway.providers import anthropic, bedrock, gemini
from gateway.providers.base import Target
from gateway.responses import events, translate
from gateway.responses.request import iris_id, parse_request
from tests.fakes import anthropic as fake_anthropic
from tests.fakes import anthropic_thinking as fake_thinking
from tests.fakes import bedrock as fake_bedrock
from tests.fakes import gemini as fake_gemini

ANTHROPIC = Target("anthropic", api_key="sk-ant-test")
BUDGET_MODEL, ADAPTIVE_MODEL = "claude-sonnet-4-5", "claude-opus-4-6"
AWS = {
    "aws-access-key-id": fake_bedrock.ACCESS_KEY_ID,
    "aws-secret-access-key": fake_bedrock.SECRET_ACCESS_KEY,
    "aws-region": fake_bedrock.REGION,
}
BEDROCK_CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HI = [{"role": "user", "content": "Why is the sky blue?"}]
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}
EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)


def chat_of(model: str, messages: list = HI, **body):
    return parse_chat(orjson.dumps({"model": model, "messages": messages, **body}))


def claude(model: str = BUDGET_MODEL, messages: list = HI, **body):
    """The Anthropic body Iris sends, after the fake Anthropic accepted it."""
    up = anthropic.build_request(chat_of(model, messages, **body), ANTHROPIC)
    fake_anthropic.validate(up.sent)
    return up


def converse(model: str = BEDROCK_CLAUDE, messages: list = HI, **body):
    chat = chat_of(model, messages, **body)
    up = bedrock.build_request(chat, Target("bedrock", options=AWS))
    operation = "ConverseStream" if chat.stream else "Converse"
    fake_bedrock.validate_body(up.content, model_id=model, operation=operation)
    return up


# --- anthropic ----------------------------------------------------------------------------


def test_a_budget_model_gets_a_thinking_budget_per_level_and_room_to_answer():
    sent = claude(reasoning_effort="high").sent
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 16384}
    assert sent["max_tokens"] == 16384 + 4096 and "output_config" not in sent
    assert claude(reasoning_effort="minimal").sent["thinking"]["budget_tokens"] == 1024


def test_an_adaptive_model_thinks_adaptively_at_claudes_effort():
    sent = claude(ADAPTIVE_MODEL, reasoning_effort="minimal").sent
    assert sent["thinking"] == {"type": "adaptive"}
    assert sent["output_config"] == {"effort": "low"}
    person = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": person}}
    sent = claude(ADAPTIVE_MODEL, reasoning_effort="medium", response_format=fmt).sent
    assert sent["output_config"] == {
        "format": {"type": "json_schema", "schema": person},
        "effort": "medium",
    }


def test_none_asks_for_no_thinking():
    up = claude(reasoning_effort="none")
    assert "thinking" not in up.sent and up.dropped == []


def test_a_small_max_tokens_lowers_the_budget_and_a_tiny_one_is_a_400():
    sent = claude(reasoning_effort="high", max_completion_tokens=3000).sent
    assert sent["thinking"]["budget_tokens"] == 2999 and sent["max_tokens"] == 3000
    with pytest.raises(GatewayError) as caught:
        claude(reasoning_effort="low", max_tokens=1000)
    assert (caught.value.status, caught.value.param) == (400, "max_tokens")


def test_a_temperature_that_thinking_refuses_is_a_400_or_dropped_on_opt_in():
    with pytest.raises(GatewayError) as caught:
        claude(reasoning_effort="low", temperature=0.2)
    assert (caught.value.param, caught.value.code) == ("temperature", "unsupported_parameter")
    up = claude(reasoning_effort="low", temperature=0.2, top_k=5, drop_params=True)
    assert up.dropped == ["temperature", "top_k"]
    assert "temperature" not in up.sent and "top_k" not in up.sent and "thinking" in up.sent
    assert claude(reasoning_effort="low", temperature=1, top_p=0.97).sent["temperature"] == 1


def test_a_forced_tool_and_thinking_is_a_400_or_thinking_dropped_on_opt_in():
    with pytest.raises(GatewayError) as caught:
        claude(reasoning_effort="high", tools=[WEATHER], tool_choice="required")
    assert caught.value.param == "tool_choice"
    with pytest.raises(GatewayError) as caught:
        claude(reasoning_effort="high", response_format={"type": "json_object"})
    assert caught.value.param == "response_format"
    up = claude(reasoning_effort="high", tools=[WEATHER], tool_choice="required", drop_params=True)
    assert "thinking" not in up.sent and up.dropped == ["reasoning_effort"]


def test_an_unknown_effort_is_a_400():
    with pytest.raises(GatewayError) as caught:
        claude(reasoning_effort="extreme")
    assert caught.value.param == "reasoning_effort"


def test_thinking_comes_back_as_reasoning_content_with_its_signed_block():
    up = claude(reasoning_effort="high")
    chat = chat_of(BUDGET_MODEL, reasoning_effort="high")
    body = anthropic.parse_response(fake_anthropic.answer(up.sent, 0), chat)
    message = ChatCompletion.model_validate(body).choices[0].message
    thought = fake_thinking.thought("Why is the sky blue?")
    assert message.model_extra["reasoning_content"] == thought
    [block] = message.model_extra["thinking_blocks"]
    assert block == {
        "type": "thinking",
        "thinking": thought,
        "signature": fake_thinking.signature(thought),
    }
    assert message.content.startswith("I see 0 image(s)")
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_thinking_blocks_go_back_first_in_their_turn_as_tool_use_with_thinking_needs():
    first = claude(reasoning_effort="high", tools=[WEATHER])
    chat = chat_of(BUDGET_MODEL, reasoning_effort="high", tools=[WEATHER])
    reply = anthropic.parse_response(fake_anthropic.answer(first.sent, 0), chat)
    said = reply["choices"][0]["message"]
    assert said["tool_calls"] and said["thinking_blocks"]
    turns = [
        *HI,
        said,
        {"role": "tool", "tool_call_id": said["tool_calls"][0]["id"], "content": "sunny"},
    ]
    sent = claude(messages=turns, reasoning_effort="high", tools=[WEATHER]).sent
    assert sent["messages"][1]["content"][0] == said["thinking_blocks"][0]
    without = [*turns[:1], {k: v for k, v in said.items() if k != "thinking_blocks"}, turns[2]]
    up = anthropic.build_request(
        chat_of(BUDGET_MODEL, without, reasoning_effort="high", tools=[WEATHER]), ANTHROPIC
    )
    with pytest.raises(fake_anthropic.Invalid, match="must start with a thinking block"):
        fake_anthropic.validate(up.sent)  # why they must go back


def test_a_malformed_thinking_block_is_a_400_naming_it():
    turns = [*HI, {"role": "assistant", "content": "x", "thinking_blocks": [{"type": "thinking"}]}]
    with pytest.raises(GatewayError) as caught:
        claude(messages=[*turns, {"role": "user", "content": "y"}])
    assert caught.value.param == "messages.1.thinking_blocks.0"


def test_a_stream_gives_thinking_as_reasoning_content_then_the_signed_block():
    up = claude(reasoning_effort="high", stream=True)
    chat = chat_of(BUDGET_MODEL, reasoning_effort="high", stream=True)
    message = fake_anthropic.answer(up.sent, 0)
    stream = anthropic.Stream(chat)
    chunks = [
        c for piece in fake_anthropic.events(message, BUDGET_MODEL) for c in stream.feed(piece)
    ]
    chunks += stream.close()
    deltas = [ChatCompletionChunk.model_validate(c).choices[0].delta for c in chunks]
    thought = "".join(d.model_extra.get("reasoning_content") or "" for d in deltas)
    assert thought == fake_thinking.thought("Why is the sky blue?")
    [signed] = [
        d.model_extra["thinking_blocks"][0] for d in deltas if d.model_extra.get("thinking_blocks")
    ]
    assert signed == {
        "type": "thinking",
        "thinking": thought,
        "signature": fake_thinking.signature(thought),
    }
    assert "".join(d.content or "" for d in deltas).startswith("I see 0 image(s)")


# --- bedrock ------------------------------------------------------------------------------


def test_bedrock_claude_thinks_through_additional_model_request_fields():
    sent = converse(reasoning_effort="medium", top_k=5, drop_params=True).sent
    assert sent["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 8192}
    }
    assert sent["inferenceConfig"]["maxTokens"] == 8192 + 4096
    adaptive = converse("us.anthropic.claude-opus-4-6-v1", reasoning_effort="xhigh").sent
    assert adaptive["additionalModelRequestFields"] == {"thinking": {"type": "adaptive"}}
    assert adaptive["outputConfig"] == {"effort": "xhigh"}


def test_bedrock_refuses_reasoning_effort_for_other_models_and_thinking_conflicts():
    with pytest.raises(GatewayError) as caught:
        converse("us.amazon.nova-pro-v1:0", reasoning_effort="high")
    assert (caught.value.param, caught.value.code) == ("reasoning_effort", "unsupported_parameter")
    with pytest.raises(GatewayError) as caught:
        converse(reasoning_effort="high", temperature=0.3)
    assert caught.value.param == "temperature"
    assert (
        "additionalModelRequestFields"
        not in converse("us.amazon.nova-pro-v1:0", reasoning_effort="none").sent
    )


def test_bedrock_reasoning_content_comes_back_and_goes_back():
    up = converse(reasoning_effort="high", tools=[WEATHER])
    chat = chat_of(BEDROCK_CLAUDE, reasoning_effort="high", tools=[WEATHER])
    params = fake_bedrock.validate_body(up.content, model_id=BEDROCK_CLAUDE)
    reply = fake_bedrock.answer(params)
    message = bedrock.parse_response(reply, chat)["choices"][0]["message"]
    thought = fake_thinking.thought("Why is the sky blue?")
    assert message["reasoning_content"] == thought
    assert message["thinking_blocks"][0]["signature"] == fake_thinking.signature(thought)
    turns = [
        *HI,
        {"role": "assistant", "content": "ok", "thinking_blocks": message["thinking_blocks"]},
    ]
    sent = converse(
        messages=[*turns, {"role": "user", "content": "more"}], reasoning_effort="high"
    ).sent
    reasoning = sent["messages"][1]["content"][0]["reasoningContent"]["reasoningText"]
    assert reasoning == {"text": thought, "signature": fake_thinking.signature(thought)}


def test_bedrock_streams_reasoning_content_then_the_signed_block():
    up = converse(reasoning_effort="high", stream=True)
    chat = chat_of(BEDROCK_CLAUDE, reasoning_effort="high", stream=True)
    params = fake_bedrock.validate_body(
        up.content, model_id=BEDROCK_CLAUDE, operation="ConverseStream"
    )
    stream = bedrock.Stream(chat)
    chunks = [
        c
        for frame in fake_bedrock.stream_frames(fake_bedrock.answer(params))
        for c in stream.feed(frame)
    ]
    assert stream.close() == []
    deltas = [ChatCompletionChunk.model_validate(c).choices[0].delta for c in chunks]
    thought = "".join(d.model_extra.get("reasoning_content") or "" for d in deltas)
    assert thought == fake_thinking.thought("Why is the sky blue?")
    blocks = [
        d.model_extra["thinking_blocks"] for d in deltas if d.model_extra.get("thinking_blocks")
    ]
    assert blocks == [
        [{"type": "thinking", "thinking": thought, "signature": fake_thinking.signature(thought)}]
    ]


# --- google -------------------------------------------------------------------------------


def gemini_body(model: str, **body) -> dict:
    chat = chat_of(model, **body)
    sent = gemini.build_request(chat, Target("google", api_key="k")).sent
    fake_gemini.validate(sent, model)
    return sent


@pytest.mark.parametrize(
    ("model", "effort", "config"),
    [
        ("gemini-2.5-flash", "high", {"thinkingBudget": 24576, "includeThoughts": True}),
        ("gemini-2.5-flash", "low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-flash", "none", {"thinkingBudget": 0}),
        ("gemini-3-flash-preview", "medium", {"thinkingLevel": "MEDIUM", "includeThoughts": True}),
        ("gemini-3-pro-preview", "none", {"thinkingLevel": "MINIMAL"}),
    ],
)
def test_gemini_thinks_by_budget_before_3_and_by_level_from_3(model, effort, config):
    assert (
        gemini_body(model, reasoning_effort=effort)["generationConfig"]["thinkingConfig"] == config
    )


def test_gemini_refuses_what_google_refuses():
    with pytest.raises(fake_gemini.Invalid, match="only works in thinking mode"):
        gemini_body("gemini-2.5-pro", reasoning_effort="none")  # Google's own 400, from the fake
    with pytest.raises(GatewayError) as caught:
        gemini_body("gemini-2.5-flash", reasoning_effort="huge")
    assert caught.value.param == "reasoning_effort"


def test_gemini_thought_parts_are_reasoning_content_in_replies_and_streams():
    body = gemini_body("gemini-2.5-flash", reasoning_effort="high")
    chat = chat_of("gemini-2.5-flash", reasoning_effort="high")
    reply = gemini.parse_response(fake_gemini.response("gemini-2.5-flash", body, 1), chat)
    message = ChatCompletion.model_validate(reply).choices[0].message
    assert (
        message.model_extra["reasoning_content"]
        == "Thinking it over: the user wants a plain answer."
    )
    assert "Thinking it over" not in message.content
    stream = gemini.Stream(chat_of("gemini-2.5-flash", reasoning_effort="high", stream=True))
    chunks = [c for e in fake_gemini.fragments("gemini-2.5-flash", body, 1) for c in stream.feed(e)]
    first = ChatCompletionChunk.model_validate(chunks[0]).choices[0].delta
    assert first.model_extra["reasoning_content"].startswith("Thinking it over")


# --- the Responses translation ------------------------------------------------------------


def parse(**body):
    return parse_request(json.dumps({"model": BUDGET_MODEL, "input": "Why?", **body}).encode())


def test_reasoning_effort_and_summary_go_to_a_provider_that_takes_them():
    request = parse(reasoning={"effort": "low", "summary": "auto"})
    assert (
        translate.to_chat(request, "anthropic", takes_reasoning=True).body["reasoning_effort"]
        == "low"
    )
    with pytest.raises(GatewayError):
        translate.to_chat(request, "x", takes_reasoning=False)
    assert all(m.ACCEPTS_REASONING_EFFORT for m in (anthropic, bedrock, gemini))


def reply_with_thinking(thought: str = "Rayleigh scattering.") -> dict:
    block = {"type": "thinking", "thinking": thought, "signature": fake_thinking.signature(thought)}
    message = {
        "role": "assistant",
        "content": "Blue light scatters most.",
        "reasoning_content": thought,
    }
    message["thinking_blocks"] = [block]
    return {
        "id": "msg_1",
        "created": 1,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


def test_reasoning_content_becomes_a_reasoning_item_with_a_summary_when_asked():
    rid = iris_id("0" * 32)
    response = Response.model_validate(
        events.to_response(
            reply_with_thinking(), parse(reasoning={"effort": "low", "summary": "auto"}), rid
        )
    )
    reasoning, message = response.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Rayleigh scattering."
    assert reasoning.id == f"rs_{'0' * 32}_o0" and message.id == f"msg_{'0' * 32}_o1"
    assert reasoning.encrypted_content.startswith(events.REASONING_PREFIX)
    assert response.output_text == "Blue light scatters most."
    plain = events.to_response(reply_with_thinking(), parse(reasoning={"effort": "low"}), rid)
    assert plain["output"][0]["summary"] == []  # as OpenAI: no summary unless asked


def test_a_reasoning_item_given_back_returns_its_signed_blocks_to_the_next_assistant_turn():
    rid = iris_id("1" * 32)
    item = events.to_response(reply_with_thinking(), parse(reasoning={"effort": "low"}), rid)[
        "output"
    ][0]
    foreign = {"type": "reasoning", "id": "rs_x", "summary": [], "encrypted_content": "gAAAA"}
    call = {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"}
    output = {"type": "function_call_output", "call_id": "c1", "output": "sunny"}
    request = parse(input=[{"role": "user", "content": "Why?"}, foreign, item, call, output])
    messages = translate.to_chat(request, "anthropic", takes_reasoning=True).body["messages"]
    assert (
        messages[1]["thinking_blocks"]
        == reply_with_thinking()["choices"][0]["message"]["thinking_blocks"]
    )
    assert messages[1]["tool_calls"][0]["id"] == "c1"


def test_a_streamed_reply_gives_the_reasoning_summary_events_the_sdk_parses():
    up = claude(reasoning_effort="low", stream=True)
    chat = chat_of(BUDGET_MODEL, reasoning_effort="low", stream=True)
    request = parse(reasoning={"effort": "low", "summary": "auto"}, stream=True)
    stream = events.ResponseStream(anthropic.Stream(chat), request, iris_id("2" * 32))
    out = [
        e
        for piece in fake_anthropic.events(fake_anthropic.answer(up.sent, 0), BUDGET_MODEL)
        for e in stream.feed(piece)
    ]
    out += stream.close()
    parsed = [EVENTS.validate_python(e) for e in out]
    kinds = [e.type for e in parsed]
    assert kinds.index("response.reasoning_summary_part.added") < kinds.index(
        "response.reasoning_summary_text.delta"
    )
    assert kinds.index("response.reasoning_summary_part.done") < kinds.index(
        "response.output_text.delta"
    )
    done = next(e for e in parsed if e.type == "response.reasoning_summary_text.done")
    assert done.text == fake_thinking.thought("Why is the sky blue?")
    final = parsed[-1].response
    assert final.output[0].type == "reasoning" and final.output[0].summary[0].text == done.text
    assert final.output[0].encrypted_content.startswith(events.REASONING_PREFIX)
