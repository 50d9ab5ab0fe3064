"""The Vercel AI SDK's default model, `openai(model)`, which calls OpenAI's Responses API, and the
`openai` Node SDK's `client.responses`, against a real Iris: the anthropic route (the Responses
request translated, the strict fake Anthropic checking what arrives) and the openai route (passed
through to the fake OpenAI Responses API). tests/node/vercel_responses.mjs and
openai_responses.mjs print what the SDKs returned; the log must hold the PNG they sent.

Node and the pinned packages come as in tests/api/test_images_node_e2e.py (skipped without
node, unless IRIS_REQUIRE_NODE is set).
"""

import base64
import json
from pathlib import Path

import httpx
import pytest

from tests.api import test_images_node_e2e as node_e2e
from tests.api.test_responses_e2e import PDF
from tests.conftest import SHARED_IMAGES
from tests.fakes import openai_responses as fake_responses_handler
from tests.fakes.server import FakeServer, Received, Reply

CAT_PATH = SHARED_IMAGES / "chelsea.png"
CAT = CAT_PATH.read_bytes()
CLAUDE = "claude-sonnet-4-5"
SCHEMA = {"city": "string", "country": "string"}
node = node_e2e.node  # the fixture: node, the pinned packages installed
run = node_e2e.run


def as_openai_defaults(request: Received) -> Received:
    """The request with `detail: "auto"` on each input_image that has none. OpenAI documents
    detail as "Defaults to `auto`" and the AI SDK leaves it out unless asked, but the openai
    SDK's ResponseInputImageParam, which the fake checks against, marks it Required."""
    body = request.json()
    for item in body.get("input") if isinstance(body.get("input"), list) else ():
        for part in item.get("content") if isinstance(item.get("content"), list) else ():
            if part.get("type") == "input_image":
                part.setdefault("detail", "auto")
    return Received(request.method, request.path, request.headers, json.dumps(body).encode())


def json_answers(handle):
    """The fake OpenAI Responses API, given OpenAI's defaults (as_openai_defaults), except that
    a request with a JSON schema `text.format` gets the last input text alone (as a model asked
    for JSON answers JSON). The fake still checks the body; only non-streamed answers are
    rewritten. FakeServer.received keeps the body as Iris sent it."""

    def wrapped(request: Received) -> Reply:
        if request.method != "POST" or not request.body:
            return handle(request)
        reply = handle(as_openai_defaults(request))
        if reply.chunks is not None or reply.status != 200:
            return reply
        fmt = (request.json().get("text") or {}).get("format") or {}
        if fmt.get("type") != "json_schema":
            return reply
        data = json.loads(reply.body)
        for item in data["output"]:
            for part in item.get("content") or ():
                part["text"] = part["text"].removeprefix("You said: ")
        fake_responses_handler.Response.model_validate(data)
        return Reply.json(reply.status, data, **reply.headers)

    return wrapped


# Shadows the shared fake_responses (tests/fakes/fixtures.py): JSON answers, OpenAI defaults.
@pytest.fixture(scope="module")
def fake_responses():
    with FakeServer(json_answers(fake_responses_handler.handle)) as server:
        yield server


def target(iris, provider: str, host: str, key: str, model: str) -> dict:
    headers = iris.headers(**{"x-portkey-provider": provider, "x-portkey-custom-host": host})
    return {"baseURL": f"{iris.url}/v1", "apiKey": key, "headers": headers, "model": model}


@pytest.fixture
def pdf(tmp_path) -> Path:
    path = tmp_path / "report.pdf"
    path.write_bytes(PDF)
    return path


@pytest.fixture
def claude(iris, fake_anthropic) -> dict:
    return target(iris, "anthropic", f"{fake_anthropic.url}/v1", "sk-ant-secret", CLAUDE)


@pytest.fixture
def gpt(iris, fake_responses) -> dict:
    return target(iris, "openai", f"{fake_responses.url}/v1", "sk-openai-secret", "gpt-4.1")


def vercel(node: str, config: dict, action: str, text: str) -> dict:
    config = {**config, "action": action, "text": text, "schema": SCHEMA, "image": str(CAT_PATH)}
    out = run(node, "vercel_responses.mjs", config)
    assert "error" not in out, out
    return out


def logged_image(iris, request_id: str) -> dict:
    """The log of a Responses request with the one PNG sent: its bytes kept as sent."""
    log = iris.log(request_id)
    assert (log["endpoint"], log["status_code"]) == ("responses", 200)
    [image] = log["images"]
    assert (image["mime"], image["role"]) == ("image/png", "input")
    assert httpx.get(image["content_url"], headers=iris.headers()).content == CAT
    return log


def anthropic_image(fake_anthropic) -> bytes:
    [_, block] = fake_anthropic.last("POST").json()["messages"][0]["content"]
    assert block["type"] == "image" and block["source"]["media_type"] == "image/png"
    return base64.b64decode(block["source"]["data"])


# The anthropic route: the Responses request translated


def test_vercel_generate_text_sends_an_image_to_anthropic(node, claude, iris, fake_anthropic):
    out = vercel(node, claude, "generate", "what is this cat?")
    assert out["text"] == "I see 1 image(s). You said: what is this cat?"
    assert out["finishReason"] == "stop"
    assert out["usage"]["inputTokens"] == 20 + 1500
    assert anthropic_image(fake_anthropic) == CAT
    log = logged_image(iris, out["requestId"])
    assert log["provider"] == "anthropic"
    assert log["response_body"]["id"] == out["responseId"]


def test_vercel_stream_text_from_anthropic(node, claude, iris, fake_anthropic):
    out = vercel(node, claude, "stream", "describe it")
    assert out["errors"] == []
    assert len(out["deltas"]) > 1
    assert "".join(out["deltas"]) == out["text"] == "I see 1 image(s). You said: describe it"
    assert out["finishReason"] == "stop"
    assert fake_anthropic.last("POST").json()["stream"] is True
    assert anthropic_image(fake_anthropic) == CAT
    log = logged_image(iris, out["requestId"])
    assert log["is_stream"] and log["response_body"]["status"] == "completed"


@pytest.mark.parametrize("action", ["object", "output"])
def test_vercel_structured_output_from_anthropic(node, claude, iris, fake_anthropic, action):
    """generateObject and Output.object send a JSON schema as Responses `text.format`: Claude
    4.5 gets it as output_config.format, and its JSON (strings: the last user text) is parsed."""
    out = vercel(node, claude, action, "Paris")
    assert out["object"] == {"city": "Paris", "country": "Paris"}
    schema = fake_anthropic.last("POST").json()["output_config"]["format"]["schema"]
    assert set(schema["properties"]) == set(SCHEMA)
    assert anthropic_image(fake_anthropic) == CAT
    logged_image(iris, out["requestId"])


def test_vercel_sends_a_pdf_beside_the_image_to_anthropic(node, claude, iris, fake_anthropic, pdf):
    out = vercel(node, claude | {"pdf": str(pdf)}, "generate", "sum up")
    assert out["text"] == "I see 1 image(s) and 1 document(s). You said: sum up"
    [_, image, document] = fake_anthropic.last("POST").json()["messages"][0]["content"]
    assert base64.b64decode(image["source"]["data"]) == CAT
    assert (document["type"], document["title"]) == ("document", "report.pdf")
    assert base64.b64decode(document["source"]["data"]) == PDF
    log = iris.log(out["requestId"])
    assert [(i["mime"], i["part_index"]) for i in log["images"]] == [
        ("image/png", 1),
        ("application/pdf", 2),
    ]
    kept = [httpx.get(i["content_url"], headers=iris.headers()).content for i in log["images"]]
    assert kept == [CAT, PDF]


# The openai route: passed through


def test_vercel_generate_text_through_to_openai(node, gpt, iris, fake_responses):
    out = vercel(node, gpt, "generate", "what is this cat?")
    assert out["text"] == "You said: what is this cat?"
    assert out["usage"]["inputTokens"] == 12
    received = fake_responses.last("POST")
    assert received.path == "/v1/responses"
    assert received.headers["authorization"] == "Bearer sk-openai-secret"
    [_, part] = received.json()["input"][0]["content"]
    assert part["type"] == "input_image" and "detail" not in part  # as the AI SDK sent it
    assert part["image_url"] == "data:image/png;base64," + base64.b64encode(CAT).decode()
    log = logged_image(iris, out["requestId"])
    assert log["provider"] == "openai"
    assert log["response_body"]["id"] == out["responseId"]


def test_vercel_stream_text_through_to_openai(node, gpt, iris, fake_responses):
    out = vercel(node, gpt, "stream", "stream me please")
    assert out["errors"] == []
    assert out["deltas"] == ["You", " said:", " stream", " me", " please"]  # OpenAI's events
    assert out["text"] == "You said: stream me please"
    assert fake_responses.last("POST").json()["stream"] is True
    log = logged_image(iris, out["requestId"])
    assert log["is_stream"] and log["response_body"]["id"] == out["responseId"]


@pytest.mark.parametrize("action", ["object", "output"])
def test_vercel_structured_output_through_to_openai(node, gpt, iris, fake_responses, action):
    out = vercel(node, gpt, action, '{"city": "Rome", "country": "Italy"}')
    assert out["object"] == {"city": "Rome", "country": "Italy"}
    fmt = fake_responses.last("POST").json()["text"]["format"]
    assert (fmt["type"], fmt["name"], fmt["strict"]) == ("json_schema", "answer", True)
    assert set(fmt["schema"]["properties"]) == set(SCHEMA)
    logged_image(iris, out["requestId"])


# A conversation as apps keep it: the reply's messages sent back with the next question


def test_vercel_conversation_on_anthropic(node, claude, iris, fake_anthropic):
    """The AI SDK sends its earlier reply back as {"type": "item_reference", "id": <the output
    message's id>} (store defaults to true), as OpenAI's own store resolves it: Iris has that
    item in its log."""
    out = vercel(node, claude | {"then": "and its name?"}, "conversation", "what is this cat?")
    assert out["texts"][1] == "I see 1 image(s). You said: and its name?"
    messages = fake_anthropic.last("POST").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"][0]["text"] == out["texts"][0]
    assert anthropic_image(fake_anthropic) == CAT


def test_vercel_conversation_through_to_openai(node, gpt, iris, fake_responses):
    out = vercel(node, gpt | {"then": "and its name?"}, "conversation", "what is this cat?")
    assert out["texts"] == ["You said: what is this cat?", "You said: and its name?"]
    second = fake_responses.last("POST").json()["input"]
    assert [item.get("role", item.get("type")) for item in second] == [
        "user",
        "item_reference",
        "user",
    ]


# The openai Node SDK's client.responses


def node_sdk(node: str, config: dict, action: str, text: str) -> dict:
    params = {"model": config["model"], "input": [{"role": "user", "content": []}]}
    params["input"][0]["content"].append({"type": "input_text", "text": text})
    out = run(
        node,
        "openai_responses.mjs",
        {**config, "action": action, "params": params, "image": str(CAT_PATH)},
    )
    assert "error" not in out, out
    return out


@pytest.mark.parametrize("route", ["claude", "gpt"])
def test_openai_node_sdk_creates_with_an_image(node, route, request, iris):
    out = node_sdk(node, request.getfixturevalue(route), "create", "what is this?")
    said = "I see 1 image(s). You said: " if route == "claude" else "You said: "
    assert out["outputText"] == said + "what is this?"
    assert out["response"]["status"] == "completed"
    log = logged_image(iris, out["requestId"])
    assert log["response_body"]["id"] == out["response"]["id"]


@pytest.mark.parametrize("route", ["claude", "gpt"])
def test_openai_node_sdk_streams_with_an_image(node, route, request, iris):
    out = node_sdk(node, request.getfixturevalue(route), "stream", "stream this")
    said = "I see 1 image(s). You said: " if route == "claude" else "You said: "
    assert "".join(out["deltas"]) == out["outputText"] == said + "stream this"
    assert out["types"][0] == "response.created" and out["types"][-1] == "response.completed"
    log = logged_image(iris, out["requestId"])
    assert log["is_stream"] and log["response_body"]["id"] == out["response"]["id"]
