"""The response cache over real sockets: a real Iris (the database cache, its default), a fake
OpenAI upstream that counts its calls, the `openai` SDK reading the streams."""

import json

import openai
import pytest

from tests.configs.cache_client import (
    cache_config,
    image_body,
    logged,
    logged_status,
    poll,
    post,
    status,
    unique_text,
    upstream_calls,
    url_body,
)
from tests.conftest import IrisServer, png_bytes
from tests.fakes import openai as openai_fake
from tests.fakes.cued import Cued, cued_server
from tests.fakes.server import FakeServer, Reply

MAX_ENTRY_BYTES = 4000


@pytest.fixture(scope="module")
def fake():
    with cued_server(openai_fake.handle) as server:
        yield server


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    server = IrisServer(
        tmp_path_factory.mktemp("iris-cache"),
        GATEWAY_CACHE_MAX_ENTRY_BYTES=str(MAX_ENTRY_BYTES),
    ).start()
    yield server
    server.stop()


@pytest.fixture
def image_host():
    """Images served over HTTP by path: /a.png and /b.png are the same bytes."""
    image = png_bytes(size=(9, 9), color=(10, 120, 200))

    def handle(request):
        if request.path in ("/a.png", "/b.png"):
            return Reply(200, image, {"content-type": "image/png"})
        return Reply(404, b"not found")

    with FakeServer(handle) as server:
        yield server


def client(iris: IrisServer, config: str) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="unused",
        base_url=f"{iris.url}/v1",
        default_headers=iris.headers(**{"x-portkey-config": config}),
        max_retries=0,
    )


def test_the_same_image_bytes_sent_again_as_base64_are_answered_from_the_cache(iris, fake):
    config, text = cache_config(fake), unique_text()
    image = png_bytes(size=(6, 5), color=(1, 2, 3))
    first = post(iris, image_body(image, text), config)
    calls = upstream_calls(fake)
    # The same bytes, labelled with another type: the key is their sha256, not the text.
    again = post(iris, image_body(image, text, mime="image/jpeg"), config)
    assert (first.status_code, again.status_code) == (200, 200)
    assert (status(first), status(again)) == ("MISS", "HIT")
    assert upstream_calls(fake) == calls  # no second round trip
    assert again.json() == first.json()
    assert again.json()["choices"][0]["message"]["content"].endswith(text)
    assert logged_status(iris, first) == "MISS"
    assert logged_status(iris, again) == "HIT"
    hit = logged(iris, again)  # its own record, with the answer it gave
    assert hit["request_id"] != logged(iris, first)["request_id"]
    assert hit["status_code"] == 200
    assert hit["response_body"]["choices"][0]["message"]["content"].endswith(text)
    assert hit["attempts"][-1]["cache"] == "HIT"


def test_a_stream_is_answered_from_the_entry_a_whole_answer_made(iris, fake):
    config, text = cache_config(fake), unique_text()
    image = png_bytes(size=(7, 5), color=(4, 5, 6))
    sdk = client(iris, config)
    messages = image_body(image, text)["messages"]
    whole = sdk.chat.completions.create(model="gpt-4o", messages=messages)
    calls = upstream_calls(fake)
    with sdk.chat.completions.with_streaming_response.create(
        model="gpt-4o", messages=messages, stream=True, stream_options={"include_usage": True}
    ) as raw:
        assert raw.headers["x-portkey-cache-status"] == "HIT"
        chunks = list(raw.parse())
        request_id = raw.headers["x-iris-request-id"]
    assert upstream_calls(fake) == calls
    text_out = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text_out == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage  # include_usage
    # As the bytes went: server-sent events ending in [DONE].
    body = image_body(image, text, stream=True)
    streamed = post(iris, body, config)
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = [line for line in streamed.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)
    assert all(json.loads(e[6:])["object"] == "chat.completion.chunk" for e in events[:-1])
    assert not any("usage" in json.loads(e[6:]) for e in events[:-1])  # not asked for
    record = iris.log(request_id)
    assert (record["cache_status"], record["is_stream"], record["status_code"]) == ("HIT", 1, 200)


def test_a_streamed_answer_is_kept_and_serves_a_whole_one(iris, fake):
    config, text = cache_config(fake), unique_text()
    sdk = client(iris, config)
    messages = [{"role": "user", "content": text}]
    stream = sdk.chat.completions.create(model="gpt-4o", messages=messages, stream=True)
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    calls = upstream_calls(fake)
    raw = sdk.chat.completions.with_raw_response.create(model="gpt-4o", messages=messages)
    assert raw.headers["x-portkey-cache-status"] == "HIT"
    whole = raw.parse()
    assert upstream_calls(fake) == calls
    assert whole.choices[0].message.content == streamed
    assert whole.choices[0].finish_reason == "stop"
    assert whole.object == "chat.completion"


def test_tool_calls_are_replayed_as_openai_streams_them(iris, fake):
    config, text = cache_config(fake), unique_text()
    calls_made = [
        {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": '{"a":1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "see", "arguments": "{}"}},
    ]
    answer = openai_fake.completion("gpt-4o", "")
    message = {"role": "assistant", "content": None, "tool_calls": calls_made}
    answer["choices"][0]["message"] = message
    answer["choices"][0]["finish_reason"] = "tool_calls"
    fake.cued.cue(Reply.json(200, answer))
    sdk = client(iris, config)
    messages = [{"role": "user", "content": text}]
    whole = sdk.chat.completions.create(model="gpt-4o", messages=messages)
    assert [c.function.name for c in whole.choices[0].message.tool_calls] == ["look", "see"]
    calls = upstream_calls(fake)
    with sdk.chat.completions.stream(model="gpt-4o", messages=messages) as stream:
        final = stream.get_final_completion()  # the SDK's own accumulation of the deltas
    assert upstream_calls(fake) == calls
    replayed = final.choices[0].message.tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in replayed] == [
        ("call_1", "look", '{"a":1}'),
        ("call_2", "see", "{}"),
    ]
    assert final.choices[0].finish_reason == "tool_calls"


def test_a_url_image_is_keyed_by_its_url(iris, fake, image_host):
    config, text = cache_config(fake), unique_text()
    first = post(iris, url_body(f"{image_host.url}/a.png", text), config)
    same = post(iris, url_body(f"{image_host.url}/a.png", text), config)
    other = post(iris, url_body(f"{image_host.url}/b.png", text), config)  # same bytes
    assert [status(r) for r in (first, same, other)] == ["MISS", "HIT", "MISS"]
    assert same.json() == first.json()


def test_force_refresh_asks_the_upstream_and_renews_the_entry(iris, fake):
    config, text = cache_config(fake), unique_text()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    assert status(post(iris, body, config)) == "MISS"
    calls = upstream_calls(fake)
    fake.cued.cue(Reply.json(200, openai_fake.completion("gpt-4o", "a fresher answer")))
    refreshed = post(iris, body, config, **{"x-portkey-cache-force-refresh": "true"})
    assert refreshed.status_code == 200 and status(refreshed) == "REFRESH"
    assert refreshed.json()["choices"][0]["message"]["content"] == "a fresher answer"
    assert upstream_calls(fake) == calls + 1
    assert logged_status(iris, refreshed) == "REFRESH"
    after = post(iris, body, config)  # the entry the refresh renewed
    assert status(after) == "HIT" and upstream_calls(fake) == calls + 1
    assert after.json() == refreshed.json()


@pytest.mark.parametrize(
    "header",
    ["x-portkey-trace-id", "x-portkey-metadata", "x-portkey-span-id", "x-portkey-retry-count"],
)
def test_headers_that_do_not_change_the_answer_do_not_change_the_key(iris, fake, header):
    config, text = cache_config(fake, provider=None, api_key=None, custom_host=None), unique_text()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    routing = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"{fake.url}/v1",
        "authorization": "Bearer sk-routed-by-headers-0123456789",
    }
    value = '{"user": "a"}' if header == "x-portkey-metadata" else "first"
    assert status(post(iris, body, config, **routing, **{header: value})) == "MISS"
    value = '{"user": "b"}' if header == "x-portkey-metadata" else "second"
    assert status(post(iris, body, config, **routing, **{header: value})) == "HIT"


def test_a_cache_namespace_partitions_the_cache(iris, fake):
    """Portkey's x-portkey-cache-namespace: entries of one namespace are not another's."""
    config, text = cache_config(fake), unique_text()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    team_a = {"x-portkey-cache-namespace": "team-a"}
    assert status(post(iris, body, config, **team_a)) == "MISS"
    assert status(post(iris, body, config, **team_a)) == "HIT"
    assert status(post(iris, body, config, **{"x-portkey-cache-namespace": "team-b"})) == "MISS"


def test_an_entry_expires_after_max_age(iris, fake):
    config, text = cache_config(fake, max_age=1), unique_text()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    assert status(post(iris, body, config)) == "MISS"
    calls = upstream_calls(fake)
    seen = []

    def expired() -> bool:
        seen.append(status(post(iris, body, config)))
        return seen[-1] == "MISS"

    assert poll(expired, timeout=15, every=0.25), seen
    assert set(seen[:-1]) <= {"HIT"}  # every answer before expiry came from the cache
    assert upstream_calls(fake) == calls + 1


@pytest.mark.parametrize(
    "change",
    ["image bytes", "params", "provider key", "model", "host"],
)
def test_what_differs_misses(iris, fake, change):
    config, text = cache_config(fake), unique_text()
    image = png_bytes(size=(8, 8), color=(9, 9, 9))
    body = image_body(image, text)
    assert status(post(iris, body, config)) == "MISS"
    assert status(post(iris, body, config)) == "HIT"
    if change == "image bytes":
        body = image_body(png_bytes(size=(8, 8), color=(9, 9, 10)), text)
    elif change == "params":
        body = image_body(image, text, temperature=0.5)
    elif change == "provider key":
        config = cache_config(fake, api_key="sk-another-provider-key-987654321")
    elif change == "model":
        body = image_body(image, text) | {"model": "gpt-4o-mini"}
    else:  # the same upstream under another URL
        config = cache_config(fake, custom_host=fake.url.replace("127.0.0.1", "localhost") + "/v1")
    calls = upstream_calls(fake)
    differing = post(iris, body, config)
    assert differing.status_code == 200 and status(differing) == "MISS"
    assert upstream_calls(fake) == calls + 1


def test_an_answer_too_large_to_keep_is_not_kept(iris, fake):
    config = cache_config(fake)
    text = unique_text() + " word" * (MAX_ENTRY_BYTES // 5)  # the fake echoes it back
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    first = post(iris, body, config)
    assert first.status_code == 200 and len(first.content) > MAX_ENTRY_BYTES
    calls = upstream_calls(fake)
    again = post(iris, body, config)
    assert again.status_code == 200 and status(again) == "MISS"
    assert upstream_calls(fake) == calls + 1
    streamed = post(iris, body | {"stream": True}, config)  # a stream's answer neither
    assert streamed.text.endswith("data: [DONE]\n\n")
    assert status(post(iris, body, config)) == "MISS"


def test_an_upstream_error_is_not_kept(iris, fake):
    config, text = cache_config(fake), unique_text()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    fake.cued.cue(Cued.error(500))
    failed = post(iris, body, config)
    assert failed.status_code == 500
    assert logged_status(iris, failed) == "MISS"
    answered = post(iris, body, config)
    assert answered.status_code == 200 and status(answered) == "MISS"
    assert status(post(iris, body, config)) == "HIT"


def test_a_stream_cut_short_is_not_kept(iris, fake):
    config = cache_config(fake)
    body = {"model": "die", "messages": [{"role": "user", "content": unique_text()}]}
    broken = post(iris, body | {"stream": True}, config)  # the fake breaks it after two words
    assert "data: [DONE]" not in broken.text
    calls = upstream_calls(fake)
    assert status(post(iris, body, config)) == "MISS"
    assert upstream_calls(fake) == calls + 1


def test_without_a_cache_in_the_config_the_status_is_disabled(iris, fake):
    config = json.loads(cache_config(fake))
    del config["cache"]
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": unique_text()}]}
    answered = post(iris, body, json.dumps(config))
    assert answered.status_code == 200 and status(answered) == "DISABLED"


def test_the_provider_key_is_nowhere_in_the_cache_table(iris, fake):
    config, text = cache_config(fake), unique_text()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    assert status(post(iris, body, config)) == "MISS"
    code = (
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('SELECT cache_key, value FROM iris_response_cache')\n"
        "    print(repr(c.fetchall()))"
    )
    table = iris.manage("shell", "-c", code)
    assert "iris:chat:" in table
    assert "sk-cache-test" not in table


def test_the_portkey_headers_stay_with_iris(iris, fake):
    """The upstream never sees the config (its keys) nor the cache's headers."""
    config = cache_config(fake)
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": unique_text()}]}
    post(iris, body, config, **{"x-portkey-cache-force-refresh": "true"})
    sent = fake.last("POST")
    assert not [name for name in sent.headers if name.startswith("x-portkey-")]
