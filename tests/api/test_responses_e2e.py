"""The Responses API through a real Iris: the official openai SDK's `client.responses` in
front; the strict fake Anthropic and Gemini (translated routes) and a fake OpenAI Responses
API (passed through) behind, each checking what it receives against its SDK's types."""

import base64
import io
import json

import httpx
import openai
import pytest
from openai.types.responses import Response, ResponseItemList
from PIL import Image as PILImage
from pydantic import BaseModel

from tests.conftest import SHARED_IMAGES
from tests.fakes import bedrock as fake_bedrock_handler
from tests.fakes import gemini as fake_gemini_handler
from tests.fakes import openai_responses as fake_responses_handler
from tests.fakes.server import FakeServer, Received, Reply

CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()
CAT_URI = "data:image/png;base64," + base64.b64encode(CAT).decode()
CLAUDE = "claude-sonnet-4-5"


def pdf_bytes(pages: int) -> bytes:
    frames = [PILImage.new("RGB", (120, 80 + 20 * i), (30, 140, 60)) for i in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, "PDF", save_all=True, append_images=frames[1:])
    return out.getvalue()


PDF = pdf_bytes(2)
PDF_URI = "data:application/pdf;base64," + base64.b64encode(PDF).decode()
PDF_PART = {"type": "input_file", "file_data": PDF_URI, "filename": "report.pdf"}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
        "additionalProperties": False,
    },
    "strict": True,
}


class Capital(BaseModel):
    city: str
    country: str


def echoing(handle):
    """The fake Gemini, except that a model named "echo-json" answers the last user text
    alone (as a model asked for JSON answers JSON): the fake still checks the body."""

    def wrapped(request: Received) -> Reply:
        reply = handle(request)
        if b"echo-json" not in request.body + request.path.encode() or reply.chunks is not None:
            return reply
        said = json.loads(request.body)["contents"][-1]["parts"][-1]["text"]
        data = json.loads(reply.body)
        for part in _gemini_parts(data):
            if "text" in part:
                part["text"] = said
        return Reply.json(reply.status, data, **reply.headers)

    return wrapped


def _gemini_parts(data: dict) -> list[dict]:
    return [p for c in data.get("candidates", ()) for p in c["content"]["parts"]]


# Shadows the shared fake_gemini (tests/fakes/fixtures.py): this one echoes for "echo-json".
@pytest.fixture(scope="module")
def fake_gemini():
    with FakeServer(echoing(fake_gemini_handler.handle)) as server:
        yield server


# Shadows the shared fake_responses (tests/fakes/fixtures.py): this one serves DELETE too.
@pytest.fixture(scope="module")
def fake_responses():
    server = FakeServer(fake_responses_handler.handle)
    handler = server.server.RequestHandlerClass
    handler.do_DELETE = handler.do_GET  # FakeServer serves GET and POST; this fake DELETE too
    with server:
        yield server


def client_for(iris, provider: str, host: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{iris.url}/v1",
        api_key=key,
        max_retries=0,
        default_headers=iris.headers(
            **{"x-portkey-provider": provider, "x-portkey-custom-host": host}
        ),
    )


@pytest.fixture
def claude(iris, fake_anthropic) -> openai.OpenAI:
    return client_for(iris, "anthropic", f"{fake_anthropic.url}/v1", "sk-ant-secret")


@pytest.fixture
def gemini(iris, fake_gemini) -> openai.OpenAI:
    return client_for(iris, "google", fake_gemini.url, "AIza-fake-gemini-key")


@pytest.fixture
def bedrock(iris, fake_bedrock) -> openai.OpenAI:
    client = client_for(iris, "bedrock", fake_bedrock.url, "unused")
    aws = {
        "x-portkey-aws-access-key-id": fake_bedrock_handler.ACCESS_KEY_ID,
        "x-portkey-aws-secret-access-key": fake_bedrock_handler.SECRET_ACCESS_KEY,
        "x-portkey-aws-session-token": fake_bedrock_handler.SESSION_TOKEN,
        "x-portkey-aws-region": fake_bedrock_handler.REGION,
    }
    return client.with_options(default_headers={**client.default_headers, **aws})


@pytest.fixture
def gpt(iris, fake_responses) -> openai.OpenAI:
    return client_for(iris, "openai", f"{fake_responses.url}/v1", "sk-openai-secret")


def ask(text: str, *images: str) -> list[dict]:
    parts = [{"type": "input_image", "image_url": url, "detail": "auto"} for url in images]
    return [{"role": "user", "content": [{"type": "input_text", "text": text}, *parts]}]


def sent(fake) -> dict:
    return fake.last("POST").json()


# The anthropic route


def test_an_image_goes_to_anthropic_and_the_answer_is_a_response(claude, iris, fake_anthropic):
    raw = claude.responses.with_raw_response.create(
        model=CLAUDE,
        instructions="You are terse.",
        input=ask("what is this cat?", CAT_URI),
        max_output_tokens=300,
        temperature=0.3,
        metadata={"ticket": "42"},
    )
    response = raw.parse()
    Response.model_validate(response.model_dump())
    assert response.output_text == "I see 1 image(s). You said: what is this cat?"
    assert response.id.startswith("resp_iris_") and response.status == "completed"
    assert response.metadata == {"ticket": "42"} and response.instructions == "You are terse."
    assert response.usage.input_tokens == 20 + 1500

    body = sent(fake_anthropic)
    assert body["system"] == [{"type": "text", "text": "You are terse."}]
    assert (body["max_tokens"], body["temperature"]) == (300, 0.3)
    source = body["messages"][0]["content"][1]["source"]
    assert base64.b64decode(source["data"]) == CAT

    log = iris.log(raw.headers["x-iris-request-id"])
    assert (log["endpoint"], log["provider"], log["status_code"]) == ("responses", "anthropic", 200)
    [image] = log["images"]
    assert (image["message_index"], image["part_index"], image["bytes"]) == (0, 1, len(CAT))
    logged = log["request_body"]["input"][0]["content"][1]
    assert logged["image_url"] == f"iris-blob:{image['sha256']}"
    assert httpx.get(image["content_url"], headers=iris.headers()).content == CAT
    assert log["response_body"]["id"] == response.id
    assert log["response_body"]["output"][0]["content"][0]["text"] == response.output_text


def test_a_pdf_goes_to_anthropic_as_a_document_block(claude, fake_anthropic):
    content = [{"type": "input_text", "text": "sum up"}, PDF_PART]
    response = claude.responses.create(model=CLAUDE, input=[{"role": "user", "content": content}])
    assert response.output_text.endswith("You said: sum up")
    block = sent(fake_anthropic)["messages"][0]["content"][1]
    assert block["type"] == "document"
    assert base64.b64decode(block["source"]["data"]) == PDF


def test_a_function_tool_is_called_and_its_output_answered(claude, fake_anthropic):
    first = claude.responses.create(model=CLAUDE, input="Paris", tools=[WEATHER])
    [intro, call] = first.output
    assert intro.type == "message" and call.type == "function_call"
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"location": "Paris"})
    assert sent(fake_anthropic)["tools"][0]["name"] == "get_weather"

    second = claude.responses.create(
        model=CLAUDE,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER],
    )
    assert second.output_text == "Tool said: sunny"
    messages = sent(fake_anthropic)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"][1]["id"] == call.call_id
    assert messages[2]["content"][0]["tool_use_id"] == call.call_id


def test_a_stream_is_typed_events_the_sdk_assembles(claude, iris):
    with claude.responses.stream(model=CLAUDE, input="Rome", tools=[WEATHER]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert "response.function_call_arguments.delta" in kinds
    assert final.output_text == "Let me use a tool."
    assert json.loads(final.output[1].arguments) == {"location": "Rome"}

    log = iris.log(final.id.removeprefix("resp_iris_"))
    assert log["is_stream"] and log["endpoint"] == "responses"
    assert log["response_body"]["status"] == "completed"
    assert log["response_body"]["output"][1]["arguments"] == final.output[1].arguments


@pytest.mark.parametrize("model", [CLAUDE, "claude-3-5-sonnet-20241022"])
def test_parse_with_a_pydantic_model(claude, fake_anthropic, model):
    """Claude 4.5 has native structured outputs, 3.5 a forced tool (the anthropic provider's
    choice): either way the SDK gets the JSON text its parser wants."""
    parsed = claude.responses.parse(model=model, input="Paris", text_format=Capital)
    assert parsed.output_parsed == Capital(city="Paris", country="Paris")
    body = sent(fake_anthropic)
    schema = (
        body["output_config"]["format"]["schema"]
        if model == CLAUDE
        else body["tools"][0]["input_schema"]
    )
    assert set(schema["properties"]) == {"city", "country"}


def test_a_two_turn_conversation_by_previous_response_id(claude, fake_anthropic):
    first = claude.responses.create(model=CLAUDE, input=ask("My name is Ada.", CAT_URI))
    second = claude.responses.create(
        model=CLAUDE, previous_response_id=first.id, input="What is my name?"
    )
    assert second.previous_response_id == first.id
    assert second.output_text == "I see 1 image(s). You said: What is my name?"
    messages = sent(fake_anthropic)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"][0]["text"] == "My name is Ada."
    assert base64.b64decode(messages[0]["content"][1]["source"]["data"]) == CAT  # from the log
    assert messages[1]["content"][0]["text"] == first.output_text


def test_get_delete_and_input_items_of_a_translated_response(claude):
    created = claude.responses.create(model=CLAUDE, input=ask("hello", CAT_URI))
    fetched = claude.responses.retrieve(created.id)
    assert fetched.model_dump() == created.model_dump()
    items = claude.responses.input_items.list(created.id)
    ResponseItemList.model_validate(items.model_dump())
    [item] = items.data
    assert item.content[0].text == "hello" and item.content[1].image_url == CAT_URI

    claude.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        claude.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        claude.responses.create(model=CLAUDE, previous_response_id=created.id, input="again")


def test_another_gateway_key_cannot_reach_a_response(claude, iris, fake_anthropic):
    created = claude.responses.create(model=CLAUDE, input="mine")
    other = client_for(iris, "anthropic", f"{fake_anthropic.url}/v1", "sk-ant-secret")
    other = other.with_options(
        default_headers={**other.default_headers, "x-portkey-api-key": _other_key(iris)}
    )
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model=CLAUDE, previous_response_id=created.id, input="and?")
    assert claude.responses.retrieve(created.id).id == created.id


def _other_key(iris) -> str:
    if not getattr(iris, "other_key", ""):
        iris.other_key = iris.manage("create_api_key", "responses-other")
    return iris.other_key


def test_store_false_is_answered_but_not_kept(claude, iris):
    raw = claude.responses.with_raw_response.create(model=CLAUDE, input="secret", store=False)
    response = raw.parse()
    assert response.output_text.endswith("secret")
    assert iris.log(raw.headers["x-iris-request-id"])["status_code"] == 200  # still logged
    with pytest.raises(openai.NotFoundError):
        claude.responses.retrieve(response.id)


def test_what_a_translated_route_cannot_honour_is_a_400_naming_it(claude, fake_anthropic):
    before = len(fake_anthropic.received)
    with pytest.raises(openai.BadRequestError) as caught:
        claude.responses.create(model=CLAUDE, input="hi", max_tool_calls=2)
    assert caught.value.body["param"] == "max_tool_calls"
    with pytest.raises(openai.BadRequestError) as caught:
        claude.responses.create(model=CLAUDE, input="hi", tools=[{"type": "web_search"}])
    assert caught.value.body["param"] == "tools.0.type"
    assert len(fake_anthropic.received) == before  # nothing went upstream


def test_the_drop_params_header_drops_instead(iris, fake_anthropic):
    client = client_for(iris, "anthropic", f"{fake_anthropic.url}/v1", "sk-ant-secret")
    client = client.with_options(
        default_headers={**client.default_headers, "x-portkey-drop-params": "true"}
    )
    response = client.responses.create(
        model=CLAUDE, input="hi", prompt_cache_key="k", reasoning={"summary": "auto"}
    )
    assert response.output_text == "I see 0 image(s). You said: hi"
    assert "prompt_cache_key" not in sent(fake_anthropic)


# The bedrock route


def test_bedrock_streams_a_function_call_and_takes_its_output(bedrock, fake_bedrock):
    model = "us.anthropic.claude-tools-v1:0"
    with bedrock.responses.stream(model=model, input="Oslo", tools=[WEATHER]) as stream:
        kinds = [event.type for event in stream]
        first = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather"
    second = bedrock.responses.create(
        model=model,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "cold"}],
        tools=[WEATHER],
    )
    assert second.status == "completed" and "cold" in second.output_text
    messages = fake_bedrock.last().json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[2]["content"][0]["toolResult"]["toolUseId"] == call.call_id


# The google route


def test_gemini_answers_an_image_streamed(gemini, fake_gemini):
    with gemini.responses.stream(model="gemini-2.5-flash", input=ask("animal?", CAT_URI)) as s:
        deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert "".join(deltas) == final.output_text == "I see 1 image(s). You said: animal?"
    assert fake_gemini.last().path.endswith(":streamGenerateContent?alt=sse")


def test_gemini_gets_the_json_schema_of_parse(gemini, fake_gemini):
    parsed = gemini.responses.parse(
        model="echo-json",
        input='{"city": "Rome", "country": "Italy"}',
        text_format=Capital,
    )
    assert parsed.output_parsed == Capital(city="Rome", country="Italy")
    config = sent(fake_gemini)["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert set(config["responseJsonSchema"]["properties"]) == {"city", "country"}


def test_gemini_gets_a_pdf_and_the_log_keeps_it(gemini, iris, fake_gemini):
    raw = gemini.responses.with_raw_response.create(
        model="gemini-2.5-flash",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "sum up"}, PDF_PART]}],
    )
    assert raw.parse().output_text == "I see 0 image(s) and 1 document(s). You said: sum up"
    inline = sent(fake_gemini)["contents"][0]["parts"][1]["inline_data"]
    assert (inline["mime_type"], base64.b64decode(inline["data"])) == ("application/pdf", PDF)

    log = iris.log(raw.headers["x-iris-request-id"])
    [document] = log["images"]
    assert (document["mime"], document["message_index"], document["part_index"]) == (
        "application/pdf",
        0,
        1,
    )
    assert httpx.get(document["content_url"], headers=iris.headers()).content == PDF
    kept = log["request_body"]["input"][0]["content"][1]
    assert kept == {**PDF_PART, "file_data": f"iris-blob:{document['sha256']}"}


# The openai route: passed through


def test_openai_gets_the_body_as_sent_and_answers_through(gpt, iris, fake_responses):
    question = ask("hi there", CAT_URI)
    question[0]["content"].append(PDF_PART)
    raw = gpt.responses.with_raw_response.create(model="gpt-4.1", input=question, tools=[WEATHER])
    response = raw.parse()
    assert response.output[0].type == "function_call"
    received = fake_responses.last("POST")
    assert received.path == "/v1/responses"
    assert received.headers["authorization"] == "Bearer sk-openai-secret"
    assert received.json()["input"][0]["content"][1]["image_url"] == CAT_URI  # untouched
    assert received.json()["input"][0]["content"][2] == PDF_PART

    log = iris.log(raw.headers["x-iris-request-id"])
    assert (log["endpoint"], log["provider"]) == ("responses", "openai")
    assert log["response_body"]["id"] == response.id
    assert [(i["mime"], i["bytes"]) for i in log["images"]] == [
        ("image/png", len(CAT)),
        ("application/pdf", len(PDF)),
    ]


def test_openai_streams_its_own_events_and_keeps_its_responses(gpt, iris):
    with gpt.responses.stream(model="gpt-4.1", input="stream me") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert final.output_text == "You said: stream me"
    assert kinds.count("response.output_text.delta") == 4  # a word each

    assert gpt.responses.retrieve(final.id).id == final.id  # GET at OpenAI, through Iris
    items = gpt.responses.input_items.list(final.id)
    assert items.data[0].content[0].text == "stream me"
    second = gpt.responses.create(model="gpt-4.1", previous_response_id=final.id, input="more")
    assert second.previous_response_id == final.id
    gpt.responses.delete(final.id)
    with pytest.raises(openai.NotFoundError):
        gpt.responses.retrieve(final.id)


def test_a_conversation_begun_on_anthropic_continues_on_openai(claude, gpt, fake_responses):
    first = claude.responses.create(model=CLAUDE, input="I like tea.")
    second = gpt.responses.create(model="gpt-4.1", previous_response_id=first.id, input="And?")
    assert second.output_text == "You said: And?"
    body = fake_responses.last("POST").json()
    assert "previous_response_id" not in body  # OpenAI never saw Iris's id: the items instead
    assert [item.get("role") for item in body["input"]] == ["user", "assistant", "user"]
    assert body["input"][1]["content"][0]["text"] == first.output_text


def test_an_openai_error_event_mid_stream_is_logged(gpt, iris):
    raw = gpt.responses.with_raw_response.create(
        model="gpt-4.1", input="[fail-stream]", stream=True
    )
    events = list(raw.parse())  # the SDK hands a Responses error event over as one
    assert [e.type for e in events] == ["response.created", "response.in_progress", "error"]
    assert events[-1].message == "The model crashed."
    log = iris.log(raw.headers["x-iris-request-id"])
    assert (log["error_type"], log["error_message"]) == ("server_error", "The model crashed.")
