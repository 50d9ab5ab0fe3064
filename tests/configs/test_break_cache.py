"""The response cache and x-portkey-config off the chat path, pushed by a hostile user: a
max_age no backend can store, images that differ only in their EXIF, a cache config sent to
the Responses, Images and estimate endpoints. Tests whose docstring starts "Was a bug"
reproduced one before it was fixed."""

import base64
import io
import json

import httpx
import pytest
from PIL import Image as PILImage

from tests.configs.cache_client import (
    cache_config,
    image_body,
    logged_status,
    post,
    status,
    unique_text,
    upstream_calls,
)
from tests.configs.routing import wait_for
from tests.conftest import IrisServer, png_bytes
from tests.fakes import openai as openai_fake
from tests.fakes import openai_responses
from tests.fakes.cued import cued_server

# A bug this test exposes: it fails until the bug is fixed (then drop the marker).


@pytest.fixture(scope="module")
def fake():
    with cued_server(openai_fake.handle) as server:
        yield server


@pytest.fixture(scope="module")
def responses_fake():
    with cued_server(openai_responses.handle) as server:
        yield server


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    server = IrisServer(tmp_path_factory.mktemp("iris-break-cache")).start()
    code = "from gateway.models import ApiKey; ApiKey.objects.update(can_read_logs=True)"
    server.manage("shell", "-c", code)  # new keys may not read the logs API by default
    wait_for(
        lambda: httpx.get(f"{server.url}/v1/logs", headers=server.headers()).status_code == 200,
        timeout=15,
    )
    yield server
    server.stop()


def text_body(text: str, **params) -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **params}


def jpeg(exif_note: str) -> bytes:
    """The same 8×8 pixels each time; only the EXIF ImageDescription differs."""
    image = PILImage.new("RGB", (8, 8), (40, 90, 160))
    exif = PILImage.Exif()
    exif[0x010E] = exif_note
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


# Defences that hold -----------------------------------------------------------------------


def test_images_that_differ_only_in_exif_are_not_the_same_entry(iris, fake):
    """The key is the sha256 of the bytes, as issue 16 asks: another EXIF is other bytes
    (it may carry a location, a name: the answer is not assumed to ignore it)."""
    config, text = cache_config(fake), unique_text()
    first = post(iris, image_body(jpeg("taken at home"), text, mime="image/jpeg"), config)
    again = post(iris, image_body(jpeg("taken at work"), text, mime="image/jpeg"), config)
    same = post(iris, image_body(jpeg("taken at work"), text, mime="image/jpeg"), config)
    assert [status(r) for r in (first, again, same)] == ["MISS", "MISS", "HIT"]


def test_a_streamed_hit_replays_a_whole_answer_with_its_usage(iris, fake):
    config, text = cache_config(fake), unique_text()
    first = post(iris, text_body(text), config)
    calls = upstream_calls(fake)
    streamed = post(
        iris, text_body(text, stream=True, stream_options={"include_usage": True}), config
    )
    assert status(streamed) == "HIT" and upstream_calls(fake) == calls
    events = [
        json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")
    ]
    content = "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])
    assert content == first.json()["choices"][0]["message"]["content"]
    assert events[-1]["usage"] == first.json()["usage"]
    assert streamed.text.rstrip().endswith("data: [DONE]")


def test_a_config_without_a_cache_says_disabled_in_its_header(iris, fake):
    leaf = json.loads(cache_config(fake))
    del leaf["cache"]
    response = post(iris, text_body(unique_text()), json.dumps(leaf))
    assert response.status_code == 200
    assert status(response) == "DISABLED"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/images/generations", {"model": "gpt-image-1", "prompt": "a red square"}),
        ("/v1/estimate", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    ],
)
def test_a_cache_config_outside_chat_is_disabled_and_never_answers_from_cache(
    iris, fake, path, body
):
    config = cache_config(fake)
    before = upstream_calls(fake)
    answers = [
        httpx.post(
            f"{iris.url}{path}",
            json=body,
            headers=iris.headers(**{"x-portkey-config": config}),
            timeout=30,
        )
        for _ in range(2)
    ]
    for response in answers:
        assert response.status_code == 200, response.text
        assert status(response) == "DISABLED"
        assert response.headers["x-portkey-last-used-option-index"] == "config"
    expected = 2 if path.startswith("/v1/images") else 0  # an estimate calls no upstream
    assert upstream_calls(fake) - before == expected


def test_a_cache_config_on_the_responses_api_is_disabled(iris, responses_fake):
    config = json.loads(cache_config(responses_fake))
    config["custom_host"] = f"{responses_fake.url}/v1"
    body = {"model": "gpt-4o", "input": unique_text()}
    answers = [
        httpx.post(
            f"{iris.url}/v1/responses",
            json=body,
            headers=iris.headers(**{"x-portkey-config": json.dumps(config)}),
            timeout=30,
        )
        for _ in range(2)
    ]
    for response in answers:
        assert response.status_code == 200, response.text
        assert status(response) == "DISABLED"
    assert sum(1 for r in responses_fake.received if r.method == "POST") == 2


def test_base64_without_its_padding_hits_the_entry_of_the_same_bytes(iris, fake):
    """The same image bytes, sent once as standard base64 and once with the padding
    stripped: the same sha256, the same entry."""
    raw = png_bytes(size=(5, 5), color=(9, 9, 9))
    text, config = unique_text(), cache_config(fake)
    encoded = base64.b64encode(raw).decode()
    first = post(iris, image_body(raw, text), config)
    body = image_body(raw, text)
    body["messages"][0]["content"][1]["image_url"]["url"] = (
        "data:image/png;base64," + encoded.rstrip("=")
    )
    again = post(iris, body, config)
    assert first.status_code == 200
    assert (status(first), status(again)) == ("MISS", "HIT")


# Bugs --------------------------------------------------------------------------------------


def test_a_config_without_a_cache_is_logged_disabled(iris, fake):
    """Was a bug (small): the client is told x-portkey-cache-status: DISABLED, the log records ""
    (the logs list cannot filter these by DISABLED, as issue 16's list of statuses
    suggests). Expected: the record's cache_status set to DISABLED whenever the header says
    so. gateway/service.py, complete (`record.cache_status or "DISABLED"` for the header
    only)."""
    leaf = json.loads(cache_config(fake))
    del leaf["cache"]
    response = post(iris, text_body(unique_text()), json.dumps(leaf))
    assert status(response) == "DISABLED"
    assert logged_status(iris, response) == "DISABLED"


def test_a_max_age_past_a_year_is_refused_and_the_cache_keeps_working(iris, fake):
    """Was a bug: schema.py takes any positive integer max_age. 10**12 s is accepted (no 400), but
    Django's DatabaseCache turns it into an expiry past the year 9999: the write fails, and
    cache.py then leaves the cache alone for COOL_DOWN_SECONDS, for every request: one
    client's config turns caching off for all clients for 5 s, each time it is sent. Here an
    innocent client's identical second request MISSes. Expected: max_age capped in
    schema._cache (a 400 naming cache.max_age, or clamped to GATEWAY_CACHE_MAX_AGE).
    gateway/configs/schema.py, _cache; gateway/configs/cache.py, _failed (one bad write
    cools the cache down for all). Last in this file: it leaves the cache cooling down."""
    hostile = cache_config(fake, max_age=10**12)
    refused = post(iris, text_body(unique_text()), hostile)
    assert refused.status_code == 400 and "cache.max_age" in refused.json()["error"]["message"]
    innocent, text = cache_config(fake), unique_text()
    first = post(iris, text_body(text), innocent)
    again = post(iris, text_body(text), innocent)
    assert (status(first), status(again)) == ("MISS", "HIT")
