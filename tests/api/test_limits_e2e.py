"""One small request must not exhaust memory (issue 12, observation 8), over real sockets:
a real Iris, a real image host and a real misbehaving upstream. Each test measures the
server's peak RSS growth (VmHWM, reset through /proc/<pid>/clear_refs) during the request
and holds it to the issue's bound: 2× the request's own bytes plus 100 MB."""

import base64
import functools
import io
import json
import os
import re
import threading
import zlib
from pathlib import Path

import httpx
import pytest
from PIL import Image as PILImage

from tests.conftest import IrisServer, png_bytes
from tests.fakes.big_images import huge_png, huge_tiff
from tests.fakes.server import FakeServer, Received, Reply

MB = 1 << 20
SSE_LIMIT = MB  # GATEWAY_MAX_SSE_EVENT_BYTES of the server below
PASSWORD = "limits-pw-1"


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    server = IrisServer(
        tmp_path_factory.mktemp("limits"),
        GATEWAY_MAX_SSE_EVENT_BYTES=str(SSE_LIMIT),
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
    ).start()
    yield server
    server.stop()


@functools.cache
def photo() -> bytes:
    """About 4.3 MB of PNG (random pixels do not compress)."""
    out = io.BytesIO()
    PILImage.frombytes("RGB", (1200, 1200), os.urandom(1200 * 1200 * 3)).save(out, "PNG")
    return out.getvalue()


class ImageHost:
    def __init__(self) -> None:
        self.gets = 0
        self.lock = threading.Lock()

    def handle(self, request: Received) -> Reply:
        with self.lock:
            self.gets += 1
        return Reply(200, photo(), {"content-type": "image/png"})


@pytest.fixture
def image_host():
    host = ImageHost()
    with FakeServer(host.handle) as server:
        host.url = f"{server.url}/photo.png"
        yield host


def gzip_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip format
    block = bytes(4 * MB)
    return b"".join(compressor.compress(block) for _ in range(size // len(block))) + (
        compressor.flush()
    )


def misbehave(request: Received) -> Reply:
    """A custom host answering by the model's name: 200 MB of JSON, a gzip bomb, an SSE line
    that never ends."""
    model = json.loads(request.body)["model"]
    if model == "huge-json":
        pad = (b"a" * MB for _ in range(200))
        return Reply(200, chunks=[b'{"id": "x", "pad": "', *pad, b'"}'])
    if model == "gzip-bomb":
        headers = {"content-type": "application/json", "content-encoding": "gzip"}
        return Reply(200, _bomb(), headers)
    if model == "endless-line":
        line = (b"x" * 64 * 1024 for _ in range(1000))  # 64 MB, no line break
        return Reply(200, headers={"content-type": "text/event-stream"}, chunks=[b"data: ", *line])
    return Reply(404)


@functools.cache
def _bomb() -> bytes:
    return gzip_bomb(1024 * MB)  # about 1 MB, a gigabyte once inflated


@pytest.fixture(scope="module")
def upstream():
    with FakeServer(misbehave) as server:
        yield server


def status_of(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", text)[1]) * 1024


class Peak:
    """Peak RSS growth of a process over a with-block."""

    def __init__(self, iris: IrisServer) -> None:
        self.pid = iris.process.pid

    def __enter__(self) -> "Peak":
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        self.base = status_of(self.pid, "VmRSS")
        return self

    def __exit__(self, *exc) -> None:
        self.growth = status_of(self.pid, "VmHWM") - self.base
        print(f"peak RSS growth {self.growth / MB:.0f} MB")  # shown with pytest -s

    def within(self, request_bytes: int) -> bool:
        return self.growth < 2 * request_bytes + 100 * MB


def chat(iris, provider: str, host: str, model: str, *parts: dict, **body) -> httpx.Response:
    content = [{"type": "text", "text": "What is this?"}, *parts]
    payload = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": content}], **body}
    ).encode()
    headers = iris.headers(
        **{
            "x-portkey-provider": provider,
            "x-portkey-custom-host": host,
            "authorization": "Bearer sk-test",
            "content-type": "application/json",
        }
    )
    response = httpx.post(
        f"{iris.url}/v1/chat/completions", headers=headers, content=payload, timeout=120
    )
    response.request_bytes = len(payload)
    return response


def image(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_250_copies_of_one_url_are_fetched_once(iris, image_host):
    # Gemini takes bytes only: Iris fetches the URL once, then finds that 250 base64 copies
    # would make an upstream body past GATEWAY_MAX_BODY_BYTES.
    with Peak(iris) as peak:
        response = chat(
            iris,
            "google",
            "http://127.0.0.1:9/",
            "gemini-2.5-flash",
            *[image(image_host.url)] * 250,
        )
        error = error_of(response, 400)
    assert image_host.gets == 1
    assert error["code"] == "images_too_large" and "GATEWAY_MAX_BODY_BYTES" in error["message"]
    assert response.request_bytes < 25_000 and peak.within(response.request_bytes), peak.growth


def test_250_copies_of_one_url_are_snapshotted_once_for_the_log(iris, image_host, fake_openai):
    with Peak(iris) as peak:
        response = chat(
            iris, "openai", f"{fake_openai.url}/v1", "gpt-4o", *[image(image_host.url)] * 250
        )
        assert response.status_code == 200, response.text
        log = iris.log(response.headers["x-iris-request-id"])
    assert image_host.gets == 1
    shas = {img["sha256"] for img in log["images"]}
    assert len(log["images"]) == 250 and len(shas) == 1 and None not in shas
    assert peak.within(response.request_bytes), peak.growth


def login(iris) -> httpx.Client:
    if not getattr(iris, "admin", False):
        iris.manage(
            "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"
        )
        iris.admin = True
    client = httpx.Client(base_url=iris.url, timeout=60)
    page = client.get("/logs/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    form = {"username": "admin", "password": PASSWORD, "csrfmiddlewaretoken": token}
    assert client.post("/logs/login/", data=form).status_code == 302
    return client


def test_a_huge_png_is_forwarded_and_its_thumbnail_is_a_placeholder(iris, fake_openai):
    huge = huge_png(13_000, 13_000)
    with Peak(iris) as peak:
        response = chat(
            iris, "openai", f"{fake_openai.url}/v1", "gpt-4o", image(data_uri(huge, "image/png"))
        )
        assert response.status_code == 200, response.text  # proxying needs no decoding
        log = iris.log(response.headers["x-iris-request-id"])
    assert peak.within(response.request_bytes), peak.growth
    stored = log["images"][0]
    assert (stored["width"], stored["height"]) == (13_000, 13_000)
    client = login(iris)
    with Peak(iris) as peak:
        thumb = client.get(f"/logs/images/{stored['sha256']}/thumb-96.webp")
        page = client.get(f"/logs/{log['id']}/")
    client.close()
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert "GATEWAY_MAX_IMAGE_PIXELS" in thumb.headers["x-iris-thumbnail-error"]
    assert "No preview: 13000×13000 px" in page.text
    assert peak.within(0), peak.growth


def test_a_huge_tiff_for_anthropic_is_refused_before_any_decoding(iris):
    tiff = huge_tiff(13_000, 13_000)
    with Peak(iris) as peak:
        response = chat(
            iris,
            "anthropic",
            "http://127.0.0.1:9/v1",
            "claude-sonnet-4-5",
            image(data_uri(tiff, "image/tiff")),
        )
    error = error_of(response, 400)
    assert error["code"] == "image_too_large" and "8000×8000" in error["message"]
    assert peak.within(response.request_bytes), peak.growth


def test_an_upstream_answering_200_mb_of_json_is_a_502(iris, upstream):
    with Peak(iris) as peak:
        response = chat(iris, "openai", upstream.url, "huge-json")
    error = error_of(response, 502)
    assert error["code"] == "upstream_response_too_large"
    assert "GATEWAY_MAX_RESPONSE_BYTES" in error["message"]
    assert peak.within(response.request_bytes), peak.growth


def test_a_gzip_bomb_from_upstream_stops_at_the_cap(iris, upstream):
    _bomb()  # compressed before measuring
    with Peak(iris) as peak:
        response = chat(iris, "openai", upstream.url, "gzip-bomb")
    assert error_of(response, 502)["code"] == "upstream_response_too_large"
    assert peak.within(response.request_bytes), peak.growth


def test_an_sse_line_that_never_ends_ends_the_stream_with_an_error_event(iris, upstream):
    with Peak(iris) as peak:
        response = chat(iris, "openai", upstream.url, "endless-line", stream=True)
    assert response.status_code == 200
    events = [line for line in response.text.split("\n\n") if line]
    error = json.loads(events[-1].removeprefix("data: "))["error"]
    assert error["code"] == "upstream_event_too_large" and str(SSE_LIMIT) in error["message"]
    assert peak.within(response.request_bytes), peak.growth
    log = iris.log(response.headers["x-iris-request-id"])
    assert "GATEWAY_MAX_SSE_EVENT_BYTES" in log["error_message"]


def test_a_truncated_png_is_forwarded_and_flagged(iris, fake_openai):
    cut = png_bytes((64, 48))[:60]
    response = chat(
        iris, "openai", f"{fake_openai.url}/v1", "gpt-4o", image(data_uri(cut, "image/png"))
    )
    assert response.status_code == 200, response.text
    assert "I see 1 image(s)" in response.json()["choices"][0]["message"]["content"]
    log = iris.log(response.headers["x-iris-request-id"])
    assert "the PNG has no IEND chunk" in (log["images"][0]["error"] or "")
