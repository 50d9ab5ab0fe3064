"""The one preflight over real sockets: each kind of provider limit is a 400 naming the image
and the limit, logged as a failed request, and nothing reaches the upstream.

Limits from the providers' pages, as gateway/providers/*_vision.py cite them (read
2026-11-26): Bedrock's Converse API takes 20 images of at most 3.75 MB; Anthropic 8000 px a
side, 2000 px past 20 images; Gemini inline data up to Iris's 20 MB of base64 (15,000,000
bytes of images); OpenAI's Responses images PNG, JPEG, WEBP or GIF. No provider documents a
pixel-count limit (Limits.max_pixels), so none is tested here.
"""

import base64
import io
import os

import httpx
import pytest
from PIL import Image as PILImage

from tests.conftest import png_bytes
from tests.fakes import openai as fake_openai_handler
from tests.fakes.server import FakeServer

CLAUDE_ON_BEDROCK = "anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture(scope="module")
def upstream():
    """Where every request would go: nothing may arrive."""
    with FakeServer(fake_openai_handler.handle) as server:
        yield server


def noise_png(size: tuple[int, int]) -> bytes:
    """An image that does not compress: its bytes are about 3 × its pixels."""
    img = PILImage.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=0)
    return out.getvalue()


def uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def chat(model: str, *urls: str) -> dict:
    parts = [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    content = [{"type": "text", "text": "Describe."}, *parts]
    return {"model": model, "messages": [{"role": "user", "content": content}]}


def send(iris, upstream, provider: str, body: dict, path: str = "chat/completions"):
    before = len(upstream.received)
    headers = {
        "x-portkey-provider": provider,
        "x-portkey-custom-host": f"{upstream.url}/v1",
        "authorization": "Bearer sk-not-used",
        "x-portkey-aws-access-key-id": "AKIDEXAMPLE",
        "x-portkey-aws-secret-access-key": "secret-example-key",
        "x-portkey-aws-region": "us-east-1",
    }
    response = httpx.post(
        f"{iris.url}/v1/{path}", json=body, headers=iris.headers(**headers), timeout=60
    )
    assert len(upstream.received) == before, "the upstream was called"
    return response


def refused(iris, response: httpx.Response, code: str, param: str) -> str:
    """The 400's message, after checking its shape and its log record."""
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, param)
    log = iris.log(response.headers["x-iris-request-id"])
    assert (log["status_code"], log["error_type"]) == (400, "invalid_request_error")
    assert log["error_message"] == error["message"] and log["upstream_url"] == ""
    return error["message"]


def test_too_many_images_names_the_first_past_the_limit(iris, upstream):
    tiny = uri(png_bytes())
    response = send(iris, upstream, "bedrock", chat(CLAUDE_ON_BEDROCK, *[tiny] * 21))
    message = refused(iris, response, "too_many_images", "messages.0.content.21.image_url")
    assert message == (
        "messages[0].content[21]: the request has 21 images; at most 20 are taken "
        "(bedrock limit: max_images=20)."
    )


def test_an_image_over_the_byte_limit(iris, upstream):
    big = noise_png((1200, 1200))  # 4.3 MB, over Bedrock's 3.75 MB (3,932,160 bytes)
    response = send(iris, upstream, "bedrock", chat(CLAUDE_ON_BEDROCK, uri(png_bytes()), uri(big)))
    message = refused(iris, response, "image_too_large", "messages.0.content.2.image_url")
    assert message == (
        f"messages[0].content[2]: the image is {len(big)} bytes; at most 3932160 are taken "
        "(bedrock limit: max_image_bytes=3932160)."
    )


def test_an_image_over_the_side_limit(iris, upstream):
    wide = uri(png_bytes(size=(8001, 10), mode="L"))
    response = send(iris, upstream, "anthropic", chat("claude-sonnet-4-5", wide))
    message = refused(iris, response, "image_too_large", "messages.0.content.1.image_url")
    assert message == (
        "messages[0].content[1]: the image is 8001×10 px; at most 8000 px a side "
        "(anthropic limit: max_side=8000)."
    )


def test_past_20_images_anthropic_takes_2000_px_a_side(iris, upstream):
    tiny, wide = uri(png_bytes()), uri(png_bytes(size=(2001, 10), mode="L"))
    body = chat("claude-sonnet-4-5", *[tiny] * 20, wide)  # 21 images
    response = send(iris, upstream, "anthropic", body)
    message = refused(iris, response, "image_too_large", "messages.0.content.21.image_url")
    assert "at most 2000 px a side (anthropic limit: max_side=2000)" in message
    # 20 images: the same picture passes the preflight (and reaches the fake: not checked).


def test_a_format_the_provider_does_not_take(iris, upstream):
    # The Responses API goes to OpenAI as sent (no conversion): a BMP would be refused there.
    bmp = png_bytes(size=(20, 20), fmt="BMP")
    body = {
        "model": "gpt-4o",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Describe."},
                    {"type": "input_image", "image_url": uri(bmp, "image/bmp")},
                ],
            }
        ],
    }
    response = send(iris, upstream, "openai", body, "responses")
    message = refused(iris, response, "unsupported_image_format", "input.0.content.1.image_url")
    assert message == (
        "input[0].content[1]: the image is image/bmp; taken are image/gif, image/jpeg, "
        "image/png, image/webp (openai)."
    )


def test_the_request_over_its_image_bytes(iris, upstream):
    photo = noise_png((1600, 1600))  # 7.7 MB; twice is over Gemini's 15,000,000 bytes
    response = send(iris, upstream, "google", chat("gemini-2.5-flash", uri(photo), uri(photo)))
    message = refused(iris, response, "request_too_large", "messages")
    assert message == (
        f"The images total {2 * len(photo)} bytes; at most 15000000 "
        "(google limit: max_request_bytes=15000000)."
    )


def test_a_translated_responses_request_names_its_input_item(iris, upstream):
    wide = uri(png_bytes(size=(8001, 10), mode="L"))
    body = {
        "model": "claude-sonnet-4-5",
        "instructions": "Be terse.",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Describe."},
                    {"type": "input_image", "image_url": wide},
                ],
            }
        ],
    }
    response = send(iris, upstream, "anthropic", body, "responses")
    message = refused(iris, response, "image_too_large", "input.0.content.1.image_url")
    assert message.startswith("input[0].content[1]: the image is 8001×10 px")


def test_several_problems_are_counted_in_the_message(iris, upstream):
    wide = uri(png_bytes(size=(8001, 10), mode="L"))
    response = send(iris, upstream, "anthropic", chat("claude-sonnet-4-5", wide, wide))
    message = refused(iris, response, "image_too_large", "messages.0.content.1.image_url")
    assert message.endswith("1 more problem(s): POST /v1/estimate lists them all.")
