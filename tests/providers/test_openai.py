import base64
import json

import pytest
from openai.types.chat import ChatCompletionChunk

from gateway.chat import parse_chat
from gateway.providers import openai
from gateway.providers.base import Target
from tests.conftest import png_bytes
from tests.fakes.openai import completion, stream_chunks


def chat_with(content, **fields):
    return parse_chat(
        json.dumps(
            {"model": "gpt-4o", "messages": [{"role": "user", "content": content}], **fields}
        ).encode()
    )


# --- build_request ------------------------------------------------------------------------


def test_it_forwards_the_clients_bytes_untouched():
    chat = chat_with("hi", temperature=0.3)
    upstream = openai.build_request(chat, Target("openai", api_key="sk-1"))
    assert upstream.url == "https://api.openai.com/v1/chat/completions"
    assert upstream.content is chat.raw
    assert upstream.headers["authorization"] == "Bearer sk-1"


def test_a_custom_host_replaces_the_base_url():
    upstream = openai.build_request(
        chat_with("hi"), Target("openai", base_url="http://vllm:8000/v1/")
    )
    assert upstream.url == "http://vllm:8000/v1/chat/completions"
    assert "authorization" not in upstream.headers  # no key given, none invented


def test_it_sends_a_converted_image_in_place_of_a_refused_format():
    bmp = png_bytes((3, 3), fmt="BMP")
    chat = chat_with(
        [
            {
                "type": "image_url",
                "image_url": {
                    "url": "data:image/bmp;base64," + base64.b64encode(bmp).decode(),
                    "detail": "low",
                },
            }
        ]
    )
    [img] = chat.images
    img.converted = (png_bytes((3, 3)), "image/png")
    sent = json.loads(openai.build_request(chat, Target("openai")).content)
    part = sent["messages"][0]["content"][0]["image_url"]
    assert part["detail"] == "low"
    assert base64.b64decode(part["url"].removeprefix("data:image/png;base64,")) == img.payload


# --- parse_response and Stream ----------------------------------------------------------------


def test_it_returns_openai_responses_as_they_are():
    data = completion("gpt-4o", "hello")
    assert openai.parse_response(data, chat_with("x")) is data


RECORDED = b"".join(stream_chunks("gpt-4o", "one two three", include_usage=True))


def test_the_stream_yields_the_upstream_chunks_whatever_the_split():
    expected = [c for c in openai.Stream(chat_with("x")).feed(RECORDED)]
    assert len(expected) == 6  # role, three words, finish, usage; [DONE] dropped
    for chunk in expected:
        ChatCompletionChunk.model_validate(chunk)
    for cut in range(len(RECORDED) + 1):
        stream = openai.Stream(chat_with("x"))
        assert stream.feed(RECORDED[:cut]) + stream.feed(RECORDED[cut:]) + stream.close() == (
            expected
        )


def test_a_malformed_event_becomes_an_error_chunk():
    [chunk] = openai.Stream(chat_with("x")).feed(b"data: {oops\n\n")
    assert chunk["error"]["type"] == "api_error" and "{oops" in chunk["error"]["message"]


def test_a_stream_cut_before_done_ends_with_an_error_chunk():
    stream = openai.Stream(chat_with("x"))
    cut = RECORDED[: RECORDED.index(b"data: [DONE]")]
    chunks = stream.feed(cut[: len(cut) // 2]) + stream.close()
    assert chunks[-1]["error"]["code"] == "bad_upstream_stream"
    assert all("choices" in c for c in chunks[:-1])


@pytest.mark.parametrize("data", [b"123", b'"text"', b"[1]", b"null"])
def test_an_event_that_is_not_an_object_becomes_an_error_chunk(data):
    [chunk] = openai.Stream(chat_with("x")).feed(b"data: " + data + b"\n\n")
    assert chunk["error"]["code"] == "bad_upstream_stream"


# --- parse_error ----------------------------------------------------------------------------


def test_it_keeps_the_upstream_error_fields():
    body = json.dumps(
        {
            "error": {
                "message": "Too many",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        }
    ).encode()
    error = openai.parse_error(429, body)
    assert (error.status, error.message, error.type, error.code) == (
        429,
        "Too many",
        "requests",
        "rate_limit_exceeded",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": "model not found"}', "model not found"),  # Ollama's shape
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        (b"", "Upstream returned HTTP 503."),
    ],
)
def test_it_explains_non_openai_error_bodies(body, message):
    error = openai.parse_error(503, body)
    assert (error.status, error.message) == (503, message)


def test_it_inlines_a_url_image_that_the_core_fetched():
    # The core fetches a private-but-allowed URL for a public upstream, which could not reach it.
    chat = chat_with([{"type": "image_url", "image_url": {"url": "http://10.0.0.5/cat.png"}}])
    [img] = chat.images
    img.describe(png_bytes((2, 2)))
    sent = json.loads(openai.build_request(chat, Target("openai")).content)
    url = sent["messages"][0]["content"][0]["image_url"]["url"]
    assert base64.b64decode(url.removeprefix("data:image/png;base64,")) == img.data
