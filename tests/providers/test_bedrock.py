import base64
import json
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gateway import pricing
from gateway.chat import Chat, parse_chat
from gateway.errors import GatewayError
from gateway.providers import bedrock
from gateway.providers.base import Target, Upstream
from tests.conftest import png_bytes
from tests.fakes import bedrock as fake
from tests.fakes.server import Received

DATA = Path(__file__).resolve().parents[1] / "data" / "bedrock"
MODEL = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
AWS = {
    "aws-access-key-id": fake.ACCESS_KEY_ID,
    "aws-secret-access-key": fake.SECRET_ACCESS_KEY,
    "aws-session-token": fake.SESSION_TOKEN,
    "aws-region": fake.REGION,
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def make_chat(messages: list, **params) -> Chat:
    return parse_chat(
        orjson.dumps({"model": params.pop("model", MODEL), "messages": messages, **params})
    )


def target(options: dict | None = None, **kw) -> Target:
    return Target("bedrock", options=AWS if options is None else options, **kw)


def build(chat: Chat, **kw) -> dict:
    """The Converse body, after checking that the fake Bedrock accepts it (schema and rules)."""
    upstream = bedrock.build_request(chat, target(**kw))
    model_id = urlsplit(upstream.url).path.split("/")[-2]
    operation = "ConverseStream" if chat.stream else "Converse"
    fake.validate_body(upstream.content, model_id=model_id, operation=operation)
    return orjson.loads(upstream.content)


def received(upstream: Upstream, body: bytes | None = None) -> Received:
    """The request as the fake server would see it arrive."""
    parts = urlsplit(upstream.url)
    headers = {k.lower(): v for k, v in upstream.headers.items()} | {"host": parts.netloc}
    return Received("POST", parts.path, headers, upstream.content if body is None else body)


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def image_part(data: bytes, mime: str = "image/png") -> dict:
    return {"type": "image_url", "image_url": {"url": data_uri(data, mime)}}


def url_chat(data: bytes | None, url: str = "https://example.com/cat.png") -> Chat:
    """A URL image, fetched as the core would (img.data set) unless data is None."""
    chat = make_chat(
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]
    )
    if data is not None:
        chat.image(0, 0).describe(data)
    return chat


# --- build_request: URL, headers, signature ---------------------------------------------


def test_it_posts_to_the_regional_converse_url_with_the_model_id_encoded():
    upstream = bedrock.build_request(make_chat([{"role": "user", "content": "hi"}]), target())
    assert upstream.method == "POST"
    assert upstream.url == (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
        "us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    )
    assert upstream.headers["content-type"] == "application/json"
    assert upstream.headers["accept"] == "application/json"


def test_it_uses_converse_stream_and_asks_for_an_event_stream():
    chat = make_chat([{"role": "user", "content": "hi"}], stream=True)
    upstream = bedrock.build_request(chat, target())
    assert upstream.url.endswith(
        "/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    )
    assert upstream.headers["accept"] == "application/vnd.amazon.eventstream"
    assert "stream" not in orjson.loads(upstream.content)


def test_it_encodes_every_reserved_character_of_an_arn_model_id():
    arn = (
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
        "us.meta.llama3-2-11b-instruct-v1:0"
    )
    upstream = bedrock.build_request(
        make_chat([{"role": "user", "content": "hi"}], model=arn), target()
    )
    assert urlsplit(upstream.url).path == (
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F"
        "us.meta.llama3-2-11b-instruct-v1%3A0/converse"
    )
    fake.check_auth(received(upstream))


def test_it_signs_with_sigv4_and_the_fake_accepts_the_signature():
    upstream = bedrock.build_request(make_chat([{"role": "user", "content": "hi"}]), target())
    auth = upstream.headers["authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={fake.ACCESS_KEY_ID}/")
    assert "/us-east-1/bedrock/aws4_request" in auth
    assert "SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token" in auth
    assert upstream.headers["x-amz-security-token"] == fake.SESSION_TOKEN
    assert upstream.headers["x-amz-date"].endswith("Z")
    fake.check_auth(received(upstream))  # raises fake.Invalid on a mismatch


def test_it_signs_long_term_keys_without_a_session_token():
    options = {k: v for k, v in AWS.items() if k != "aws-session-token"}
    upstream = bedrock.build_request(
        make_chat([{"role": "user", "content": "hi"}]), target(options)
    )
    assert "x-amz-security-token" not in upstream.headers
    fake.check_auth(received(upstream))


def test_the_fake_rejects_a_tampered_body():
    upstream = bedrock.build_request(make_chat([{"role": "user", "content": "hi"}]), target())
    tampered = upstream.content.replace(b'"hi"', b'"ho"')
    with pytest.raises(fake.Invalid) as caught:
        fake.check_auth(received(upstream, tampered))
    assert caught.value.status == 403
    assert caught.value.name == "InvalidSignatureException"
    reply = fake.handle(received(upstream, tampered))
    assert reply.status == 403
    assert reply.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert "signature we calculated does not match" in json.loads(reply.body)["message"]


def test_the_signature_covers_the_encoded_path_and_the_host():
    upstream = bedrock.build_request(make_chat([{"role": "user", "content": "hi"}]), target())
    unencoded = received(upstream)
    unencoded.path = unencoded.path.replace("%3A", ":")
    with pytest.raises(fake.Invalid):
        fake.check_auth(unencoded)
    other_host = received(upstream)
    other_host.headers["host"] = "bedrock-runtime.us-west-2.amazonaws.com"
    with pytest.raises(fake.Invalid):
        fake.check_auth(other_host)


def test_the_fake_rejects_a_wrong_secret():
    options = {**AWS, "aws-secret-access-key": "not-the-secret"}
    upstream = bedrock.build_request(
        make_chat([{"role": "user", "content": "hi"}]), target(options)
    )
    with pytest.raises(fake.Invalid, match="signature we calculated"):
        fake.check_auth(received(upstream))


def test_it_replaces_the_base_url_with_the_custom_host_and_signs_for_that_host():
    chat = make_chat([{"role": "user", "content": "hi"}])
    upstream = bedrock.build_request(chat, target(base_url="http://127.0.0.1:8123/bedrock/"))
    assert upstream.url == (
        "http://127.0.0.1:8123/bedrock/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    )
    request = received(upstream)
    assert request.headers["host"] == "127.0.0.1:8123"
    fake.check_auth(request)


def test_it_sends_a_bedrock_api_key_as_a_bearer_token_when_no_aws_keys_are_given():
    upstream = bedrock.build_request(
        make_chat([{"role": "user", "content": "hi"}]),
        target({"aws-region": "eu-west-1"}, api_key=fake.API_KEY),
    )
    assert upstream.url.startswith("https://bedrock-runtime.eu-west-1.amazonaws.com/model/")
    assert upstream.headers["authorization"] == f"Bearer {fake.API_KEY}"
    assert "x-amz-date" not in upstream.headers
    fake.check_auth(received(upstream))


def test_it_prefers_aws_keys_over_an_api_key():
    upstream = bedrock.build_request(
        make_chat([{"role": "user", "content": "hi"}]), target(api_key="sk-unused")
    )
    assert upstream.headers["authorization"].startswith("AWS4-HMAC-SHA256 ")


@pytest.mark.parametrize(
    "region", ["localhost:8080/#", "x@127.0.0.1", "us-east-1.evil.example", "US-EAST-1", "eu"]
)
def test_a_region_that_would_change_the_host_is_refused(region):
    with pytest.raises(GatewayError) as caught:
        bedrock.build_request(
            make_chat([{"role": "user", "content": "hi"}]), target({**AWS, "aws-region": region})
        )
    assert (caught.value.status, caught.value.param) == (400, "x-portkey-aws-region")


@pytest.mark.parametrize("region", ["us-east-1", "us-gov-west-1", "ap-southeast-2", "eu-central-2"])
def test_real_regions_make_the_regional_host(region):
    upstream = bedrock.build_request(
        make_chat([{"role": "user", "content": "hi"}]), target({**AWS, "aws-region": region})
    )
    assert urlsplit(upstream.url).hostname == f"bedrock-runtime.{region}.amazonaws.com"


def test_an_api_key_with_a_custom_host_needs_no_region():
    upstream = bedrock.build_request(
        make_chat([{"role": "user", "content": "hi"}]),
        target({}, api_key=fake.API_KEY, base_url="http://127.0.0.1:9"),
    )
    assert upstream.url.startswith("http://127.0.0.1:9/model/")


@pytest.mark.parametrize(
    "options",
    [
        {"aws-region": "us-east-1"},
        {"aws-access-key-id": fake.ACCESS_KEY_ID, "aws-region": "us-east-1"},
        {"aws-secret-access-key": fake.SECRET_ACCESS_KEY, "aws-region": "us-east-1"},
    ],
)
def test_it_refuses_missing_credentials(options):
    with pytest.raises(GatewayError) as caught:
        bedrock.build_request(make_chat([{"role": "user", "content": "hi"}]), target(options))
    assert caught.value.status == 400
    assert caught.value.code == "missing_credentials"
    assert "x-portkey-aws-access-key-id" in caught.value.message


@pytest.mark.parametrize("api_key", ["", fake.API_KEY])
def test_it_refuses_a_missing_region(api_key):
    options = {k: v for k, v in AWS.items() if k != "aws-region"} if not api_key else {}
    with pytest.raises(GatewayError) as caught:
        bedrock.build_request(
            make_chat([{"role": "user", "content": "hi"}]), target(options, api_key=api_key)
        )
    assert caught.value.status == 400
    assert caught.value.param == "x-portkey-aws-region"


def test_a_custom_host_still_needs_the_region_to_sign():
    options = {k: v for k, v in AWS.items() if k != "aws-region"}
    with pytest.raises(GatewayError, match="x-portkey-aws-region"):
        bedrock.build_request(
            make_chat([{"role": "user", "content": "hi"}]), target(options, base_url="http://h")
        )


# --- build_request: the body ------------------------------------------------------------


def test_it_moves_system_and_developer_messages_to_the_system_list():
    body = build(
        make_chat(
            [
                {"role": "system", "content": "You are terse."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "user", "content": "Hello"},
            ]
        )
    )
    assert body["system"] == [{"text": "You are terse."}, {"text": "Answer in French."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "Hello"}]}]


def test_it_merges_consecutive_messages_of_the_same_role():
    body = build(
        make_chat(
            [
                {"role": "user", "content": "one"},
                {"role": "user", "content": [{"type": "text", "text": "two"}]},
                {"role": "assistant", "content": "three"},
                {"role": "assistant", "content": "four"},
                {"role": "user", "content": "five"},
            ]
        )
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "one"}, {"text": "two"}]},
        {"role": "assistant", "content": [{"text": "three"}, {"text": "four"}]},
        {"role": "user", "content": [{"text": "five"}]},
    ]


def test_it_drops_empty_text_that_converse_refuses():
    body = build(
        make_chat(
            [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": ""}, {"type": "text", "text": "hi"}],
                },
                {"role": "assistant", "content": ""},
                {"role": "user", "content": "again"},
            ]
        )
    )
    assert body["messages"] == [{"role": "user", "content": [{"text": "hi"}, {"text": "again"}]}]


def test_it_refuses_a_conversation_that_starts_with_the_assistant():
    chat = make_chat([{"role": "system", "content": "s"}, {"role": "assistant", "content": "hi"}])
    with pytest.raises(GatewayError) as caught:
        bedrock.build_request(chat, target())
    assert caught.value.status == 400
    assert caught.value.param == "messages"
    assert "start with a user message" in caught.value.message


def test_it_maps_sampling_parameters_to_the_inference_config():
    chat = make_chat(
        [{"role": "user", "content": "hi"}], max_tokens=300, temperature=0.2, top_p=0.9, stop="END"
    )
    assert build(chat)["inferenceConfig"] == {
        "maxTokens": 300,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["END"],
    }


def test_max_completion_tokens_wins_and_stop_lists_pass_through():
    chat = make_chat(
        [{"role": "user", "content": "hi"}],
        max_tokens=10,
        max_completion_tokens=500,
        stop=["a", "b"],
        temperature=None,
    )
    assert build(chat)["inferenceConfig"] == {"maxTokens": 500, "stopSequences": ["a", "b"]}


def test_it_sends_no_inference_config_when_no_parameter_is_set():
    assert "inferenceConfig" not in build(make_chat([{"role": "user", "content": "hi"}]))


def test_it_maps_tools_to_tool_specs():
    body = build(make_chat([{"role": "user", "content": "Weather?"}], tools=[WEATHER]))
    assert body["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Current weather in a city.",
                    "inputSchema": {"json": WEATHER["function"]["parameters"]},
                }
            }
        ]
    }


def test_a_tool_without_description_or_parameters_gets_an_empty_object_schema():
    tool = {"type": "function", "function": {"name": "ping"}}
    spec = build(make_chat([{"role": "user", "content": "hi"}], tools=[tool]))["toolConfig"]
    assert spec["tools"][0]["toolSpec"] == {
        "name": "ping",
        "inputSchema": {"json": {"type": "object", "properties": {}}},
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"auto": {}}),
        ("required", {"any": {}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"tool": {"name": "get_weather"}},
        ),
    ],
)
def test_it_maps_tool_choice(choice, expected):
    chat = make_chat([{"role": "user", "content": "hi"}], tools=[WEATHER], tool_choice=choice)
    assert build(chat)["toolConfig"]["toolChoice"] == expected


def test_tool_choice_none_drops_the_tools_unless_the_history_uses_them():
    chat = make_chat([{"role": "user", "content": "hi"}], tools=[WEATHER], tool_choice="none")
    assert "toolConfig" not in build(chat)


def test_it_maps_tool_calls_and_tool_results():
    chat = make_chat(
        [
            {"role": "user", "content": "Weather in Paris and Oslo?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18 °C"},
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "4 °C"}],
            },
            {"role": "user", "content": "Which is warmer?"},
        ],
        tools=[WEATHER],
        tool_choice="none",
    )
    body = build(chat)
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "Weather in Paris and Oslo?"}]},
        {
            "role": "assistant",
            "content": [
                {"text": "Checking."},
                {
                    "toolUse": {
                        "toolUseId": "call_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    }
                },
                {
                    "toolUse": {
                        "toolUseId": "call_2",
                        "name": "get_weather",
                        "input": {"city": "Oslo"},
                    }
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "call_1", "content": [{"text": "18 °C"}]}},
                {"toolResult": {"toolUseId": "call_2", "content": [{"text": "4 °C"}]}},
                {"text": "Which is warmer?"},
            ],
        },
    ]
    assert "toolChoice" not in body["toolConfig"]  # "none" keeps tools the history needs


def test_a_tool_result_keeps_its_images_and_a_system_image_is_refused():
    png = png_bytes(size=(6, 5))
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    call = {"id": "c1", "type": "function", "function": {"name": "crop", "arguments": "{}"}}
    result = [
        {"type": "text", "text": "the crop:"},
        {"type": "image_url", "image_url": {"url": uri}},
    ]
    chat = make_chat(
        [
            {"role": "user", "content": "Crop it."},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": result},
        ],
        tools=[WEATHER],
    )
    [tool_result] = build(chat)["messages"][2]["content"]
    text, image = tool_result["toolResult"]["content"]
    assert text == {"text": "the crop:"} and image["image"]["format"] == "png"
    assert base64.b64decode(image["image"]["source"]["bytes"]) == png

    system = [{"type": "image_url", "image_url": {"url": uri}}]
    with pytest.raises(GatewayError) as caught:
        build(make_chat([{"role": "system", "content": system}, {"role": "user", "content": "hi"}]))
    assert (caught.value.status, caught.value.param) == (400, "messages.0.content")


def test_it_refuses_tool_call_arguments_that_are_not_a_json_object():
    chat = make_chat(
        [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1"}}
                ],
            },
        ]
    )
    with pytest.raises(GatewayError) as caught:
        bedrock.build_request(chat, target())
    assert caught.value.status == 400
    assert "messages[1].tool_calls[0]" in caught.value.message


def test_it_refuses_content_parts_bedrock_cannot_take():
    part = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    with pytest.raises(GatewayError, match=r"messages\[0\]\.content\[1\]"):
        bedrock.build_request(
            make_chat([{"role": "user", "content": [{"type": "text", "text": "x"}, part]}]),
            target(),
        )


# --- images -----------------------------------------------------------------------------


def test_it_sends_base64_images_as_bytes_identical_after_decoding():
    png = png_bytes(size=(6, 5))
    chat = make_chat(
        [{"role": "user", "content": [{"type": "text", "text": "What is it?"}, image_part(png)]}]
    )
    block = build(chat)["messages"][0]["content"][1]
    assert block["image"]["format"] == "png"
    assert base64.b64decode(block["image"]["source"]["bytes"]) == png


def test_the_image_format_comes_from_the_bytes_not_the_declared_type():
    jpeg = png_bytes(size=(5, 7), fmt="JPEG")
    chat = make_chat([{"role": "user", "content": [image_part(jpeg, "image/png")]}])
    image = build(chat)["messages"][0]["content"][0]["image"]
    assert image["format"] == "jpeg"
    assert base64.b64decode(image["source"]["bytes"]) == jpeg


@pytest.mark.parametrize(("fmt", "expected"), [("GIF", "gif"), ("WEBP", "webp")])
def test_it_sends_gif_and_webp(fmt, expected):
    data = png_bytes(fmt=fmt)
    image = build(make_chat([{"role": "user", "content": [image_part(data)]}]))["messages"][0]
    assert image["content"][0]["image"]["format"] == expected


def test_it_inlines_fetched_url_images():
    jpeg = png_bytes(size=(9, 4), fmt="JPEG")
    image = build(url_chat(jpeg))["messages"][0]["content"][0]["image"]
    assert image == {"format": "jpeg", "source": {"bytes": base64.b64encode(jpeg).decode()}}


def test_it_sends_the_converted_copy_when_the_core_converted_the_image():
    bmp = png_bytes(fmt="BMP")
    png = png_bytes()
    chat = make_chat([{"role": "user", "content": [image_part(bmp, "image/bmp")]}])
    chat.image(0, 0).converted = (png, "image/png")
    image = build(chat)["messages"][0]["content"][0]["image"]
    assert image["format"] == "png"
    assert base64.b64decode(image["source"]["bytes"]) == png


def test_it_refuses_an_image_type_bedrock_does_not_take():
    chat = make_chat(
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "x"}, image_part(png_bytes(fmt="BMP"))],
            }
        ]
    )
    with pytest.raises(GatewayError) as caught:
        bedrock.build_request(chat, target())
    assert caught.value.status == 400
    assert caught.value.message.startswith("messages[0].content[1]: image/bmp")
    assert caught.value.param == "messages.0.content.1.image_url"


def test_it_refuses_a_url_image_that_was_not_fetched():
    with pytest.raises(
        GatewayError, match=r"messages\[0\]\.content\[0\]: the image was not fetched"
    ):
        bedrock.build_request(url_chat(None), target())


def test_it_refuses_an_image_over_3_75_mb():
    chat = url_chat(png_bytes())
    img = chat.image(0, 0)
    img.data = img.data + b"\0" * (bedrock.MAX_IMAGE_BYTES - len(img.data) + 1)
    with pytest.raises(GatewayError) as caught:
        bedrock.build_request(chat, target())
    assert caught.value.status == 400
    assert caught.value.code == "image_too_large"
    assert caught.value.message.startswith("messages[0].content[0]: the image is 3.75 MB")


def test_it_accepts_an_image_of_exactly_3_75_mb():
    chat = url_chat(png_bytes())
    img = chat.image(0, 0)
    img.data = img.data + b"\0" * (bedrock.MAX_IMAGE_BYTES - len(img.data))
    bedrock.build_request(chat, target())


def test_it_refuses_an_image_over_8000_px():
    chat = make_chat(
        [
            {"role": "user", "content": "look"},
            {"role": "user", "content": [image_part(png_bytes(size=(8001, 2)))]},
        ]
    )
    with pytest.raises(GatewayError) as caught:
        bedrock.build_request(chat, target())
    assert caught.value.status == 400
    assert "messages[1].content[0]" in caught.value.message
    assert "8001×2 px" in caught.value.message


def test_it_refuses_more_than_20_images_naming_the_21st():
    png = image_part(png_bytes())
    chat = make_chat(
        [{"role": "user", "content": [png] * 15}, {"role": "user", "content": [png] * 6}]
    )
    with pytest.raises(GatewayError) as caught:
        bedrock.build_request(chat, target())
    assert caught.value.status == 400
    assert caught.value.code == "too_many_images"
    assert caught.value.message.startswith("messages[1].content[5]: ")
    assert "this request has 21" in caught.value.message
    twenty = make_chat([{"role": "user", "content": [png] * 20}])
    assert len(build(twenty)["messages"][0]["content"]) == 20


def test_image_limits_are_checked_before_credentials():
    chat = make_chat([{"role": "user", "content": [image_part(png_bytes(fmt="BMP"))]}])
    with pytest.raises(GatewayError, match="image/bmp"):
        bedrock.build_request(chat, target({}))


# --- parse_response ---------------------------------------------------------------------


def test_it_turns_a_converse_response_into_a_chat_completion():
    chat = make_chat([{"role": "user", "content": "What is in the image?"}])
    data = json.loads((DATA / "converse_text.json").read_text())
    body = bedrock.parse_response(data, chat)
    completion = ChatCompletion.model_validate(body)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content.startswith(
        "The image shows a white and red rocket"
    )
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 1582,
        "completion_tokens": 38,
        "total_tokens": 1620,
    }


def test_it_turns_tool_use_into_tool_calls():
    chat = make_chat([{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER])
    data = json.loads((DATA / "converse_tool_use.json").read_text())
    completion = ChatCompletion.model_validate(bedrock.parse_response(data, chat))
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "I'll look up the current weather in Paris for you."
    (call,) = choice.message.tool_calls
    assert call.id == "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}


def test_prompt_cache_reads_and_writes_count_as_prompt_tokens_and_are_priced():
    data = json.loads((DATA / "converse_tool_use.json").read_text())
    # Converse's inputTokens leave the cache out; totalTokens counts it.
    data["usage"] = {
        "inputTokens": 10,
        "outputTokens": 20,
        "totalTokens": 3030,
        "cacheReadInputTokens": 2000,
        "cacheWriteInputTokens": 1000,
    }
    usage = bedrock.parse_response(data, make_chat([{"role": "user", "content": "hi"}]))["usage"]
    assert usage["prompt_tokens"] == 3010 and usage["total_tokens"] == 3030
    assert usage["prompt_tokens_details"] == {"cached_tokens": 2000}
    assert (usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]) == (2000, 1000)
    lines = {
        line["kind"]: line["quantity"]
        for line in pricing.price(
            pricing.counts(usage, "chat.completions"), 0, None, None, None
        ).as_json()["lines"]
    }
    assert (lines["input"], lines["cached_input"], lines["cache_write"]) == (10, 2000, 1000)


def test_a_reply_with_only_tool_use_has_null_content():
    data = json.loads((DATA / "converse_tool_use.json").read_text())
    data["output"]["message"]["content"] = data["output"]["message"]["content"][1:]
    body = bedrock.parse_response(data, make_chat([{"role": "user", "content": "hi"}]))
    assert body["choices"][0]["message"]["content"] is None
    ChatCompletion.model_validate(body)


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("malformed_model_output", "stop"),
    ],
)
def test_it_maps_stop_reasons(reason, finish):
    data = json.loads((DATA / "converse_text.json").read_text()) | {"stopReason": reason}
    body = bedrock.parse_response(data, make_chat([{"role": "user", "content": "hi"}]))
    assert ChatCompletion.model_validate(body).choices[0].finish_reason == finish


# --- Stream -----------------------------------------------------------------------------


def feed_all(chat: Chat, data: bytes, sizes: list[int] | None = None) -> list[dict]:
    stream = bedrock.Stream(chat)
    pieces = [data] if sizes is None else _cut(data, sizes)
    out = [c for piece in pieces for c in stream.feed(piece)]
    return out + stream.close()


def _cut(data: bytes, offsets: list[int]) -> list[bytes]:
    edges = [0, *offsets, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def normalized(chunks: list[dict]) -> list[dict]:
    """Chunks without the per-stream id and timestamp, to compare two runs."""
    return [{k: v for k, v in c.items() if k not in ("id", "created")} for c in chunks]


def text_of(chunks: list[dict]) -> str:
    return "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")
    )


def test_it_streams_text_chunks_with_role_finish_and_usage():
    chat = make_chat(
        [{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}
    )
    chunks = feed_all(chat, (DATA / "converse_stream_text.bin").read_bytes())
    for c in chunks:
        ChatCompletionChunk.model_validate(c)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert text_of(chunks) == "The image shows a red rocket lifting off — with a bright plume 🚀."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 1582,
        "completion_tokens": 19,
        "total_tokens": 1601,
    }


def test_it_sends_no_usage_chunk_unless_asked():
    chat = make_chat([{"role": "user", "content": "hi"}], stream=True)
    chunks = feed_all(chat, (DATA / "converse_stream_text.bin").read_bytes())
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"] for c in chunks)


@pytest.mark.parametrize(
    "name",
    ["converse_stream_text.bin", "converse_stream_tool_use.bin", "converse_stream_exception.bin"],
)
def test_a_stream_split_at_every_byte_offset_gives_the_same_chunks(name):
    chat = make_chat(
        [{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}
    )
    data = (DATA / name).read_bytes()
    whole = normalized(feed_all(chat, data))
    for offset in range(1, len(data)):
        assert normalized(feed_all(chat, data, [offset])) == whole, offset
    assert normalized(feed_all(chat, data, list(range(1, len(data))))) == whole  # byte by byte


def test_each_event_is_emitted_as_soon_as_its_frame_is_complete():
    chat = make_chat([{"role": "user", "content": "hi"}], stream=True)
    buffer = EventStreamBuffer()
    buffer.add_data((DATA / "converse_stream_text.bin").read_bytes())
    frames = [m.prelude.total_length for m in buffer]
    data, stream, at = (DATA / "converse_stream_text.bin").read_bytes(), bedrock.Stream(chat), 0
    outputs = []
    for length in frames:
        assert stream.feed(data[at : at + length - 1]) == []  # one byte short: nothing yet
        outputs.append(stream.feed(data[at + length - 1 : at + length]))
        at += length
    assert [len(o) for o in outputs] == [1, 1, 1, 1, 1, 0, 1, 0]  # stop and metadata say nothing


def test_it_streams_tool_calls():
    chat = make_chat([{"role": "user", "content": "Weather?"}], stream=True, tools=[WEATHER])
    chunks = feed_all(chat, (DATA / "converse_stream_tool_use.bin").read_bytes())
    for c in chunks:
        ChatCompletionChunk.model_validate(c)
    calls = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or ()]
    assert calls[0] == {
        "index": 0,
        "id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert all(call["index"] == 0 for call in calls)
    arguments = "".join(call["function"]["arguments"] for call in calls)
    assert json.loads(arguments) == {"city": "Paris", "unit": "celsius"}
    assert text_of(chunks) == "I'll look up the weather in Paris."
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_an_exception_event_becomes_an_error_and_ends_the_stream():
    chat = make_chat([{"role": "user", "content": "hi"}], stream=True)
    chunks = feed_all(chat, (DATA / "converse_stream_exception.bin").read_bytes())
    assert text_of(chunks[:-1]) == "The image"
    assert chunks[-1] == {
        "error": {
            "message": "Too many tokens, please wait before trying again.",
            "type": "rate_limit_error",
            "param": None,
            "code": "throttlingException",
        }
    }


@pytest.mark.parametrize(
    "name",
    [
        "internalServerException",
        "modelStreamErrorException",
        "validationException",
        "serviceUnavailableException",
    ],
)
def test_every_stream_exception_becomes_an_error(name):
    stream = bedrock.Stream(make_chat([{"role": "user", "content": "hi"}], stream=True))
    (error,) = stream.feed(fake.exception(name, "boom"))
    assert error["error"]["code"] == name
    assert error["error"]["message"] == "boom"
    assert stream.feed(fake.event("messageStop", {"stopReason": "end_turn"})) == []
    assert stream.close() == []


def test_a_protocol_error_message_becomes_an_error():
    stream = bedrock.Stream(make_chat([{"role": "user", "content": "hi"}], stream=True))
    headers = {":message-type": "error", ":error-code": "InternalFailure", ":error-message": "oops"}
    (error,) = stream.feed(fake.frame(headers, b""))
    assert (error["error"]["code"], error["error"]["message"]) == ("InternalFailure", "oops")


def test_a_corrupted_frame_becomes_an_error():
    data = bytearray((DATA / "converse_stream_text.bin").read_bytes())
    data[200] ^= 0xFF  # inside the second frame
    chunks = feed_all(make_chat([{"role": "user", "content": "hi"}], stream=True), bytes(data))
    assert chunks[-1]["error"]["code"] == "bad_frame"
    assert len(chunks) == 2  # messageStart, then the error: nothing after it


def test_a_stream_cut_mid_frame_or_before_message_stop_ends_with_an_error():
    chat = make_chat([{"role": "user", "content": "hi"}], stream=True)
    data = (DATA / "converse_stream_text.bin").read_bytes()
    assert feed_all(chat, data[:-3])[-1]["error"]["code"] == "truncated_stream"
    frames = b"".join([fake.event("messageStart", {"role": "assistant"})])
    assert (
        feed_all(chat, frames)[-1]["error"]["message"]
        == "Upstream stream ended before messageStop."
    )


# --- parse_error ------------------------------------------------------------------------


@pytest.mark.parametrize("sample", json.loads((DATA / "errors.json").read_text()))
def test_it_maps_bedrock_errors(sample):
    error = bedrock.parse_error(sample["status"], json.dumps(sample["body"]).encode())
    assert error.status == sample["status"]
    assert error.message == next(iter(sample["body"].values()))
    assert error.code == sample["error_type"]
    assert error.body()["error"]["type"] == {
        400: "invalid_request_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
    }.get(sample["status"], "api_error")


def test_a_bad_signature_is_an_authentication_error():
    body = {
        "message": "The request signature we calculated does not match the signature you provided."
    }
    error = bedrock.parse_error(403, json.dumps(body).encode())
    assert (error.status, error.type) == (403, "authentication_error")


def test_a_too_long_input_is_a_context_length_error():
    body = {"message": "Input is too long for requested model."}
    error = bedrock.parse_error(400, json.dumps(body).encode())
    assert (error.status, error.code) == (400, "context_length_exceeded")


def test_an_exception_named_in_the_body_wins_over_the_status_guess():
    body = {
        "__type": "com.amazon.coral.service#UnrecognizedClientException",
        "message": "bad token",
    }
    error = bedrock.parse_error(403, json.dumps(body).encode())
    assert (error.code, error.message) == ("UnrecognizedClientException", "bad token")


def test_a_non_json_error_keeps_its_text():
    error = bedrock.parse_error(502, b"<html>Bad Gateway</html>")
    assert (error.status, error.message) == (502, "<html>Bad Gateway</html>")


# --- the fake Bedrock's own checks ------------------------------------------------------


def signed_request(body: dict, *, model: str = MODEL, action: str = "converse") -> Received:
    """A correctly signed request with an arbitrary body, as a client would send it."""
    chat = make_chat([{"role": "user", "content": "hi"}], model=model)
    upstream = bedrock.build_request(chat, target())
    url = upstream.url.replace("/converse", f"/{action}")
    request = AWSRequest(
        method="POST",
        url=url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    creds = Credentials(fake.ACCESS_KEY_ID, fake.SECRET_ACCESS_KEY, fake.SESSION_TOKEN)
    SigV4Auth(creds, "bedrock", fake.REGION).add_auth(request)
    return received(Upstream("POST", url, dict(request.headers.items()), request.body))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "temperature": 1},
            "Unknown parameter",
        ),
        ({"messages": [{"role": "user"}]}, "Missing required parameter"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
            "Unknown parameter",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"image": {"format": "bmp", "source": {"bytes": "Qk0="}}}],
                    }
                ]
            },
            "enum value set",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"image": {"format": "png", "source": {"bytes": "!!"}}}],
                    }
                ]
            },
            "not valid base64",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "image": {
                                    "format": "png",
                                    "source": {
                                        "bytes": base64.b64encode(png_bytes(fmt="JPEG")).decode()
                                    },
                                }
                            }
                        ],
                    }
                ]
            },
            "does not match",
        ),
        ({"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]}, "start with a user"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"text": "a"}]},
                    {"role": "user", "content": [{"text": "b"}]},
                ]
            },
            "alternate",
        ),
        ({"messages": [{"role": "user", "content": [{"text": " "}]}]}, "blank"),
        (
            {
                "messages": [{"role": "user", "content": [{"text": "hi"}]}],
                "inferenceConfig": {"maxTokens": "9"},
            },
            "Invalid type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"toolResult": {"toolUseId": "x", "content": [{"text": "r"}]}}],
                    }
                ]
            },
            "toolUseId",
        ),
    ],
)
def test_the_fake_validator_rejects_wrong_bodies(body, message):
    reply = fake.handle(signed_request(body))
    assert reply.status == 400, reply.body
    assert reply.headers["x-amzn-ErrorType"] in ("ValidationException", "SerializationException")
    assert message in json.loads(reply.body)["message"]


def test_the_fake_accepts_a_valid_body_and_answers_converse_json():
    png = base64.b64encode(png_bytes()).decode()
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": "Describe"},
                    {"image": {"format": "png", "source": {"bytes": png}}},
                ],
            }
        ],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 10},
    }
    reply = fake.handle(signed_request(body))
    assert reply.status == 200, reply.body
    data = json.loads(reply.body)
    assert data["output"]["message"]["content"] == [
        {"text": "I see 1 image(s). You said: Describe"}
    ]
    ChatCompletion.model_validate(
        bedrock.parse_response(data, make_chat([{"role": "user", "content": "x"}]))
    )


def test_the_fake_streams_frames_that_botocore_decodes():
    body = {"messages": [{"role": "user", "content": [{"text": "hello there"}]}]}
    reply = fake.handle(signed_request(body, action="converse-stream"))
    assert reply.headers["content-type"] == "application/vnd.amazon.eventstream"
    buffer = EventStreamBuffer()
    buffer.add_data(b"".join(reply.chunks))
    events = [m.headers[":event-type"] for m in buffer]
    assert events[0] == "messageStart"
    assert events[-2:] == ["messageStop", "metadata"]


def test_the_fake_refuses_unsigned_requests_and_unknown_paths():
    request = signed_request({"messages": [{"role": "user", "content": [{"text": "hi"}]}]})
    del request.headers["authorization"]
    assert fake.handle(request).status == 403
    request = signed_request({"messages": []})
    request.path = "/model/x/invoke"
    assert fake.handle(request).status == 404
