"""proxy.relay with an upstream whose event outgrows GATEWAY_MAX_SSE_EVENT_BYTES: the stream
ends in an error event of the API's own shape (typed for the Images and Responses APIs, as
chat has it for chat), and the record says why."""

import orjson
import pytest

from gateway import imageproxy, proxy
from gateway.imagejob import GENERATIONS, ImageJob
from gateway.log.record import Record
from gateway.providers import openai, openai_images


class _Content:
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def iter_any(self):
        for piece in self.pieces:
            yield piece


class _Response:
    """What relay reads of an aiohttp response: its content, and release()."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.content, self.released = _Content(pieces), False

    def release(self) -> None:
        self.released = True


@pytest.fixture
def submitted(monkeypatch) -> list[Record]:
    records: list[Record] = []
    monkeypatch.setattr(proxy.request_log, "submit", records.append)
    return records


async def relayed(stream, record: Record, pieces: list[bytes], **options) -> list[bytes]:
    response = _Response(pieces)
    out = [piece async for piece in proxy.relay(response, stream, record, [], **options)]
    assert response.released
    return out


async def test_an_image_stream_too_big_to_relay_ends_in_a_typed_error_event(submitted):
    job = ImageJob(GENERATIONS, {"model": "gpt-image-2", "prompt": "p", "stream": True})
    record = Record(path="/v1/images/generations", request_headers={}, endpoint=GENERATIONS)
    huge = b"event: image_generation.partial_image\ndata: " + b"A" * 500
    out = await relayed(
        openai_images.Stream(job, max_event_bytes=100),
        record,
        [huge],
        done=b"",
        error_event=imageproxy._error_event,
    )
    head, _, data = out[-1].partition(b"\ndata: ")
    assert head == b"event: error"
    event = orjson.loads(data)
    assert event["type"] == "error" and event["error"]["code"] == "upstream_event_too_large"
    assert submitted == [record] and record.error_type == "api_error"
    assert "GATEWAY_MAX_SSE_EVENT_BYTES" in record.error_message


async def test_a_chat_stream_too_big_to_relay_ends_in_chats_error_shape(submitted):
    record = Record(path="/v1/chat/completions", request_headers={})
    first = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    first += b'"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
    out = await relayed(openai.Stream(None, max_event_bytes=200), record, [first, b"x" * 500])
    assert out[0].startswith(b"data: ") and b"Hi" in out[0]
    error = orjson.loads(out[-1].removeprefix(b"data: "))
    assert error["error"]["code"] == "upstream_event_too_large" and b"[DONE]" not in out[-1]
    assert record.response_body["choices"][0]["message"]["content"] == "Hi"  # what it had
    assert submitted == [record]
