"""Azure OpenAI through a real Iris: the openai and portkey-ai SDKs in front, a fake Azure."""

import base64
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from portkey_ai import Portkey

from tests.conftest import SHARED_IMAGES
from tests.fakes import azure as fake_azure_handler

CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()
CAT_URI = "data:image/png;base64," + base64.b64encode(CAT).decode()
DEPLOYMENT = "vision-prod"
TOOL = {
    "type": "function",
    "function": {
        "name": "report_object",
        "description": "Report the main object in the image and its box.",
        "parameters": {
            "type": "object",
            "properties": {
                "label": {"type": "string"},
                "box": {"type": "array", "items": {"type": "integer"}},
            },
            "required": ["label", "box"],
        },
    },
}


def azure_headers(fake_azure, **extra: str) -> dict[str, str]:
    return {
        "x-portkey-provider": "azure-openai",
        "x-portkey-custom-host": f"{fake_azure.url}/openai",
        "x-portkey-azure-resource-name": "iris-vision",
        "x-portkey-azure-deployment-id": DEPLOYMENT,
        "x-portkey-azure-api-version": "2024-10-21",
        **extra,
    }


@pytest.fixture
def client(iris, fake_azure) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=iris.url + "/v1",
        api_key=fake_azure_handler.API_KEY,  # sent as Authorization: Bearer, as with Portkey
        max_retries=0,
        default_headers=iris.headers(**azure_headers(fake_azure)),
    )


def vision(image_url: str, text: str = "What is in this image?") -> list[dict]:
    return [
        {"role": "system", "content": "You are terse."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": image_url, "detail": "low"}},
            ],
        },
    ]


def upstream_request(fake_azure) -> tuple[str, dict, dict, dict]:
    """(path, query, headers, body) of what the fake Azure received last."""
    last = fake_azure.last()
    url = urlsplit(last.path)
    return url.path, parse_qs(url.query), last.headers, last.json()


def test_it_answers_a_base64_image_through_the_deployment(iris, fake_azure, client):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=vision(CAT_URI, "which animal?")
    )
    completion = ChatCompletion.model_validate(raw.parse().model_dump())
    assert completion.choices[0].message.content == "I see 1 image(s). You said: which animal?"
    assert completion.model == fake_azure_handler.DEPLOYMENTS[DEPLOYMENT]
    assert completion.model_extra["prompt_filter_results"] == fake_azure_handler.PROMPT_FILTER
    assert completion.choices[0].model_extra["content_filter_results"]["hate"]["filtered"] is False

    path, query, headers, body = upstream_request(fake_azure)
    assert path == f"/openai/deployments/{DEPLOYMENT}/chat/completions"
    assert query == {"api-version": ["2024-10-21"]}
    assert headers["api-key"] == fake_azure_handler.API_KEY and "authorization" not in headers
    assert body["messages"] == vision(CAT_URI, "which animal?")  # forwarded untouched

    log = iris.log(raw.headers["x-iris-request-id"])
    assert (log["provider"], log["status_code"], log["image_count"]) == ("azure-openai", 200, 1)
    assert log["upstream_url"] == (
        f"{fake_azure.url}/openai/deployments/{DEPLOYMENT}/chat/completions?api-version=2024-10-21"
    )
    assert log["response_body"]["prompt_filter_results"] == fake_azure_handler.PROMPT_FILTER
    assert fake_azure_handler.API_KEY not in json.dumps(log)


@pytest.mark.parametrize("stream", [False, True])
def test_the_v1_api_names_the_deployment_by_the_model(iris, fake_azure, stream):
    headers = azure_headers(fake_azure, **{"x-portkey-azure-api-version": "v1"})
    del headers["x-portkey-azure-deployment-id"]
    client = openai.OpenAI(
        base_url=iris.url + "/v1",
        api_key=fake_azure_handler.API_KEY,
        default_headers=iris.headers(**headers),
    )
    reply = client.chat.completions.create(
        model=DEPLOYMENT, messages=vision(CAT_URI, "v1?"), stream=stream
    )
    if stream:
        chunks = list(reply)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        model = chunks[0].model
    else:
        text, model = reply.choices[0].message.content, reply.model
    assert (text, model) == (
        "I see 1 image(s). You said: v1?",
        fake_azure_handler.DEPLOYMENTS[DEPLOYMENT],
    )
    path, query, sent_headers, body = upstream_request(fake_azure)
    assert (path, query, body["model"]) == ("/openai/v1/chat/completions", {}, DEPLOYMENT)
    assert sent_headers["api-key"] == fake_azure_handler.API_KEY


def test_it_streams_with_usage_and_logs_the_assembled_reply(iris, fake_azure, client):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=vision(CAT_URI, "stream it"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(raw.parse())
    for chunk in chunks:  # Azure's filter-only opening chunk would fail this: it was folded in
        ChatCompletionChunk.model_validate(chunk.model_dump())
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].model_extra["prompt_filter_results"] == fake_azure_handler.PROMPT_FILTER
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "I see 1 image(s). You said: stream it"
    assert {c.id for c in chunks} == {"chatcmpl-AXazure"}
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0

    log = iris.log(raw.headers["x-iris-request-id"])
    assert log["is_stream"] is True and log["chunk_count"] == len(chunks)
    assert log["response_body"]["id"] == "chatcmpl-AXazure"
    assert log["response_body"]["choices"][0]["message"]["content"] == text
    assert log["completion_tokens"] == chunks[-1].usage.completion_tokens


def test_an_image_url_is_passed_as_a_url(iris, fake_azure, fake_openai, client):
    url = f"{fake_openai.url}/images/rocket.jpg"
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=vision(url))
    assert raw.parse().choices[0].message.content.startswith("I see 1 image(s).")
    assert upstream_request(fake_azure)[3]["messages"][1]["content"][1]["image_url"]["url"] == url
    [image] = iris.log(raw.headers["x-iris-request-id"])["images"]
    assert (image["origin"], image["url"], image["mime"]) == ("url", url, "image/jpeg")


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_come_back_in_openais_shape(fake_azure, client, stream):
    messages = vision(CAT_URI, "box the animal")
    result = client.chat.completions.create(
        model="gpt-4o", messages=messages, tools=[TOOL], stream=stream
    )
    if stream:
        chunks = list(result)
        for chunk in chunks:
            ChatCompletionChunk.model_validate(chunk.model_dump())
        calls = [c.choices[0].delta.tool_calls for c in chunks if c.choices]
        name = calls[0][0].function.name
        arguments = "".join(call[0].function.arguments or "" for call in calls if call)
        finish = chunks[-1].choices[0].finish_reason
    else:
        ChatCompletion.model_validate(result.model_dump())
        [call] = result.choices[0].message.tool_calls
        name, arguments, finish = (
            call.function.name,
            call.function.arguments,
            (result.choices[0].finish_reason),
        )
    assert (name, finish) == ("report_object", "tool_calls")
    assert json.loads(arguments) == {"label": "cat", "box": [40, 110, 300, 420]}
    assert upstream_request(fake_azure)[3]["tools"] == [TOOL]


def test_a_tool_result_goes_back_to_azure(fake_azure, client):
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "report_object", "arguments": '{"label": "cat"}'},
    }
    messages = [
        *vision(CAT_URI, "box the animal"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "saved"},
    ]
    result = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[TOOL])
    assert result.choices[0].message.content == "I see 1 image(s). You said: saved"


def test_a_filtered_prompt_is_an_openai_400_naming_the_category(iris, fake_azure, client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=vision(CAT_URI, fake_azure_handler.FILTER_PROMPT)
        )
    error = caught.value.body
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "content_filter",
        "prompt",
    )
    assert error["message"].startswith("The prompt was filtered (violence). The response was")
    log = iris.log(caught.value.response.headers["x-iris-request-id"])
    assert (log["status_code"], log["error_type"]) == (400, "invalid_request_error")
    assert log["error_message"] == error["message"]
    assert log["response_body"]["error"]["innererror"]["code"] == "ResponsibleAIPolicyViolation"


@pytest.mark.parametrize("stream", [False, True])
def test_a_completion_stopped_by_the_output_filter_passes_through(client, stream):
    messages = [{"role": "user", "content": f"tell me {fake_azure_handler.FILTER_OUTPUT}"}]
    result = client.chat.completions.create(model="gpt-4o", messages=messages, stream=stream)
    if stream:
        chunks = list(result)
        for chunk in chunks:
            ChatCompletionChunk.model_validate(chunk.model_dump())
        choice = chunks[-1].choices[0]
    else:
        choice = ChatCompletion.model_validate(result.model_dump()).choices[0]
    assert choice.finish_reason == "content_filter"
    assert choice.model_extra["content_filter_results"]["violence"]["filtered"] is True


def test_upstream_errors_keep_azures_status_and_message(iris, fake_azure):
    wrong_key = openai.OpenAI(
        base_url=iris.url + "/v1",
        api_key="not-the-key",
        max_retries=0,
        default_headers=iris.headers(**azure_headers(fake_azure)),
    )
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong_key.chat.completions.create(model="gpt-4o", messages=vision(CAT_URI))
    assert caught.value.body["message"].startswith("Access denied due to invalid subscription key")
    no_deployment = openai.OpenAI(
        base_url=iris.url + "/v1",
        api_key=fake_azure_handler.API_KEY,
        max_retries=0,
        default_headers=iris.headers(
            **azure_headers(fake_azure, **{"x-portkey-azure-deployment-id": "gpt-5"})
        ),
    )
    with pytest.raises(openai.NotFoundError) as caught:
        no_deployment.chat.completions.create(model="gpt-5", messages=vision(CAT_URI))
    assert caught.value.body["code"] == "DeploymentNotFound"


def test_a_missing_deployment_header_is_a_400_before_any_upstream_call(iris, fake_azure):
    headers = azure_headers(fake_azure)
    del headers["x-portkey-azure-deployment-id"]
    before = len(fake_azure.received)
    response = httpx.post(
        f"{iris.url}/v1/chat/completions",
        headers=iris.headers(authorization=f"Bearer {fake_azure_handler.API_KEY}", **headers),
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 400 and len(fake_azure.received) == before
    assert response.json()["error"] == {
        "message": "x-portkey-azure-deployment-id: azure-openai requires it.",
        "type": "invalid_request_error",
        "param": "x-portkey-azure-deployment-id",
        "code": "invalid_azure_header",
    }


def test_an_entra_id_token_is_sent_as_a_bearer_token(iris, fake_azure):
    entra = openai.OpenAI(
        base_url=iris.url + "/v1",
        api_key="unused",
        max_retries=0,
        default_headers=iris.headers(
            **azure_headers(
                fake_azure, **{"x-portkey-azure-ad-token": fake_azure_handler.ENTRA_TOKEN}
            )
        ),
    )
    result = entra.chat.completions.create(model="gpt-4o", messages=vision(CAT_URI, "entra"))
    assert result.choices[0].message.content == "I see 1 image(s). You said: entra"
    headers = upstream_request(fake_azure)[2]
    assert headers["authorization"] == f"Bearer {fake_azure_handler.ENTRA_TOKEN}"
    assert "api-key" not in headers


@pytest.mark.parametrize("stream", [False, True])
def test_it_works_with_the_portkey_sdk(iris, fake_azure, stream):
    portkey = Portkey(
        api_key=iris.key,
        base_url=iris.url + "/v1",
        provider="azure-openai",
        Authorization=f"Bearer {fake_azure_handler.API_KEY}",
        azure_resource_name="iris-vision",
        azure_deployment_id=DEPLOYMENT,
        azure_api_version="2024-10-21",
        custom_host=f"{fake_azure.url}/openai",
        trace_id="trace-azure-portkey",
    )
    messages = vision(CAT_URI, "portkey?")
    result = portkey.chat.completions.create(model="gpt-4o", messages=messages, stream=stream)
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in result if c.choices)
    else:
        text = result.choices[0].message.content
    assert text == "I see 1 image(s). You said: portkey?"
    path, query, headers, _ = upstream_request(fake_azure)
    assert path == f"/openai/deployments/{DEPLOYMENT}/chat/completions"
    assert query == {"api-version": ["2024-10-21"]}
    assert headers["api-key"] == fake_azure_handler.API_KEY
    rows = iris.find_logs(trace_id="trace-azure-portkey")
    assert rows and rows[0]["provider"] == "azure-openai"
