"""The openai SDK's structured outputs → a real Iris → the fake OpenAI, Azure and Gemini, and back.

`chat.completions.parse` / `.stream` with a Pydantic model (the anthropic and bedrock routes
have their own files). OpenAI and Azure get the body as sent; Gemini gets the schema as
generationConfig.responseJsonSchema with responseMimeType application/json, the way
google-genai sends it. Each fake answers JSON text made from the schema it received
(tests/fakes/json_schema.py), so a parsed model proves the schema made the round trip.
"""

import json
from enum import StrEnum
from typing import Literal

import openai
import pytest
from portkey_ai import createHeaders
from pydantic import BaseModel

from tests.api.test_azure_e2e import azure_headers
from tests.api.test_gemini_e2e import client_for as gemini_client
from tests.fakes import azure as azure_handler
from tests.fakes.server import FakeServer

ASK = [{"role": "user", "content": "Ada Lovelace"}]
ROUTES = ("openai", "azure-openai", "google")
MODELS = {"openai": "gpt-4o", "azure-openai": "gpt-4o", "google": "gemini-2.5-flash"}


class Person(BaseModel):
    name: str
    age: int


class Team(BaseModel):
    members: list[Person]
    lead: str


class Colour(StrEnum):
    RED = "red"
    GREEN = "green"


class Everything(BaseModel):
    """One of each kind the schema generator makes."""

    label: str
    count: int
    ratio: float
    done: bool
    colour: Colour
    size: Literal["small", "large"]
    nickname: str | None
    tags: list[str]
    lead: Person


@pytest.fixture
def fakes(fake_openai, fake_azure, fake_gemini) -> dict[str, FakeServer]:
    return {"openai": fake_openai, "azure-openai": fake_azure, "google": fake_gemini}


def client_for(route: str, iris, fakes, **headers: str) -> openai.OpenAI:
    if route == "google":
        return gemini_client(iris, fakes[route])
    if route == "azure-openai":
        extra = azure_headers(fakes[route], **headers)
        key = azure_handler.API_KEY
    else:
        extra = createHeaders(
            provider="openai", api_key=iris.key, custom_host=f"{fakes[route].url}/v1", **headers
        )
        key = "sk-provider-secret"
    return openai.OpenAI(
        base_url=f"{iris.url}/v1", api_key=key, max_retries=0, default_headers=iris.headers(**extra)
    )


def sent(fakes, route: str) -> dict:
    return fakes[route].last("POST").json()


def sent_schema(fakes, route: str) -> dict:
    """The JSON Schema the upstream received, wherever its API puts it."""
    body = sent(fakes, route)
    if route == "google":
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert "responseSchema" not in config  # the OpenAPI subset would refuse $defs
        return config["responseJsonSchema"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    return body["response_format"]["json_schema"]["schema"]


@pytest.mark.parametrize("route", ROUTES)
def test_parse_answers_the_model_and_the_schema_reaches_the_upstream(iris, fakes, route):
    client = client_for(route, iris, fakes)
    raw = client.chat.completions.with_raw_response.parse(
        model=MODELS[route], messages=ASK, response_format=Team
    )
    completion = raw.parse()
    choice = completion.choices[0]
    assert choice.message.parsed == Team(
        members=[Person(name="Ada Lovelace", age=3)], lead="Ada Lovelace"
    )
    assert choice.finish_reason == "stop" and not choice.message.tool_calls
    schema = sent_schema(fakes, route)
    assert schema["$defs"]["Person"]["required"] == ["name", "age"]
    assert schema["properties"]["members"]["items"] == {"$ref": "#/$defs/Person"}
    assert schema["additionalProperties"] is False
    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["status_code"] == 200 and log["provider"] == route
    assert Team.model_validate_json(log["response_body"]["choices"][0]["message"]["content"])


@pytest.mark.parametrize("route", ROUTES)
def test_every_kind_of_field_comes_back_parsed(iris, fakes, route):
    client = client_for(route, iris, fakes)
    completion = client.chat.completions.parse(
        model=MODELS[route], messages=ASK, response_format=Everything
    )
    parsed = completion.choices[0].message.parsed
    assert parsed == Everything(
        label="Ada Lovelace",
        count=3,
        ratio=1.5,
        done=True,
        colour=Colour.RED,
        size="small",
        nickname="Ada Lovelace",
        tags=["Ada Lovelace"],
        lead=Person(name="Ada Lovelace", age=3),
    )
    assert sent_schema(fakes, route)["properties"]["size"]["enum"] == ["small", "large"]


@pytest.mark.parametrize("route", ROUTES)
def test_the_stream_helper_parses_the_streamed_json(iris, fakes, route):
    client = client_for(route, iris, fakes)
    with client.chat.completions.stream(
        model=MODELS[route], messages=ASK, response_format=Team
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert len(deltas) > 1  # it came in pieces
    assert final.choices[0].message.parsed.lead == "Ada Lovelace"
    assert final.choices[0].finish_reason == "stop"
    if route == "google":
        assert fakes[route].last("POST").path.endswith(":streamGenerateContent?alt=sse")
    else:
        assert sent(fakes, route)["stream"] is True
    assert sent_schema(fakes, route)["required"] == ["members", "lead"]


@pytest.mark.parametrize("route", ROUTES)
def test_json_object_mode_answers_a_json_object(iris, fakes, route):
    client = client_for(route, iris, fakes)
    ask = [{"role": "user", "content": "Answer in JSON: Ada Lovelace"}]
    completion = client.chat.completions.create(
        model=MODELS[route], messages=ask, response_format={"type": "json_object"}
    )
    content = completion.choices[0].message.content
    assert json.loads(content) == {"answer": "Answer in JSON: Ada Lovelace"}
    body = sent(fakes, route)
    if route == "google":
        assert body["generationConfig"] == {"responseMimeType": "application/json"}
    else:
        assert body["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("route", ["openai", "azure-openai"])
def test_openais_refusals_come_back_as_the_upstream_said(iris, fakes, route):
    client = client_for(route, iris, fakes)
    with pytest.raises(openai.BadRequestError) as caught:  # json_object without the word
        client.chat.completions.create(
            model=MODELS[route], messages=ASK, response_format={"type": "json_object"}
        )
    assert caught.value.body["param"] == "messages"
    loose = {"type": "object", "properties": {"name": {"type": "string"}}}  # not strict-ready
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "Loose", "strict": True, "schema": loose},
    }
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODELS[route], messages=ASK, response_format=response_format
        )
    assert "additionalProperties" in caught.value.body["message"]
    assert caught.value.body["param"] == "response_format"


def test_azure_refuses_json_schema_before_api_version_2024_08_01(iris, fakes):
    client = client_for(
        "azure-openai", iris, fakes, **{"x-portkey-azure-api-version": "2024-06-01"}
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.parse(model="gpt-4o", messages=ASK, response_format=Person)
    assert "2024-08-01-preview and later" in caught.value.body["message"]
    assert "api-version=2024-06-01" in fakes["azure-openai"].last("POST").path


def test_an_unknown_response_format_is_a_400_before_gemini(iris, fakes):
    before = len(fakes["google"].received)
    with pytest.raises(openai.BadRequestError) as caught:
        client_for("google", iris, fakes).chat.completions.create(
            model=MODELS["google"], messages=ASK, response_format={"type": "regex"}
        )
    assert caught.value.body["param"] == "response_format"
    assert len(fakes["google"].received) == before
