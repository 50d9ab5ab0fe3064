"""The bedrock route's response_format (outputConfig or a forced tool), strict tools, and the
OpenAI parameters Converse cannot honour. Every body is checked by the fake Bedrock (botocore's
shapes and Converse's structured-output rules), and the fake's answers are translated back."""

import json

import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel

from gateway.chat import Chat, parse_chat
from gateway.errors import GatewayError
from gateway.providers import bedrock, bedrock_structured
from gateway.providers.base import Target
from tests.fakes import bedrock as fake
from tests.fakes import bedrock_structured as fake_structured

AWS = {
    "aws-access-key-id": fake.ACCESS_KEY_ID,
    "aws-secret-access-key": fake.SECRET_ACCESS_KEY,
    "aws-region": fake.REGION,
}
NATIVE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
OPEN_NATIVE = "openai.gpt-oss-120b-1:0"
OLD = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
NOVA = "us.amazon.nova-pro-v1:0"
LLAMA = "us.meta.llama3-1-70b-instruct-v1:0"
HI = [{"role": "user", "content": "Ada Lovelace"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


class Person(BaseModel):
    name: str
    age: int


def person_format(**extra) -> dict:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    spec = {"name": "Person", "schema": schema, "strict": True, **extra}
    return {"type": "json_schema", "json_schema": spec}


def make_chat(model: str = NATIVE, **body) -> Chat:
    return parse_chat(orjson.dumps({"model": model, "messages": HI, **body}))


def upstream(model: str = NATIVE, options: dict | None = None, **body):
    chat = make_chat(model, **body)
    return bedrock.build_request(chat, Target("bedrock", options={**AWS, **(options or {})}))


def accepted(model: str = NATIVE, **body) -> dict:
    """The Converse params, after the fake Bedrock accepted them."""
    chat = make_chat(model, **body)
    up = bedrock.build_request(chat, Target("bedrock", options=AWS))
    operation = "ConverseStream" if chat.stream else "Converse"
    return fake.validate_body(up.content, model_id=model, operation=operation)


def replied(model: str = NATIVE, **body) -> tuple[dict, dict]:
    """(the fake's Converse answer, the chat completion Iris makes of it)."""
    chat = make_chat(model, **body)
    answer = fake.answer(accepted(model, **body))
    completion = bedrock.parse_response(answer, chat)
    ChatCompletion.model_validate(completion)
    return answer, completion


def streamed(model: str = NATIVE, **body) -> list[dict]:
    chat = make_chat(model, stream=True, **body)
    stream = bedrock.Stream(chat)
    chunks = []
    for frame in fake.stream_frames(fake.answer(accepted(model, stream=True, **body))):
        chunks.extend(stream.feed(frame))
    chunks.extend(stream.close())
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    return chunks


@pytest.mark.parametrize(
    ("model", "native"),
    [
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", True),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", True),
        ("global.anthropic.claude-opus-4-6-v1", True),
        ("anthropic.claude-sonnet-4-6", True),
        ("eu.anthropic.claude-opus-4-5-20251101-v1:0", True),
        ("arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.claude-sonnet-4-5-v1:0", True),
        ("anthropic.claude-opus-4-7", False),  # not on Converse
        ("anthropic.claude-mythos-preview", False),
        ("anthropic.claude-opus-4-1-20250805-v1:0", False),
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", False),
        ("openai.gpt-oss-20b-1:0", True),
        ("qwen.qwen3-32b-v1:0", True),
        ("deepseek.v3-v1:0", True),
        ("us.amazon.nova-pro-v1:0", False),
        ("meta.llama3-1-70b-instruct-v1:0", False),
        ("claude-sonnet-4-5", False),  # not a Bedrock id
    ],
)
def test_which_models_take_output_config(model, native):
    assert bedrock_structured.native_output(model) is native


@pytest.mark.parametrize(
    ("model", "names"),
    [(OLD, True), (NATIVE, True), (NOVA, True), (LLAMA, False), ("mistral.mistral-large", False)],
)
def test_only_claude_3_and_later_and_nova_are_forced_by_name(model, names):
    assert bedrock_structured.names_a_tool(model) is names


def test_a_native_model_gets_output_config_with_the_schema_as_a_string():
    fmt = person_format(description="A person.")
    params = accepted(response_format=fmt)
    json_schema = params["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
    assert params["outputConfig"]["textFormat"]["type"] == "json_schema"
    assert isinstance(json_schema["schema"], str)
    assert json.loads(json_schema["schema"]) == fmt["json_schema"]["schema"]
    assert json_schema["name"] == "Person" and json_schema["description"] == "A person."
    assert "toolConfig" not in params


@pytest.mark.parametrize("model", [NATIVE, OPEN_NATIVE])
def test_the_native_answer_is_the_content(model):
    _, completion = replied(model, response_format=person_format())
    choice = completion["choices"][0]
    assert Person.model_validate_json(choice["message"]["content"]) == Person(
        name="Ada Lovelace", age=3
    )
    assert choice["finish_reason"] == "stop"


@pytest.mark.parametrize(("model", "choice"), [(OLD, {"tool": {"name": "Person"}}),
                                               (NOVA, {"tool": {"name": "Person"}}),
                                               (LLAMA, {"any": {}})])  # fmt: skip
def test_other_models_get_a_forced_tool_unwrapped_into_content(model, choice):
    params = accepted(model, response_format=person_format())
    assert "outputConfig" not in params
    assert params["toolConfig"]["toolChoice"] == choice
    spec = params["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["name"] == "Person" and spec["inputSchema"]["json"]["required"] == ["name", "age"]
    answer, completion = replied(model, response_format=person_format())
    assert [list(block) for block in answer["output"]["message"]["content"]] == [["toolUse"]]
    message = completion["choices"][0]["message"]
    assert Person.model_validate_json(message["content"]).name == "Ada Lovelace"
    assert "tool_calls" not in message and completion["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("model", [NATIVE, OLD, LLAMA])
def test_the_stream_carries_the_json_as_content_deltas(model):
    chunks = streamed(model, response_format=person_format())
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    pieces = [piece for piece in pieces if piece]
    assert len(pieces) > 1
    assert Person.model_validate_json("".join(pieces)).age == 3
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert not any("tool_calls" in c["choices"][0]["delta"] for c in chunks if c["choices"])


def test_text_beside_the_forced_tool_is_left_out():
    chat = make_chat(OLD, response_format=person_format())
    use = {"toolUseId": "t1", "name": "Person", "input": {"name": "Ada", "age": 36}}
    content = [{"text": "Here you go:"}, {"toolUse": use}]
    data = {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": "x"}
    assert json.loads(bedrock.parse_response(data, chat)["choices"][0]["message"]["content"]) == {
        "name": "Ada",
        "age": 36,
    }


def test_a_schema_outside_the_subset_goes_through_the_tool_and_strict_is_recorded():
    fmt = person_format()
    fmt["json_schema"]["schema"]["properties"]["age"]["minimum"] = 0
    up = upstream(NATIVE, response_format=fmt)
    assert "outputConfig" not in up.sent
    assert up.sent["toolConfig"]["toolChoice"] == {"tool": {"name": "Person"}}
    assert up.dropped == ["response_format.json_schema.strict"]
    fake.validate_body(up.content, model_id=NATIVE)


def test_json_object_mode_is_a_tool_taking_any_object():
    params = accepted(OLD, response_format={"type": "json_object"})
    spec = params["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["name"] == "json_object" and spec["inputSchema"]["json"] == {"type": "object"}
    _, completion = replied(OLD, response_format={"type": "json_object"})
    assert json.loads(completion["choices"][0]["message"]["content"]) == {"answer": "Ada Lovelace"}


def test_with_the_clients_tools_any_tool_may_be_called():
    params = accepted(OLD, response_format=person_format(), tools=[WEATHER])
    names = [tool["toolSpec"]["name"] for tool in params["toolConfig"]["tools"]]
    assert names == ["get_weather", "Person"]
    assert params["toolConfig"]["toolChoice"] == {"any": {}}
    # The fake calls the first tool: a call for the client, no JSON answer this turn.
    _, completion = replied(OLD, response_format=person_format(), tools=[WEATHER])
    choice = completion["choices"][0]
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert choice["message"]["content"] is None and choice["finish_reason"] == "tool_calls"


def test_tool_choice_none_with_a_schema_forces_the_json_tool_alone():
    params = accepted(OLD, response_format=person_format(), tools=[WEATHER], tool_choice="none")
    assert [tool["toolSpec"]["name"] for tool in params["toolConfig"]["tools"]] == ["Person"]
    assert params["toolConfig"]["toolChoice"] == {"tool": {"name": "Person"}}


def test_a_client_tool_named_like_the_schema_is_a_400():
    clash = {"type": "function", "function": {"name": "Person"}}
    with pytest.raises(GatewayError) as caught:
        upstream(OLD, response_format=person_format(), tools=[clash])
    assert caught.value.status == 400 and caught.value.param == "response_format.json_schema.name"


def test_strict_tools_are_kept_where_converse_enforces_them():
    strict = {**WEATHER, "function": {**WEATHER["function"], "strict": True}}
    params = accepted(NATIVE, tools=[strict])
    assert params["toolConfig"]["tools"][0]["toolSpec"]["strict"] is True
    up = upstream(OLD, tools=[strict])
    assert "strict" not in up.sent["toolConfig"]["tools"][0]["toolSpec"]
    assert up.dropped == ["tools.0.function.strict"]
    fake.validate_body(up.content, model_id=OLD)


def test_a_tool_that_is_not_a_function_is_a_400():
    with pytest.raises(GatewayError) as caught:
        upstream(tools=[{"type": "custom", "custom": {"name": "x"}}])
    assert caught.value.param == "tools.0"


@pytest.mark.parametrize(
    ("param", "value", "model"),
    [
        ("seed", 7, NATIVE),
        ("n", 2, NATIVE),
        ("logprobs", True, NATIVE),
        ("presence_penalty", 0.5, NATIVE),
        ("parallel_tool_calls", False, NATIVE),
        ("reasoning_effort", "high", LLAMA),
        ("service_tier", "scale", NATIVE),
        ("top_k", 40, LLAMA),
    ],
)
def test_a_parameter_converse_cannot_honour_is_a_400_naming_it(param, value, model):
    with pytest.raises(GatewayError) as caught:
        upstream(model, **{param: value})
    error = caught.value
    assert (error.status, error.param, error.code) == (400, param, "unsupported_parameter")
    assert error.message.startswith(f"{param} is not supported on the bedrock route")
    assert "drop_params" in error.message


def test_values_that_ask_for_nothing_pass():
    up = upstream(n=1, logprobs=False, parallel_tool_calls=True, presence_penalty=0)
    assert up.dropped == []


def test_drop_params_in_the_body_or_the_header_drops_and_records():
    up = upstream(seed=7, logprobs=True, drop_params=True)
    assert up.dropped == ["logprobs", "seed"]
    assert "drop_params" not in up.sent and "seed" not in up.sent
    fake.validate_body(up.content, model_id=NATIVE)
    by_header = upstream(options={"drop-params": "true"}, service_tier="scale")
    assert by_header.dropped == ["service_tier"] and "serviceTier" not in by_header.sent


def test_an_unknown_parameter_is_recorded():
    assert upstream(my_extension=1).dropped == ["my_extension"]


@pytest.mark.parametrize(
    ("model", "fields"),
    [(OLD, {"top_k": 40}), (NOVA, {"inferenceConfig": {"topK": 40}})],
)
def test_top_k_goes_to_additional_model_request_fields(model, fields):
    assert accepted(model, top_k=40)["additionalModelRequestFields"] == fields


@pytest.mark.parametrize(
    ("tier", "sent"),
    [("default", {"type": "default"}), ("flex", {"type": "flex"}),
     ("priority", {"type": "priority"}), ("auto", None)],
)  # fmt: skip
def test_service_tier_maps_to_converse_service_tier(tier, sent):
    assert accepted(service_tier=tier).get("serviceTier") == sent


def test_the_user_goes_to_request_metadata_or_is_recorded():
    user = "user-42@example.com"
    assert accepted(user=user)["requestMetadata"] == {"user": user}
    assert accepted(safety_identifier="h1", user="u")["requestMetadata"] == {"user": "h1"}
    up = upstream(user="名前")  # outside the characters Converse takes
    assert "requestMetadata" not in up.sent and up.dropped == ["user"]


def body_for(model: str, **extra) -> bytes:
    return orjson.dumps({"messages": [{"role": "user", "content": [{"text": "hi"}]}], **extra})


SCHEMA = '{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}'


def text_format(schema: str = SCHEMA) -> dict:
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": schema}}}}


def spec(**extra) -> dict:
    return {"toolSpec": {"name": "t", "inputSchema": {"json": json.loads(SCHEMA)}, **extra}}


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        (OLD, {"outputConfig": text_format()}, "doesn't support structured outputs"),
        (NATIVE, {"outputConfig": text_format("{not json")}, "not valid JSON"),
        (NATIVE, {"outputConfig": text_format('{"type":"object"}')}, "additionalProperties"),
        (
            NATIVE,
            {"outputConfig": text_format(SCHEMA.replace('"string"', '"string","maxLength":3'))},
            "maxLength",
        ),
        (NATIVE, {"outputConfig": {"textFormat": {"type": "xml"}}}, "enum value set"),
        (NATIVE, {"outputConfig": {"textFormat": {"type": "json_schema"}}}, "structure"),
        (OLD, {"toolConfig": {"tools": [spec(strict=True)]}}, "strict is not supported"),
        (LLAMA, {"toolConfig": {"tools": [spec()], "toolChoice": {"tool": {"name": "t"}}}},
         "toolChoice.tool"),
        (OLD, {"toolConfig": {"tools": [spec()], "toolChoice": {"tool": {"name": "u"}}}},
         "names no tool"),
        (OLD, {"toolConfig": {"tools": [spec(), spec()]}}, "unique"),
    ],
)  # fmt: skip
def test_the_fake_refuses_what_converse_refuses(model, extra, message):
    with pytest.raises(fake.Invalid, match=message):
        fake.validate_body(body_for(model, **extra), model_id=model)


def test_the_fake_answers_what_was_asked():
    params = {"modelId": NATIVE, "outputConfig": text_format()}
    content, stop = fake_structured.reply(params, "hi")
    assert json.loads(content[0]["text"]) == {"a": "hi"} and stop == "end_turn"
    assert fake_structured.reply({"modelId": NATIVE}, "hi") is None
