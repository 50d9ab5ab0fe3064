"""The openai SDK's structured outputs → a real Iris → the fake Anthropic, and back.

`chat.completions.parse` / `.stream` with a Pydantic model, on a model with native structured
outputs (output_config.format) and on one without (a forced tool). The fake checks both
against the anthropic SDK's types and Anthropic's documented rules, and answers JSON that
matches the schema; the SDK then parses it into the model, as it would from OpenAI.
"""

import openai
import pytest
from pydantic import BaseModel

from tests.api.test_anthropic_e2e import client_for

NATIVE, OLD = "claude-sonnet-4-5", "claude-3-5-haiku-20241022"
ASK = [{"role": "user", "content": "Ada Lovelace"}]


class Person(BaseModel):
    name: str
    age: int


class Team(BaseModel):
    members: list[Person]
    lead: str


@pytest.fixture
def client(iris, fake_anthropic) -> openai.OpenAI:
    return client_for(iris, fake_anthropic)


def sent(fake_anthropic) -> dict:
    return fake_anthropic.last("POST").json()


def test_parse_on_a_native_model_sends_output_config(client, iris, fake_anthropic):
    raw = client.chat.completions.with_raw_response.parse(
        model=NATIVE, messages=ASK, response_format=Team
    )
    completion = raw.parse()
    team = completion.choices[0].message.parsed
    assert team == Team(members=[Person(name="Ada Lovelace", age=3)], lead="Ada Lovelace")
    body = sent(fake_anthropic)
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert body["output_config"]["format"]["schema"]["$defs"]["Person"]["required"] == [
        "name",
        "age",
    ]
    assert "tools" not in body
    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["upstream_body"]["output_config"] == body["output_config"]
    assert Team.model_validate_json(log["response_body"]["choices"][0]["message"]["content"])


def test_parse_on_an_older_model_goes_through_a_forced_tool(client, iris, fake_anthropic):
    raw = client.chat.completions.with_raw_response.parse(
        model=OLD, messages=ASK, response_format=Person
    )
    completion = raw.parse()
    choice = completion.choices[0]
    assert choice.message.parsed == Person(name="Ada Lovelace", age=3)
    assert choice.finish_reason == "stop" and not choice.message.tool_calls
    body = sent(fake_anthropic)
    assert body["tool_choice"] == {
        "type": "tool",
        "name": "Person",
        "disable_parallel_tool_use": True,
    }
    assert body["tools"][0]["input_schema"]["required"] == ["name", "age"]
    assert "output_config" not in body
    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["response_body"]["choices"][0]["message"]["content"] == choice.message.content


@pytest.mark.parametrize("model", [NATIVE, OLD])
def test_the_stream_helper_parses_the_streamed_json(client, fake_anthropic, model):
    with client.chat.completions.stream(model=model, messages=ASK, response_format=Team) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert len(deltas) > 1  # it came in pieces
    assert final.choices[0].message.parsed.lead == "Ada Lovelace"
    assert final.choices[0].finish_reason == "stop"
    assert sent(fake_anthropic)["stream"] is True
    assert ("output_config" in sent(fake_anthropic)) is (model == NATIVE)


def test_json_object_mode_answers_a_json_object(client):
    completion = client.chat.completions.create(
        model=OLD, messages=ASK, response_format={"type": "json_object"}
    )
    assert completion.choices[0].message.content == '{"answer":"Ada Lovelace"}'


def test_a_parameter_claude_cannot_honour_is_a_400_before_anthropic(client, fake_anthropic):
    before = len(fake_anthropic.received)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=NATIVE, messages=ASK, seed=7)
    assert caught.value.body["param"] == "seed"
    assert caught.value.body["code"] == "unsupported_parameter"
    assert len(fake_anthropic.received) == before


def test_drop_params_lets_it_through(client, iris, fake_anthropic):
    completion = client.chat.completions.create(
        model=NATIVE, messages=ASK, seed=7, n=1, extra_body={"drop_params": True}
    )
    assert completion.choices[0].message.content.endswith("You said: Ada Lovelace")
    assert "seed" not in sent(fake_anthropic) and "drop_params" not in sent(fake_anthropic)
    raw = client.chat.completions.with_raw_response.create(
        model=NATIVE, messages=ASK, seed=7, extra_body={"drop_params": True}
    )
    assert iris.log(raw.headers["x-iris-request-id"])["dropped_params"] == ["seed"]
    by_header = client_for(iris, fake_anthropic, **{"x-portkey-drop-params": "true"})
    by_header.chat.completions.create(model=NATIVE, messages=ASK, logprobs=True)
    assert "logprobs" not in sent(fake_anthropic)
