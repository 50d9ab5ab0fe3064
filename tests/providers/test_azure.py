import base64
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gateway.chat import parse_chat
from gateway.errors import GatewayError
from gateway.providers import azure
from gateway.providers.base import Target
from tests.conftest import png_bytes
from tests.fakes import azure as fake
from tests.fakes.server import Received

DATA = Path(__file__).resolve().parents[1] / "data" / "azure"
ERRORS = json.loads((DATA / "errors.json").read_text())
OPTIONS = {"azure-resource-name": "iris-vision", "azure-deployment-id": "gpt-4o"}


def chat_with(content, **fields):
    return parse_chat(
        json.dumps(
            {
                "model": "gpt-4o",
                "messages": [
                    {"role": "system", "content": "Be terse."},
                    {"role": "user", "content": content},
                ],
                **fields,
            }
        ).encode()
    )


def target(api_key="azure-key", base_url="", **options):
    return Target(
        "azure-openai", base_url=base_url, api_key=api_key, options={**OPTIONS, **options}
    )


def build(chat=None, **kwargs):
    return azure.build_request(chat or chat_with("hi"), target(**kwargs))


# --- build_request ------------------------------------------------------------------------


def test_it_posts_to_the_deployment_with_the_ga_api_version_and_the_api_key():
    upstream = build()
    assert upstream.method == "POST"
    assert upstream.url == (
        "https://iris-vision.openai.azure.com/openai/deployments/gpt-4o/"
        "chat/completions?api-version=2024-10-21"
    )
    assert upstream.headers["api-key"] == "azure-key"
    assert "authorization" not in upstream.headers  # the key never leaves as a Bearer token
    assert upstream.headers["content-type"] == "application/json"


def test_it_forwards_the_clients_bytes_untouched():
    tools = [
        {
            "type": "function",
            "function": {
                "name": "report_object",
                "parameters": {"type": "object", "properties": {"label": {"type": "string"}}},
            },
        }
    ]
    chat = chat_with(
        "hi",
        temperature=0.2,
        max_tokens=50,
        tools=tools,
        tool_choice="auto",
        stream=True,
        stream_options={"include_usage": True},
    )
    assert azure.build_request(chat, target()).content is chat.raw


def test_images_pass_as_they_are_base64_and_url():
    png = png_bytes((6, 5))
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    chat = chat_with(
        [
            {"type": "text", "text": "compare"},
            {"type": "image_url", "image_url": {"url": uri, "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp"}},
        ]
    )
    sent = json.loads(azure.build_request(chat, target()).content)["messages"][1]["content"]
    assert sent[1]["image_url"] == {"url": uri, "detail": "high"}
    assert base64.b64decode(sent[1]["image_url"]["url"].split(",", 1)[1]) == png
    assert sent[2]["image_url"]["url"] == "https://example.com/cat.webp"
    assert azure.ACCEPTS_IMAGE_URLS is True
    assert sorted(azure.IMAGE_MIME_TYPES) == ["image/gif", "image/jpeg", "image/png", "image/webp"]


def test_it_sends_the_converted_copy_of_a_refused_format():
    bmp = png_bytes((3, 3), fmt="BMP")
    chat = chat_with(
        [
            {
                "type": "image_url",
                "image_url": {"url": "data:image/bmp;base64," + base64.b64encode(bmp).decode()},
            }
        ]
    )
    [img] = chat.images
    img.converted = (png_bytes((3, 3)), "image/png")  # what the core does for image/bmp
    url = json.loads(build(chat).content)["messages"][1]["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == img.payload


def test_a_custom_host_replaces_the_resource_base_url():
    upstream = build(
        base_url="http://127.0.0.1:9000/openai/",
        **{"azure-resource-name": "", "azure-api-version": "2025-04-01-preview"},
    )
    assert upstream.url == (
        "http://127.0.0.1:9000/openai/deployments/gpt-4o/chat/completions"
        "?api-version=2025-04-01-preview"
    )


def test_the_v1_api_takes_no_dated_version_and_no_deployment_in_the_path():
    upstream = build(**{"azure-api-version": "v1", "azure-deployment-id": ""})
    assert upstream.url == "https://iris-vision.openai.azure.com/openai/v1/chat/completions"
    assert upstream.headers["api-key"] == "azure-key"
    assert json.loads(upstream.content)["model"] == "gpt-4o"  # the deployment, for Azure


def test_an_entra_id_token_goes_as_a_bearer_token_instead_of_the_key():
    upstream = build(api_key="", **{"azure-ad-token": "Bearer eyJ.token"})
    assert upstream.headers["authorization"] == "Bearer eyJ.token"
    assert "api-key" not in upstream.headers
    upstream = build(api_key="eyJ.other", **{"azure-auth-mode": "entra"})
    assert upstream.headers["authorization"] == "Bearer eyJ.other"
    assert "api-key" not in upstream.headers


@pytest.mark.parametrize("header", ["azure-resource-name", "azure-deployment-id"])
def test_a_missing_resource_or_deployment_is_a_400_naming_the_header(header):
    with pytest.raises(GatewayError) as caught:
        build(**{header: ""})
    error = caught.value
    assert error.status == 400 and error.param == f"x-portkey-{header}"
    assert error.message == f"x-portkey-{header}: azure-openai requires it."


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("azure-resource-name", "169.254.169.254/latest/meta-data?"),  # would leave *.azure.com
        ("azure-resource-name", "evil.example@"),
        ("azure-deployment-id", "../../admin"),
        ("azure-deployment-id", "gpt-4o?api-version=x"),
        ("azure-api-version", "2024-10-21&foo=bar"),
    ],
)
def test_a_header_that_would_change_the_host_or_path_is_refused(header, value):
    with pytest.raises(GatewayError) as caught:
        build(**{header: value})
    assert caught.value.status == 400 and caught.value.param == f"x-portkey-{header}"
    assert repr(value) in caught.value.message


# --- parse_response and Stream ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "chat_completion.json",
        "chat_completion_tool_calls.json",
        "chat_completion_output_filtered.json",
    ],
)
def test_it_returns_azure_answers_with_their_filter_results(name):
    data = json.loads((DATA / name).read_text())
    body = azure.parse_response(data, chat_with("x"))
    completion = ChatCompletion.model_validate(body)
    assert completion.model_extra["prompt_filter_results"][0]["prompt_index"] == 0
    assert "content_filter_results" in completion.choices[0].model_extra


def test_a_choice_stopped_by_the_content_filter_passes_through():
    data = json.loads((DATA / "chat_completion_output_filtered.json").read_text())
    choice = ChatCompletion.model_validate(azure.parse_response(data, chat_with("x"))).choices[0]
    assert choice.finish_reason == "content_filter" and choice.message.content is None
    assert choice.model_extra["content_filter_results"]["violence"]["filtered"] is True


def run_stream(raw: bytes, *cuts: int) -> list[dict]:
    stream, start, out = azure.Stream(chat_with("x", stream=True)), 0, []
    for cut in (*cuts, len(raw)):
        out += stream.feed(raw[start:cut])
        start = cut
    return out + stream.close()


def assert_same_chunks_at_every_split(raw: bytes) -> list[dict]:
    whole = run_stream(raw)
    for chunk in whole:
        ChatCompletionChunk.model_validate(chunk)
    for cut in range(len(raw) + 1):
        assert run_stream(raw, cut) == whole, cut
    return whole


def text_of(chunks: list[dict]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_the_stream_folds_the_opening_filter_chunk_into_the_first_real_one():
    raw = (DATA / "stream_text.sse").read_bytes()
    chunks = assert_same_chunks_at_every_split(raw)
    first, last = chunks[0], chunks[-1]
    assert len(chunks) == 13  # role, ten words, finish, usage; the opening chunk is folded
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert first["prompt_filter_results"][0]["content_filter_results"]["jailbreak"] == {
        "detected": False,
        "filtered": False,
    }
    assert {c["id"] for c in chunks} == {"chatcmpl-AXJCc5eG8hJ1kL4mN7pQ0rS3tU6vW"}
    assert text_of(chunks) == "A ginger tabby cat lies on a wooden floor."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert last["choices"] == [] and last["usage"]["total_tokens"] == 307


def test_asynchronous_filter_annotations_become_valid_chunks_of_the_same_stream():
    raw = (DATA / "stream_async_filter.sse").read_bytes()
    chunks = assert_same_chunks_at_every_split(raw)
    annotations = [c for c in chunks if "content_filter_offsets" in c["choices"][0]]
    assert len(annotations) == 2
    for chunk in annotations:
        assert chunk["object"] == "chat.completion.chunk" and chunk["choices"][0]["delta"] == {}
        assert (chunk["id"], chunk["model"], chunk["created"]) == (
            "chatcmpl-AXJDd6fH9iK2lM5nP8qR1sT4uV7wX",
            "gpt-4o-2024-08-06",
            1764058077,
        )
    assert text_of(chunks) == "Two cats and a lamp."


def test_a_stream_cut_by_the_output_filter_ends_with_content_filter():
    chunks = assert_same_chunks_at_every_split((DATA / "stream_output_filtered.sse").read_bytes())
    assert text_of(chunks) == "The scene shows"
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"
    assert chunks[-1]["choices"][0]["content_filter_results"]["violence"]["severity"] == "high"


def test_tool_call_arguments_stream_through():
    chunks = assert_same_chunks_at_every_split((DATA / "stream_tool_calls.sse").read_bytes())
    calls = [c["choices"][0]["delta"].get("tool_calls") for c in chunks]
    assert calls[0][0]["function"]["name"] == "report_object"
    arguments = "".join(call[0]["function"]["arguments"] for call in calls if call)
    assert json.loads(arguments) == {"label": "cat", "box": [40, 110, 300, 420]}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_an_error_event_passes_through_and_a_lone_filter_chunk_is_not_emitted():
    opening = (DATA / "stream_text.sse").read_bytes().split(b"\n\n")[0] + b"\n\n"
    error = {
        "error": {
            "message": "The server had an error",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
    raw = opening + b"data: " + json.dumps(error).encode() + b"\n\n"
    assert run_stream(raw) == [error]


# --- parse_error ----------------------------------------------------------------------------


def test_a_filtered_prompt_is_an_openai_style_400_naming_the_categories():
    error = azure.parse_error(400, json.dumps(ERRORS["content_filter"]["body"]).encode())
    assert (error.status, error.type, error.code, error.param) == (
        400,
        "invalid_request_error",
        "content_filter",
        "prompt",
    )
    assert error.message.startswith("The prompt was filtered (violence). The response was")
    assert error.body()["error"]["code"] == "content_filter"


def test_the_rest_specs_spelling_of_the_filter_details_works_too():
    error = azure.parse_error(400, json.dumps(ERRORS["content_filter_rest_spec"]["body"]).encode())
    assert error.message.startswith("The prompt was filtered (hate, jailbreak). ")


@pytest.mark.parametrize(
    ("name", "code", "start"),
    [
        ("invalid_key", "401", "Access denied due to invalid subscription key"),
        ("invalid_token", None, "Unauthorized. Access token is missing"),
        ("deployment_not_found", "DeploymentNotFound", "The API deployment for this resource"),
        ("resource_not_found", "404", "Resource not found"),
        ("rate_limited", "429", "Requests to the ChatCompletions_Create Operation"),
        ("invalid_request", "invalid_image_format", "Invalid image URL"),
    ],
)
def test_azure_errors_keep_their_status_code_and_message(name, code, start):
    status, body = ERRORS[name]["status"], json.dumps(ERRORS[name]["body"]).encode()
    error = azure.parse_error(status, body)
    assert (error.status, error.code) == (status, code)
    assert error.message.startswith(start)
    assert (
        error.type
        == {
            400: "invalid_request_error",
            401: "authentication_error",
            404: "not_found_error",
            429: "rate_limit_error",
        }[status]
    )


def test_a_body_that_is_not_json_is_explained():
    error = azure.parse_error(502, b"<html>Bad Gateway</html>")
    assert (error.status, error.message) == (502, "<html>Bad Gateway</html>")


# --- the fake Azure upstream (tests/fakes/azure.py) checks what Iris sends ---------------------


def received(upstream, **headers) -> Received:
    parts = urlsplit(upstream.url)
    return Received(
        "POST", f"{parts.path}?{parts.query}", {**upstream.headers, **headers}, upstream.content
    )


def fake_target(**options):
    return target(api_key=fake.API_KEY, base_url="http://fake/openai", **options)


def test_the_fake_accepts_what_iris_sends_and_answers_like_azure():
    png = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    chat = chat_with(
        [{"type": "text", "text": "what?"}, {"type": "image_url", "image_url": {"url": png}}]
    )
    reply = fake.handle(received(azure.build_request(chat, fake_target())))
    assert reply.status == 200, reply.body
    completion = ChatCompletion.model_validate(azure.parse_response(json.loads(reply.body), chat))
    assert completion.choices[0].message.content == "I see 1 image(s). You said: what?"
    assert (
        completion.model == "gpt-4o-2024-08-06" and completion.model_extra["prompt_filter_results"]
    )


def test_the_fakes_stream_is_azures_and_iris_repairs_it():
    chat = chat_with("one two", stream=True, stream_options={"include_usage": True})
    reply = fake.handle(received(azure.build_request(chat, fake_target())))
    raw = b"".join(reply.chunks)
    assert raw.startswith(b'data: {"choices":[],"created":0,"id":"","model":"","object":""')
    chunks = assert_same_chunks_at_every_split(raw)
    assert text_of(chunks) == "I see 0 image(s). You said: one two"
    assert chunks[-1]["usage"]["total_tokens"] > 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {
                "model": "gpt-4o",
                "messages": [
                    {
                        "role": "system",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}
                        ],
                    }
                ],
            },
            "system",
        ),
        (
            {
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "hi"}],
                "max_output_tokens": 5,
            },
            "unknown field",
        ),
        (
            {
                "model": "gpt-4o",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image_url",
                                "image_url": {"url": "https://x/cat.png", "detail": "max"},
                            }
                        ],
                    }
                ],
            },
            "detail",
        ),
        (
            {
                "model": "gpt-4o",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "source": {"type": "url", "url": "https://x/cat.png"}}
                        ],
                    }
                ],
            },
            "content",
        ),
        (
            {
                "model": "gpt-4o",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image_url",
                                "image_url": {
                                    "url": "data:image/jpeg;base64,"
                                    + base64.b64encode(png_bytes()).decode()
                                },
                            }
                        ],
                    }
                ],
            },
            "bytes are PNG",
        ),
    ],
)
def test_the_fake_rejects_a_wrong_body_with_openais_error_shape(body, reason):
    upstream = azure.build_request(chat_with("x"), fake_target())
    upstream.content = json.dumps(body).encode()
    reply = fake.handle(received(upstream))
    error = json.loads(reply.body)["error"]
    assert reply.status == 400 and error["type"] == "invalid_request_error"
    assert error["message"].startswith("Invalid request: ") and reason in error["message"]


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"api-key": "wrong"}, 401, "invalid_key"),
        ({"api-key": "", "authorization": "Bearer expired"}, 401, "invalid_token"),
        ({"azure-deployment-id": "gpt-5"}, 404, "deployment_not_found"),
        ({"azure-api-version": "2023-01-01"}, 404, "resource_not_found"),
    ],
)
def test_the_fake_refuses_bad_credentials_deployments_and_versions(change, status, error):
    options = {k: v for k, v in change.items() if k.startswith("azure-")}
    headers = {k: v for k, v in change.items() if not k.startswith("azure-")}
    reply = fake.handle(
        received(azure.build_request(chat_with("x"), fake_target(**options)), **headers)
    )
    assert (reply.status, json.loads(reply.body)) == (status, ERRORS[error]["body"])


def test_the_fake_filters_a_prompt_with_azures_own_error_body():
    chat = chat_with(f"please {fake.FILTER_PROMPT}")
    reply = fake.handle(received(azure.build_request(chat, fake_target())))
    assert (reply.status, json.loads(reply.body)) == (400, ERRORS["content_filter"]["body"])
    assert azure.parse_error(reply.status, reply.body).code == "content_filter"
