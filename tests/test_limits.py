"""Resource limits that keep one request from exhausting memory (issue 12, observation 8):
URL fetches (once per URL, a per-request byte budget, a global concurrency cap), the image
count, conversion past the pixel limit, inline bytes, the SSE event buffer, thumbnails."""

import base64
import functools
import io
import os
import struct
import threading
import time
import zlib

import orjson
import pytest
from PIL import Image as PILImage

from gateway import fetching, http, imageprep, providers
from gateway.chat import parse_chat
from gateway.errors import GatewayError
from gateway.images import Image
from gateway.providers import anthropic, bedrock, gemini, openai
from gateway.providers.base import EventTooLarge, SSEDecoder, Target
from logs_ui import thumbnails
from tests.conftest import png_bytes
from tests.fakes.big_images import huge_png, huge_tiff
from tests.fakes.server import FakeServer, Received, Reply


@pytest.fixture(autouse=True)
async def _close_sessions():
    yield
    await http.close_sessions()  # each test has its own event loop


class ImageHost:
    """Serves /<n>.png (a PNG of n×n pixels) and counts GETs and how many were in flight."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay, self.gets, self.in_flight, self.most = delay, 0, 0, 0
        self.lock = threading.Lock()

    def handle(self, request: Received) -> Reply:
        with self.lock:
            self.gets += 1
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
        side = int(request.path.strip("/").split(".")[0].split("-")[0])
        return Reply(200, noise_png(side), {"content-type": "image/png"})


@functools.cache
def noise_png(side: int) -> bytes:
    """A PNG of random pixels: about 3 bytes a pixel, whatever the compression."""
    out = io.BytesIO()
    PILImage.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def image_host():
    host = ImageHost()
    with FakeServer(host.handle) as server:
        host.url = server.url
        yield host


def url_images(*urls: str) -> list[Image]:
    return [Image(message=0, part=n, origin="url", url=url) for n, url in enumerate(urls)]


def chat_with(*urls: str, model: str = "m"):
    parts = [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    body = {"model": model, "messages": [{"role": "user", "content": parts}]}
    return parse_chat(orjson.dumps(body))


async def test_a_url_named_250_times_is_fetched_once_into_one_bytes_object(image_host):
    images = url_images(*[f"{image_host.url}/40.png"] * 250, f"{image_host.url}/8.png")
    await fetching.fetch_images(images)
    assert image_host.gets == 2
    assert all(img.data is images[0].data for img in images[:250])
    assert {img.sha256 for img in images[:250]} == {images[0].sha256}
    assert (images[249].width, images[250].width) == (40, 8)


async def test_a_request_fetches_within_its_byte_budget(image_host, settings):
    one = len(noise_png(300))
    settings.GATEWAY_MAX_FETCH_BYTES_PER_REQUEST = 2 * one + one // 2
    images = url_images(*(f"{image_host.url}/300-{n}.png" for n in range(3)))
    await fetching.fetch_images(images)
    failed = [img for img in images if img.error]
    assert len(failed) == 1 and failed[0].data is None
    assert "GATEWAY_MAX_FETCH_BYTES_PER_REQUEST" in failed[0].error
    # Each request has its own budget: the same fetches in the next one succeed.
    await fetching.fetch_images(again := url_images(f"{image_host.url}/300-9.png"))
    assert not again[0].error


async def test_fetches_in_flight_are_capped_per_process(settings):
    settings.GATEWAY_MAX_CONCURRENT_FETCHES = 2
    host = ImageHost(delay=0.2)
    with FakeServer(host.handle) as server:
        images = url_images(*(f"{server.url}/4-{n}.png" for n in range(6)))
        await fetching.fetch_images(images)
    assert not any(img.error for img in images)
    assert (host.gets, host.most) == (6, 2)


async def test_a_repeated_url_is_inlined_once_and_refused_past_the_body_cap(image_host, settings):
    settings.GATEWAY_MAX_BODY_BYTES = 200_000
    few = chat_with(*[f"{image_host.url}/100.png"] * 3)
    await imageprep.prepare_images(few, gemini, Target("google"))  # Gemini takes bytes only
    assert image_host.gets == 1 and few.images[2].data is few.images[0].data
    many = chat_with(*[f"{image_host.url}/200.png"] * 50)
    with pytest.raises(GatewayError) as caught:
        await imageprep.prepare_images(many, gemini, Target("google"))
    assert image_host.gets == 2
    assert caught.value.status == 400 and caught.value.code == "images_too_large"
    assert "GATEWAY_MAX_BODY_BYTES" in caught.value.message


def test_more_images_than_the_limit_is_a_400_at_parse_time():
    pixel = "data:image/png;base64," + base64.b64encode(png_bytes((1, 1))).decode()
    parts = [{"type": "image_url", "image_url": {"url": pixel}}] * 4
    raw = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": parts}] * 2})
    assert len(parse_chat(raw, max_images=8).images) == 8
    with pytest.raises(GatewayError) as caught:
        parse_chat(raw, max_images=7)
    error = caught.value.body()["error"]
    assert (
        error["code"] == "too_many_images" and "GATEWAY_MAX_IMAGES_PER_REQUEST" in error["message"]
    )


def data_uri_chat(data: bytes, mime: str, model: str = "claude-sonnet-4-5"):
    uri = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return chat_with(uri, model=model)


@pytest.fixture
def no_conversion(monkeypatch):
    def convert(*args, **kwargs):
        raise AssertionError("converted")

    monkeypatch.setattr(imageprep, "to_png", convert)


async def test_a_huge_tiff_for_anthropic_is_refused_before_converting(no_conversion):
    chat = data_uri_chat(huge_tiff(13_000, 13_000), "image/tiff")
    with pytest.raises(GatewayError) as caught:
        await imageprep.prepare_images(chat, anthropic, Target("anthropic"))
    assert (caught.value.status, caught.value.code) == (400, "image_too_large")
    assert "13000×13000 px, over anthropic's 8000×8000 px limit" in caught.value.message


async def test_conversion_past_the_pixel_limit_is_refused_before_decoding(no_conversion, settings):
    settings.GATEWAY_MAX_IMAGE_PIXELS = 1_000_000
    chat = data_uri_chat(huge_tiff(2000, 1000), "image/tiff", model="gemini-2.5-flash")
    with pytest.raises(GatewayError) as caught:
        await imageprep.prepare_images(chat, gemini, Target("google"))
    assert (caught.value.status, caught.value.code) == (400, "image_too_large")
    assert "2000×1000 px, more than the 1,000,000 pixels" in caught.value.message


async def test_one_image_named_twice_is_converted_once(monkeypatch):
    tiff = png_bytes((30, 20), fmt="TIFF")
    host = FakeServer(lambda request: Reply(200, tiff, {"content-type": "image/tiff"}))
    converted = []
    monkeypatch.setattr(imageprep, "to_png", lambda data, **kw: converted.append(data) or b"png")
    with host:
        chat = chat_with(f"{host.url}/a.tiff", f"{host.url}/a.tiff", model="gemini-2.5-flash")
        await imageprep.prepare_images(chat, gemini, Target("google"))
    assert len(converted) == 1 and chat.images[1].converted is chat.images[0].converted


def test_a_huge_png_gets_no_thumbnail_and_is_never_decoded(monkeypatch):
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", _no_decoding)
    with pytest.raises(thumbnails.ThumbnailError, match="no preview: the image is 13000×13000"):
        thumbnails.render(huge_png(13_000, 13_000), 96)


def test_a_big_jpeg_thumbnail_decodes_at_a_reduced_scale(settings):
    settings.GATEWAY_MAX_IMAGE_PIXELS = 200_000  # 1600×1200 is 1.9 M; its 1/8 scale 30 k
    thumb = thumbnails.render(png_bytes((1600, 1200), fmt="JPEG"), 96)
    assert thumb.startswith(b"RIFF")


def _no_decoding(self):
    raise AssertionError("the pixels were decoded")


def test_an_sse_line_without_end_is_cut_at_the_limit():
    decoder = SSEDecoder(max_event_bytes=1000)
    assert decoder.feed(b"data: " + b"x" * 500) == []
    with pytest.raises(EventTooLarge) as caught:
        decoder.feed(b"x" * 600)
    assert caught.value.limit == 1000


def test_an_sse_event_of_many_lines_is_cut_at_the_limit():
    decoder = SSEDecoder(max_event_bytes=1000)
    with pytest.raises(EventTooLarge):
        for _ in range(20):
            decoder.feed(b"data: " + b"y" * 90 + b"\n")
    # Events under the limit pass, however many.
    decoder = SSEDecoder(max_event_bytes=1000)
    events = [e for _ in range(50) for e in decoder.feed(b"data: " + b"z" * 900 + b"\n\n")]
    assert len(events) == 50


@pytest.mark.parametrize("module", [openai, anthropic, gemini, providers.get("azure-openai")])
def test_every_sse_provider_stream_takes_the_limit(module):
    stream = module.Stream(chat_with("https://x/a.png"), max_event_bytes=100)
    with pytest.raises(EventTooLarge):
        stream.feed(b"data: " + b"{" * 200)


def test_bedrock_stream_takes_the_limit():
    stream = bedrock.Stream(chat_with("https://x/a.png"), max_event_bytes=100)
    prelude = struct.pack(">II", 10_000, 0)  # a frame announcing 10 kB, arriving slowly
    prelude += struct.pack(">I", zlib.crc32(prelude))
    assert stream.feed(prelude + bytes(50)) == []
    with pytest.raises(EventTooLarge):
        stream.feed(bytes(50))


async def test_url_snapshots_held_at_once_are_bounded_per_process(
    image_host, settings, monkeypatch
):
    """Answers do not wait for the log's URL snapshots: without a process-wide bound a burst
    naming big URLs fetched them all at once (bench/run.py: 927 MB). Past it, the image says
    why and the refusal is counted; bytes go back once the writer has the record."""
    from gateway import log as request_log
    from gateway.log.record import Record

    one = len(noise_png(300))
    settings.GATEWAY_SNAPSHOT_MAX_BYTES = one + one // 2
    budget = request_log._snapshot_budget
    refused_before = budget.refused
    # One snapshot holds its image's bytes...
    first = url_images(f"{image_host.url}/300-a.png")
    drawn = await fetching.fetch_images(first, shared=budget)
    assert drawn == one and budget.used == one and not first[0].error
    # ...so the next one does not fit, and says so.
    second = url_images(f"{image_host.url}/300-b.png")
    assert await fetching.fetch_images(second, shared=budget) == 0
    assert "GATEWAY_SNAPSHOT_MAX_BYTES" in second[0].error and second[0].data is None
    assert budget.refused == refused_before + 1 and budget.used == one
    budget.give_back(drawn)
    # Through the log's own path: the bytes go back once the record is handed over.
    record = Record.begin("/v1/chat/completions", {})
    record.chat = chat_with(f"{image_host.url}/300-c.png")
    handed = []
    monkeypatch.setattr(request_log.writer, "put", lambda r, **kw: handed.append(budget.used))
    await request_log._snapshot_then_put(record, record.chat.images)
    assert handed == [one]  # held while fetched, until the writer took the record
    assert budget.used == 0 and record.chat.images[0].data is not None
    assert request_log.snapshot_status() == {
        "bytes_in_memory": 0,
        "limit": one + one // 2,
        "not_kept": budget.refused,
    }


async def test_a_snapshot_that_raises_gives_its_bytes_back(image_host, settings, monkeypatch):
    """A bug or a cancellation mid-snapshot must not shrink the process's budget for good."""
    from gateway import log as request_log

    one = len(noise_png(300))
    settings.GATEWAY_SNAPSHOT_MAX_BYTES = 10 * one
    budget = request_log._snapshot_budget
    real = fetching._fetch_shared

    async def fetch_then_fail(same, budget_, *rest):
        await real(same, budget_, *rest)  # the bytes are drawn...
        raise RuntimeError("a bug after the fetch")  # ...then something breaks

    monkeypatch.setattr(fetching, "_fetch_shared", fetch_then_fail)
    with pytest.raises(RuntimeError):
        await fetching.fetch_images(url_images(f"{image_host.url}/300-x.png"), shared=budget)
    assert budget.used == 0
