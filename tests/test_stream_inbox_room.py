"""A request with images waits for room in the log's inbox (LOG_INBOX_MAX_IMAGE_BYTES) before
it goes upstream: a stream's record is submitted only when the stream ends, so without that
wait streams could pile decoded images into the inbox past the bound."""

import asyncio

import pytest

from gateway import log as request_log
from gateway import service
from gateway.chat import parse_chat
from gateway.providers.base import Target
from tests.conftest import png_bytes
from tests.test_log_rows import record_with_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quick_log")]


def _image_chat(stream: bool) -> bytes:
    import base64
    import json

    uri = "data:image/png;base64," + base64.b64encode(png_bytes((20, 20))).decode()
    return json.dumps(
        {
            "model": "gpt-4o",
            "stream": stream,
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": uri}}]}
            ],
        }
    ).encode()


@pytest.mark.parametrize("stream", [True, False])
def test_a_request_with_images_waits_for_room_before_going_upstream(
    settings, writer, monkeypatch, held_journal, stream
):
    inside, release = held_journal
    settings.LOG_INBOX_MAX_IMAGE_BYTES = 1
    monkeypatch.setattr(request_log, "writer", writer)  # the one the request path uses
    writer.put(record_with_image(png_bytes((32, 32)), "first"))
    assert inside.wait(30)  # the journal thread holds the first record
    writer.put(record_with_image(png_bytes((33, 33)), "second"))  # over the bound now
    forwarded = []

    async def parse(headers, raw):
        return parse_chat(raw)

    async def forward(parsed, target, record):
        forwarded.append(parsed.stream)
        raise service.GatewayError(502, "no upstream in this test", code="test")

    endpoint = service.Endpoint("chat.completions", parse, forward)

    async def body(record) -> bytes:
        return _image_chat(stream)

    async def run() -> tuple[bool, int]:
        call = service.Call(
            "/v1/chat/completions", {}, body, authenticate=False, target=Target("openai")
        )
        task = asyncio.ensure_future(service.complete(call, endpoint))
        for _ in range(50):  # let it run as far as it can
            await asyncio.sleep(0)
        went_early = bool(forwarded)
        release.set()  # the journal thread writes the images, making room
        response = await asyncio.wait_for(task, 30)
        return went_early, response.status_code

    went_early, status = asyncio.run(run())
    assert went_early is False  # it waited for room
    assert forwarded == [stream] and status == 502  # then went on
    assert writer.flush(30)
