"""The official openai and portkey-ai SDKs, and curl, against a real Iris and a fake OpenAI."""

import base64
import json
import subprocess

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from portkey_ai import Portkey, createHeaders

from tests.conftest import SHARED_IMAGES

CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()
CAT_URI = "data:image/png;base64," + base64.b64encode(CAT).decode()


def vision_messages(image_url: str, text: str = "What is in this image?") -> list[dict]:
    return [
        {"role": "system", "content": "You are terse."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": image_url, "detail": "low"}},
            ],
        },
    ]


@pytest.fixture
def client(iris, fake_openai) -> openai.OpenAI:
    """The openai SDK with Portkey's headers from createHeaders: only base URL changed."""
    headers = createHeaders(
        provider="openai", api_key=iris.key, custom_host=f"{fake_openai.url}/v1"
    )
    return openai.OpenAI(
        base_url=f"{iris.url}/v1", api_key="sk-provider-secret", default_headers=headers
    )


def sent_image(fake_openai) -> str:
    return fake_openai.last("POST").json()["messages"][1]["content"][1]["image_url"]["url"]


def test_it_proxies_a_base64_image_with_the_openai_sdk(client, iris, fake_openai):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=vision_messages(CAT_URI, "what is this cat?")
    )
    completion = raw.parse()
    ChatCompletion.model_validate(completion.model_dump())
    assert completion.choices[0].message.content == "I see 1 image(s). You said: what is this cat?"
    assert sent_image(fake_openai) == CAT_URI  # forwarded byte for byte
    assert fake_openai.last("POST").headers["authorization"] == "Bearer sk-provider-secret"

    log = iris.log(raw.headers["x-iris-request-id"], original=1)
    assert log["status_code"] == 200 and log["provider"] == "openai" and log["model"] == "gpt-4o"
    assert log["prompt_tokens"] == 11 and log["image_count"] == 1
    assert 0 < log["ttft_ms"] <= log["latency_ms"]
    [image] = log["images"]
    assert (image["origin"], image["mime"], image["width"], image["height"], image["detail"]) == (
        "base64",
        "image/png",
        451,
        300,
        "low",
    )
    stored = httpx.get(image["content_url"], headers=iris.headers())
    assert stored.content == CAT
    assert stored.headers["x-content-type-options"] == "nosniff"
    # The row holds a reference, not the image; the original body can be rebuilt exactly.
    stored_url = log["request_body"]["messages"][1]["content"][1]["image_url"]["url"]
    assert stored_url == f"iris-blob:{image['sha256']}"
    assert log["original_request"]["messages"] == vision_messages(CAT_URI, "what is this cat?")
    assert log["upstream_body"] is None  # the client's bytes went upstream as they were
    assert "sk-provider-secret" not in json.dumps(log)
    assert iris.key not in json.dumps(log)


def test_it_sends_a_big_body_in_slices_as_one_plain_body(iris, fake_openai):
    # Over 256 KB the upstream body goes out in slices (gateway/proxy.py): still one body
    # with its length, byte for byte, not chunked encoding.
    photo = (SHARED_IMAGES / "astronaut.png").read_bytes()
    uri = "data:image/png;base64," + base64.b64encode(photo).decode()
    raw = json.dumps({"model": "gpt-4o", "messages": vision_messages(uri)}).encode()
    response = httpx.post(
        f"{iris.url}/v1/chat/completions",
        content=raw,
        headers={
            **iris.headers(),
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"{fake_openai.url}/v1",
            "authorization": "Bearer sk-x",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    received = fake_openai.last("POST")
    assert len(raw) > 4 * 256 * 1024
    assert received.body == raw
    assert received.headers["content-length"] == str(len(raw))
    assert "transfer-encoding" not in received.headers


def test_it_streams_with_usage_and_logs_the_assembled_reply(client, iris, fake_openai):
    stream = client.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=vision_messages(CAT_URI, "stream it"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream.parse())
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk.model_dump())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "I see 1 image(s). You said: stream it"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(text.split())
    log = iris.log(stream.headers["x-iris-request-id"])
    assert log["is_stream"] is True and log["chunk_count"] == len(chunks)
    assert log["response_body"]["choices"][0]["message"]["content"] == text
    assert log["response_body"]["choices"][0]["finish_reason"] == "stop"
    assert log["completion_tokens"] == len(text.split()) and log["ttft_ms"] > 0


def test_it_passes_an_image_url_and_keeps_a_copy(client, iris, fake_openai):
    url = f"{fake_openai.url}/images/rocket.jpg"
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=vision_messages(url)
    )
    assert sent_image(fake_openai) == url
    [image] = iris.log(raw.headers["x-iris-request-id"])["images"]
    assert (image["origin"], image["url"], image["mime"], image["width"]) == (
        "url",
        url,
        "image/jpeg",
        640,
    )
    copy = httpx.get(image["content_url"], headers=iris.headers())
    assert copy.content == (SHARED_IMAGES / "rocket.jpg").read_bytes()


def test_it_records_why_a_url_image_could_not_be_kept(client, iris, fake_openai):
    url = f"{fake_openai.url}/images/missing.png"
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=vision_messages(url)
    )
    [image] = iris.log(raw.headers["x-iris-request-id"])["images"]
    assert image["sha256"] is None and "HTTP 404" in image["error"]


def test_it_stores_the_same_image_once(client, iris, fake_openai):
    ids = [
        client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=vision_messages(CAT_URI, f"again {i}")
        ).headers["x-iris-request-id"]
        for i in range(3)
    ]
    shas = {iris.log(i)["images"][0]["sha256"] for i in ids}
    assert len(shas) == 1
    blobs = list((iris.data_dir / "blobs" / "images").rglob(shas.pop()))
    assert len(blobs) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_it_works_with_the_portkey_sdk(iris, fake_openai, stream):
    portkey = Portkey(
        api_key=iris.key,
        base_url=f"{iris.url}/v1",
        provider="openai",
        Authorization="Bearer sk-provider-secret",
        custom_host=f"{fake_openai.url}/v1",
        trace_id="trace-portkey",
        metadata={"app": "tests"},
    )
    messages = vision_messages(f"{fake_openai.url}/images/chelsea.png", "portkey?")
    result = portkey.chat.completions.create(model="gpt-4o", messages=messages, stream=stream)
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in result if c.choices)
    else:
        text = result.choices[0].message.content
    assert text == "I see 1 image(s). You said: portkey?"
    assert fake_openai.last("POST").headers["authorization"] == "Bearer sk-provider-secret"
    rows = iris.find_logs(trace_id="trace-portkey", metadata="app=tests")
    assert rows and rows[0]["metadata"] == {"app": "tests"}
    if not stream:  # the SDK keeps the Portkey headers of the answer
        headers = result.get_headers()  # without their x-portkey- prefix
        assert headers["provider"] == "openai"
        assert headers["trace-id"] == "trace-portkey"
        assert headers["retry-attempt-count"] == "0"
        assert headers["cache-status"] == "DISABLED"


def test_errors_carry_portkey_headers_too(iris):
    response = httpx.post(
        f"{iris.url}/v1/chat/completions",
        headers=iris.headers(**{"x-portkey-provider": "nonesuch"}),
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 400
    assert response.headers["x-portkey-trace-id"] == response.headers["x-iris-request-id"]
    assert response.headers["x-portkey-cache-status"] == "DISABLED"


def test_it_works_with_curl(iris, fake_openai):
    body = json.dumps({"model": "gpt-4o", "messages": vision_messages(CAT_URI, "curl")})
    result = subprocess.run(
        [
            "curl",
            "-sS",
            f"{iris.url}/v1/chat/completions",
            "-H",
            f"x-portkey-api-key: {iris.key}",
            "-H",
            "x-portkey-provider: openai",
            "-H",
            f"x-portkey-custom-host: {fake_openai.url}/v1",
            "-H",
            "Authorization: Bearer sk-x",
            "-H",
            "content-type: application/json",
            "--data-binary",
            "@-",
        ],
        input=body,
        capture_output=True,
        text=True,
        check=True,
    )
    completion = ChatCompletion.model_validate_json(result.stdout)
    assert completion.choices[0].message.content == "I see 1 image(s). You said: curl"


def test_it_accepts_the_gateway_key_as_bearer_when_no_provider_key_is_needed(iris, fake_openai):
    response = httpx.post(
        f"{iris.url}/v1/chat/completions",
        headers={
            "authorization": f"Bearer {iris.key}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"{fake_openai.url}/v1",
        },
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    )
    # The gateway key is not forwarded upstream: the fake refuses a request without a key.
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "You didn't provide an API key."
    assert iris.key not in json.dumps(fake_openai.last("POST").headers)
