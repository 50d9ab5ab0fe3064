"""Structured output and unsupported parameters on the anthropic route; no network.

Every body built here goes through the fake upstream's validator (the SDK's TypedDicts, the
documented structured-output rules), so a translation the real API would refuse fails here.
"""

import json

import orjson
import pytest
from openai.lib._parsing._completions import type_to_response_format_param
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel

from gateway.chat import parse_chat
from gateway.errors import GatewayError
from gateway.providers import anthropic
from gateway.providers import anthropic_structured as structured
from gateway.providers.base import Target
from tests.fakes import anthropic as fake
from tests.fakes import anthropic_structured as fake_structured

TARGET = Target("anthropic", api_key="sk-ant-test")
NATIVE, OLD = "claude-sonnet-4-5", "claude-3-5-haiku-20241022"
HI = [{"role": "user", "content": "Ada, 36"}]


class Person(BaseModel):
    name: str
    age: int


class Team(BaseModel):
    members: list[Person]
    lead: str


PERSON = type_to_response_format_param(Person)  # what openai's parse() sends: strict, closed
TEAM = type_to_response_format_param(Team)
OPEN = {  # a non-strict schema as a hand-written client sends it: not closed
    "type": "json_schema",
    "json_schema": {
        "name": "person",
        "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
    },
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
            "additionalProperties": False,
        },
    },
}


def chat_of(model: str = NATIVE, **body):
    return parse_chat(orjson.dumps({"model": model, "messages": HI, **body}))


def upstream(model: str = NATIVE, target: Target = TARGET, **body):
    up = anthropic.build_request(chat_of(model, **body), target)
    fake.validate(up.sent)  # the SDK's types and the documented rules
    return up


def replied(model: str, **body) -> tuple[dict, dict]:
    """(the fake's Message for this request, the chat completion Iris makes of it)."""
    chat = chat_of(model, **body)
    message = fake.answer(anthropic.build_request(chat, TARGET).sent, 0)
    completion = anthropic.parse_response(message, chat)
    ChatCompletion.model_validate(completion)
    return message, completion


def streamed(model: str, **body) -> list[dict]:
    chat = chat_of(model, stream=True, **body)
    message = fake.answer(anthropic.build_request(chat, TARGET).sent, 0)
    stream = anthropic.Stream(chat)
    chunks = [c for piece in fake.events(message, model) for c in stream.feed(piece)]
    chunks += stream.close()
    for c in chunks:
        ChatCompletionChunk.model_validate(c)
    return chunks


def content_of(chunks: list[dict]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


# --- which models have native structured outputs -------------------------------------------


@pytest.mark.parametrize(
    ("model", "native"),
    [
        ("claude-sonnet-4-5", True),
        ("claude-sonnet-4-5-20250929", True),
        ("claude-opus-4-7", True),
        ("claude-haiku-4-5@20251001", True),  # Vertex
        ("us.anthropic.claude-opus-4-6-v1:0", True),  # Bedrock
        ("claude-sonnet-5", True),  # later versions of the families
        ("claude-mythos-preview", True),
        ("claude-opus-4-1-20250805", False),
        ("claude-opus-4-20250514", False),  # 4.0: the 8 digits are a date, not a minor
        ("claude-sonnet-4-0", False),
        ("claude-3-7-sonnet-20250219", False),
        ("claude-3-5-haiku-20241022", False),
        ("my-finetune", False),
    ],
)
def test_it_knows_which_models_have_native_structured_outputs(model, native):
    assert structured.has_native_structured_outputs(model) is native


def test_openais_strict_schemas_fit_the_native_subset():
    assert structured.fits_native(PERSON["json_schema"]["schema"])
    assert structured.fits_native(TEAM["json_schema"]["schema"])  # $defs and $ref


@pytest.mark.parametrize(
    "change",
    [
        {"additionalProperties": True},
        {"properties": {"n": {"type": "integer", "minimum": 0}}},
        {"properties": {"s": {"type": "string", "maxLength": 3}}},
        {"properties": {"a": {"type": "array", "items": {"type": "string"}, "minItems": 2}}},
        {"properties": {"o": {"type": "object", "properties": {}}}},  # an inner object left open
        {"properties": {"r": {"$ref": "#"}}},  # recursion through the root
        {"properties": {"x": {"$ref": "https://example.com/schema.json"}}},
        {
            "properties": {"t": {"$ref": "#/$defs/Tree"}},
            "$defs": {
                "Tree": {
                    "type": "object",
                    "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}},
                    "additionalProperties": False,
                }
            },
        },
    ],
)
def test_schemas_outside_the_native_subset_do_not_fit(change):
    schema = {"type": "object", "properties": {}, "additionalProperties": False, **change}
    assert not structured.fits_native(schema)
    assert fake_structured._schema_problem(schema, schema, "schema")  # nor would Anthropic take it


# --- build_request ------------------------------------------------------------------------


def test_a_native_model_gets_output_config_format_and_no_tool():
    up = upstream(response_format=TEAM)
    assert up.sent["output_config"] == {
        "format": {"type": "json_schema", "schema": TEAM["json_schema"]["schema"]}
    }
    assert "tools" not in up.sent and "tool_choice" not in up.sent
    assert up.dropped == []


def test_an_older_model_gets_a_forced_tool_and_the_strict_it_cannot_keep_is_recorded():
    up = upstream(OLD, response_format=PERSON)
    assert up.sent["tools"] == [
        {
            "name": "Person",
            "description": structured.FORCED_TOOL_DESCRIPTION,
            "input_schema": PERSON["json_schema"]["schema"],
        }
    ]
    assert up.sent["tool_choice"] == {
        "type": "tool",
        "name": "Person",
        "disable_parallel_tool_use": True,
    }
    assert "output_config" not in up.sent
    assert up.dropped == ["response_format.json_schema.strict"]


def test_a_schema_outside_the_subset_goes_through_the_forced_tool_even_on_a_native_model():
    up = upstream(response_format=OPEN)
    assert "output_config" not in up.sent
    assert up.sent["tool_choice"]["name"] == "person"
    assert up.dropped == []  # strict was not asked for: nothing lost


def test_json_object_is_a_forced_tool_that_takes_any_object():
    up = upstream(response_format={"type": "json_object"})
    assert up.sent["tools"][0]["name"] == "json_object"
    assert up.sent["tools"][0]["input_schema"] == {"type": "object"}
    assert up.sent["tool_choice"]["type"] == "tool"
    assert upstream(response_format={"type": "text"}).sent.keys() == upstream().sent.keys()


def test_with_the_clients_tools_claude_must_call_one_of_them_or_the_json_tool():
    up = upstream(OLD, response_format=PERSON, tools=[WEATHER], parallel_tool_calls=False)
    assert [t["name"] for t in up.sent["tools"]] == ["get_weather", "Person"]
    assert up.sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    forced = {"type": "function", "function": {"name": "get_weather"}}
    up = upstream(OLD, response_format=PERSON, tools=[WEATHER], tool_choice=forced)
    assert up.sent["tool_choice"] == {"type": "tool", "name": "get_weather"}
    up = upstream(OLD, response_format=PERSON, tools=[WEATHER], tool_choice="none")
    assert up.sent["tool_choice"]["name"] == "Person"


def test_native_output_config_leaves_the_clients_tools_as_they_are():
    up = upstream(response_format=PERSON, tools=[WEATHER])
    assert "output_config" in up.sent and [t["name"] for t in up.sent["tools"]] == ["get_weather"]
    assert "tool_choice" not in up.sent


@pytest.mark.parametrize(
    ("response_format", "param"),
    [
        ({"type": "xml"}, "response_format.type"),
        ({"type": "json_schema"}, "response_format.json_schema"),
        (
            {"type": "json_schema", "json_schema": {"name": "a b", "schema": {"type": "object"}}},
            "response_format.json_schema.name",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "array"}}},
            "response_format.json_schema.schema",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "get_weather"}},
            "response_format.json_schema.name",  # taken by a tool of the client's
        ),
    ],
)
def test_a_malformed_response_format_is_a_400_naming_the_field(response_format, param):
    with pytest.raises(GatewayError) as info:
        anthropic.build_request(
            chat_of(OLD, response_format=response_format, tools=[WEATHER]), TARGET
        )
    assert (info.value.status, info.value.param) == (400, param)


def test_a_strict_function_tool_is_strict_where_claude_can_enforce_it():
    strict = {**WEATHER, "function": {**WEATHER["function"], "strict": True}}
    up = upstream(tools=[strict])
    assert up.sent["tools"][0]["strict"] is True and up.dropped == []
    up = upstream(OLD, tools=[strict])
    assert "strict" not in up.sent["tools"][0]
    assert up.dropped == ["tools.0.function.strict"]


# --- the answer, whole and streamed -------------------------------------------------------


@pytest.mark.parametrize("model", [NATIVE, OLD])
def test_the_json_answer_is_the_message_content(model):
    message, completion = replied(model, response_format=TEAM)
    choice = completion["choices"][0]
    assert Team.model_validate_json(choice["message"]["content"]).lead == "Ada, 36"
    assert choice["finish_reason"] == "stop" and "tool_calls" not in choice["message"]
    kinds = [block["type"] for block in message["content"]]
    assert kinds == (["text"] if model == NATIVE else ["tool_use"])


@pytest.mark.parametrize("model", [NATIVE, OLD])
def test_the_json_answer_streams_as_content_deltas(model):
    chunks = streamed(model, response_format=TEAM)
    assert Team.model_validate_json(content_of(chunks)).members[0].name == "Ada, 36"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert not any(c["choices"][0]["delta"].get("tool_calls") for c in chunks)


def test_a_call_to_the_clients_tool_stays_a_tool_call():
    _, completion = replied(OLD, response_format=PERSON, tools=[WEATHER])
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    assert [c["function"]["name"] for c in choice["message"]["tool_calls"]] == ["get_weather"]
    chunks = streamed(OLD, response_format=PERSON, tools=[WEATHER])
    calls = [
        c
        for ch in chunks
        if ch["choices"]
        for c in ch["choices"][0]["delta"].get("tool_calls") or []
    ]
    assert calls[0]["function"]["name"] == "get_weather" and calls[0]["index"] == 0
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_text_beside_the_json_tool_is_left_out_of_the_content():
    chat = chat_of(OLD, response_format={"type": "json_object"})
    message = {
        "content": [
            {"type": "text", "text": "Sure!"},
            {"type": "tool_use", "id": "toolu_1", "name": "json_object", "input": {"a": 1}},
        ],
        "stop_reason": "tool_use",
    }
    completion = anthropic.parse_response(message, chat)
    assert json.loads(completion["choices"][0]["message"]["content"]) == {"a": 1}


# --- parameters Claude cannot honour ------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("n", 2),
        ("logprobs", True),
        ("top_logprobs", 3),
        ("presence_penalty", 0.5),
        ("frequency_penalty", -1),
        ("logit_bias", {"50256": -100}),
        ("seed", 7),
        ("audio", {"voice": "alloy", "format": "mp3"}),
        ("modalities", ["text", "audio"]),
        ("prediction", {"type": "content", "content": "x"}),
        ("web_search_options", {}),
        ("functions", [{"name": "f"}]),
        ("function_call", "auto"),
        ("verbosity", "low"),
        ("moderation", {"model": "omni-moderation-latest"}),
        ("service_tier", "flex"),
    ],
)
def test_a_parameter_claude_cannot_honour_is_a_400_naming_it(param, value):
    with pytest.raises(GatewayError) as info:
        anthropic.build_request(chat_of(**{param: value}), TARGET)
    error = info.value
    assert (error.status, error.param, error.code) == (400, param, "unsupported_parameter")
    assert error.message.startswith(f"{param} is not supported on the anthropic route")
    assert "drop_params" in error.message


def test_openais_default_values_ask_for_nothing_and_pass():
    defaults = {
        "n": 1,
        "logprobs": False,
        "top_logprobs": 0,
        "presence_penalty": 0,
        "frequency_penalty": 0.0,
        "logit_bias": {},
        "modalities": ["text"],
        "reasoning_effort": "none",
        "verbosity": "medium",
        "seed": None,
        "store": False,
        "metadata": {"team": "a"},
        "prompt_cache_key": "k",
    }
    assert upstream(**defaults).dropped == []


def test_drop_params_in_the_body_or_the_header_drops_them_and_says_which():
    up = upstream(seed=7, n=2, logprobs=True, drop_params=True)
    assert up.dropped == ["n", "logprobs", "seed"]
    assert not {"seed", "n", "logprobs", "drop_params"} & up.sent.keys()
    header = Target("anthropic", api_key="k", options={"drop-params": "true"})
    assert upstream(target=header, service_tier="priority").dropped == ["service_tier"]


def test_a_key_openai_does_not_define_is_recorded_as_dropped():
    assert upstream(thinking={"type": "enabled"}).dropped == ["thinking"]


def test_service_tier_and_safety_identifier_are_mapped():
    up = upstream(service_tier="default", safety_identifier="hash-1", user="u")
    assert up.sent["service_tier"] == "standard_only"
    assert up.sent["metadata"] == {"user_id": "hash-1"}
    assert upstream(service_tier="auto").sent["service_tier"] == "auto"


# --- the fake's own rules -----------------------------------------------------------------


def valid(body: dict) -> dict:
    return {"model": NATIVE, "max_tokens": 10, "messages": HI, **body}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"output_config": {"format": {"type": "json", "schema": {}}}}, "is not one of"),
        ({"output_config": {"format": {"type": "json_schema"}}}, "schema"),
        ({"output_config": {"strict": True}}, "strict"),
        (
            {"model": OLD, "output_config": {"format": {"type": "json_schema", "schema": {}}}},
            "not supported for claude-3-5-haiku",
        ),
        (
            {"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}},
            "additionalProperties",
        ),
        (
            {
                "tools": [{"name": "a", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "tool", "name": "b"},
            },
            "no tool named 'b'",
        ),
    ],
)
def test_the_fake_refuses_what_anthropic_refuses(body, message):
    with pytest.raises(fake.Invalid, match=message):
        fake.validate(valid(body))
