"""How long Iris took to fetch a URL image is logged with the image: in the logs API
(`fetch_ms`) and on the request page. A real Iris fetches from a slow image host (a real
HTTP server that waits before answering) to inline it for a fake Gemini."""

import openai
import pytest

from tests.api.test_gemini_e2e import client_for, vision
from tests.conftest import SHARED_IMAGES
from tests.fakes.server import FakeServer, Reply

ROCKET = (SHARED_IMAGES / "rocket.jpg").read_bytes()


@pytest.fixture
def slow_host():
    with FakeServer(
        lambda received: Reply(200, ROCKET, {"content-type": "image/jpeg"}, delay=0.3)
    ) as server:
        yield server


def test_a_fetched_image_carries_its_fetch_time(iris, fake_gemini, slow_host):
    url = f"{slow_host.url}/rocket.jpg"
    client = client_for(iris, fake_gemini)
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash", messages=vision(url)
    )
    assert raw.parse().choices[0].message.content.startswith("I see 1 image(s).")
    [image] = iris.log(raw.headers["x-iris-request-id"])["images"]
    assert image["origin"] == "url" and image["mime"] == "image/jpeg"
    assert 300 <= image["fetch_ms"] < 30_000  # the host's 0.3 s wait, at least


def test_a_failed_fetch_carries_its_time_too(iris, fake_gemini):
    with FakeServer(lambda received: Reply(404, b"gone", delay=0.2)) as host:
        client = client_for(iris, fake_gemini)
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(
                model="gemini-2.5-flash", messages=vision(f"{host.url}/missing.jpg")
            )
    assert "could not use the image URL" in str(refused.value)
    [image] = iris.log(refused.value.response.headers["x-iris-request-id"])["images"]
    assert "HTTP 404" in image["error"] and image["fetch_ms"] >= 200
