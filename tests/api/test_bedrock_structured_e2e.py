"""The openai SDK's structured outputs → a real Iris → the fake Bedrock, and back.

`chat.completions.parse` / `.stream` with a Pydantic model, on models with Converse's
outputConfig (Claude Sonnet 4.5, gpt-oss) and without (Claude 3.5 named by a forced toolChoice,
Llama by toolChoice any). The fake checks the bodies against botocore's shapes and Converse's
structured-output rules and answers JSON that matches the schema; the SDK then parses it.
"""

import json

import openai
import pytest
from pydantic import BaseModel

from tests.api.test_bedrock_e2e import AWS_HEADERS, make_client

NATIVE, OPEN_NATIVE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "openai.gpt-oss-120b-1:0"
OLD, LLAMA = "us.anthropic.claude-3-5-sonnet-20240620-v1:0", "us.meta.llama3-1-70b-instruct-v1:0"
ASK = [{"role": "user", "content": "Ada Lovelace"}]


class Person(BaseModel):
    name: str
    age: int


class Team(BaseModel):
    members: list[Person]
    lead: str


@pytest.fixture
def client(iris, fake_bedrock) -> openai.OpenAI:
    return make_client(iris, fake_bedrock, **AWS_HEADERS)


def sent(fake_bedrock) -> dict:
    return fake_bedrock.last("POST").json()


@pytest.mark.parametrize("model", [NATIVE, OPEN_NATIVE])
def test_parse_on_a_native_model_sends_output_config(client, iris, fake_bedrock, model):
    raw = client.chat.completions.with_raw_response.parse(
        model=model, messages=ASK, response_format=Team
    )
    team = raw.parse().choices[0].message.parsed
    assert team == Team(members=[Person(name="Ada Lovelace", age=3)], lead="Ada Lovelace")
    body = sent(fake_bedrock)
    json_schema = body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
    assert json_schema["name"] == "Team"
    assert json.loads(json_schema["schema"])["$defs"]["Person"]["required"] == ["name", "age"]
    assert "toolConfig" not in body
    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["upstream_body"]["outputConfig"] == body["outputConfig"]
    assert Team.model_validate_json(log["response_body"]["choices"][0]["message"]["content"])


@pytest.mark.parametrize(
    ("model", "choice"), [(OLD, {"tool": {"name": "Person"}}), (LLAMA, {"any": {}})]
)
def test_parse_on_other_models_uses_a_forced_tool(client, iris, fake_bedrock, model, choice):
    raw = client.chat.completions.with_raw_response.parse(
        model=model, messages=ASK, response_format=Person
    )
    completion = raw.parse()
    answer = completion.choices[0]
    assert answer.message.parsed == Person(name="Ada Lovelace", age=3)
    assert answer.finish_reason == "stop" and not answer.message.tool_calls
    body = sent(fake_bedrock)
    assert body["toolConfig"]["toolChoice"] == choice
    assert body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["required"] == [
        "name",
        "age",
    ]
    assert "outputConfig" not in body
    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["response_body"]["choices"][0]["message"]["content"] == answer.message.content


@pytest.mark.parametrize("model", [NATIVE, OLD, LLAMA])
def test_the_stream_helper_parses_the_streamed_json(client, fake_bedrock, model):
    with client.chat.completions.stream(model=model, messages=ASK, response_format=Team) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert len(deltas) > 1  # it came in pieces
    assert final.choices[0].message.parsed.lead == "Ada Lovelace"
    assert final.choices[0].finish_reason == "stop"
    assert fake_bedrock.last("POST").path.endswith("/converse-stream")
    assert ("outputConfig" in sent(fake_bedrock)) is (model == NATIVE)


def test_json_object_mode_answers_a_json_object(client):
    completion = client.chat.completions.create(
        model=OLD, messages=ASK, response_format={"type": "json_object"}
    )
    assert json.loads(completion.choices[0].message.content) == {"answer": "Ada Lovelace"}


def test_a_parameter_converse_cannot_honour_is_a_400_before_bedrock(client, fake_bedrock):
    before = len(fake_bedrock.received)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=NATIVE, messages=ASK, seed=7)
    assert caught.value.body["param"] == "seed"
    assert caught.value.body["code"] == "unsupported_parameter"
    assert "bedrock route" in caught.value.body["message"]
    assert len(fake_bedrock.received) == before


def test_drop_params_lets_it_through(client, iris, fake_bedrock):
    completion = client.chat.completions.create(
        model=NATIVE, messages=ASK, seed=7, n=1, extra_body={"drop_params": True}
    )
    assert completion.choices[0].message.content.endswith("You said: Ada Lovelace")
    assert "seed" not in sent(fake_bedrock) and "drop_params" not in sent(fake_bedrock)
    by_header = make_client(iris, fake_bedrock, **AWS_HEADERS, **{"x-portkey-drop-params": "true"})
    by_header.chat.completions.create(model=NATIVE, messages=ASK, logprobs=True, top_logprobs=2)
    assert set(sent(fake_bedrock)) == {"messages"}
