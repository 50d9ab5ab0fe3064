"""The response cache's pure parts: the key (no secret in it, no collision between targets
or bodies), the stream it replays (as the `openai` SDK accumulates it), and its failures
counted rather than raised."""

import asyncio
import base64
import dataclasses
import threading
import types

import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from gateway import log as request_log
from gateway.chat import parse_chat
from gateway.configs import cache
from gateway.configs.schema import Cache
from gateway.providers.base import Target
from tests.conftest import png_bytes

SECRET = "sk-live-0123456789abcdef"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
IMAGE = png_bytes(size=(5, 5), color=(7, 8, 9))


def chat_of(body: dict):
    return parse_chat(orjson.dumps(body))


def body(url: str | None = None, text: str = "what is this?", **params) -> dict:
    url = url or f"data:image/png;base64,{base64.b64encode(IMAGE).decode()}"
    content = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": url}}]
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": content}], **params}


TARGET = Target("openai", base_url="https://api.example/v1", api_key=SECRET)


def key(target: Target = TARGET, **request) -> str:
    return cache.cache_key(target, chat_of(body(**request)))


def test_the_key_holds_no_secret_and_no_prompt():
    bedrock = Target("bedrock", options={"aws-secret-access-key": AWS_SECRET})
    made = cache.cache_key(bedrock, chat_of(body(text="my private words")))
    made += key()
    assert made.startswith("iris:chat:") and len(key()) == len("iris:chat:") + 64
    for secret in (SECRET, AWS_SECRET, "private", SECRET[-16:]):
        assert secret not in made


def test_streaming_options_do_not_change_the_key():
    assert key() == key(stream=True) == key(stream=True, stream_options={"include_usage": True})


@pytest.mark.parametrize(
    "other",
    [
        dataclasses.replace(TARGET, api_key=SECRET + "x"),
        dataclasses.replace(TARGET, base_url="https://other.example/v1"),
        dataclasses.replace(TARGET, provider="azure-openai"),
        dataclasses.replace(TARGET, slug="team-a"),
        dataclasses.replace(TARGET, options={"azure-deployment-id": "gpt-4o-mini"}),
        dataclasses.replace(TARGET, options={"aws-secret-access-key": AWS_SECRET}),
        dataclasses.replace(TARGET, options={"image-fit": "auto"}),
        dataclasses.replace(TARGET, headers={"x-team": "b"}),
    ],
    ids=["key", "host", "provider", "slug", "deployment", "aws key", "option", "header"],
)
def test_another_target_has_another_key(other):
    assert key(other) != key()


@pytest.mark.parametrize("option", ["cache-force-refresh", "trace-id", "span-id", "config"])
def test_options_that_do_not_change_the_answer_are_not_in_the_key(option):
    assert key(dataclasses.replace(TARGET, options={option: "true"})) == key()


def test_a_cache_namespace_is_in_the_key():
    assert key(dataclasses.replace(TARGET, options={"cache-namespace": "team-a"})) != key()


@pytest.mark.parametrize(
    "request_",
    [
        {"text": "what is that?"},
        {"temperature": 0.2},
        {"url": f"data:image/png;base64,{base64.b64encode(png_bytes(size=(5, 6))).decode()}"},
        {"url": "https://images.example/a.png"},
    ],
    ids=["text", "param", "image bytes", "url"],
)
def test_another_body_has_another_key(request_):
    assert key(**request_) != key()


def test_the_same_bytes_are_the_same_key_however_they_came():
    relabelled = f"data:image/jpeg;base64,{base64.b64encode(IMAGE).decode()}"
    assert key(url=relabelled) == key()
    fetched = chat_of(body(url="https://images.example/a.png"))
    unfetched_key = cache.cache_key(TARGET, fetched)
    fetched.images[0].data = IMAGE  # as gateway/fetching.py leaves a fetched URL image
    assert cache.cache_key(TARGET, fetched) == key()
    assert unfetched_key != key()


def test_a_url_not_fetched_is_keyed_by_the_url():
    a = key(url="https://images.example/a.png")
    assert a == key(url="https://images.example/a.png")
    assert a != key(url="https://images.example/b.png")


def replay(answer: dict, **request) -> list[bytes]:
    chat = chat_of({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **request})
    record = request_log.Record.begin("/v1/chat/completions", {})
    record.endpoint = "chat.completions"

    async def collect():
        return [event async for event in cache._replayed(answer, chat, record)]

    events = asyncio.run(collect())
    assert events[-1] == b"data: [DONE]\n\n"
    return events


def accumulated(events: list[bytes]):
    """The completion the `openai` SDK makes of the events, as its stream helper does."""
    state = ChatCompletionStreamState()
    for event in events[:-1]:
        assert event.startswith(b"data: ") and event.endswith(b"\n\n")
        state.handle_chunk(ChatCompletionChunk.model_validate_json(event[6:]))
    return state.get_final_completion()


def call(name: str, arguments: str) -> dict:
    return {"name": name, "arguments": arguments}


ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": call("f", "{}")},
                    {"id": "c2", "type": "function", "function": call("g", '{"x":2}')},
                ],
            },
        },
        {
            "index": 1,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."},
        },
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
}


def test_a_replay_gives_back_tool_calls_and_refusals_as_the_sdk_accumulates_them():
    final = accumulated(replay(ANSWER, stream=True, stream_options={"include_usage": True}))
    calls = final.choices[0].message.tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("c1", "f", "{}"),
        ("c2", "g", '{"x":2}'),
    ]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.choices[1].message.refusal == "I can't help with that."
    assert final.usage.total_tokens == 7


def test_a_replay_has_no_usage_unless_asked():
    events = replay(ANSWER, stream=True)
    assert all(b'"usage"' not in event for event in events)


REFUSED = "Error 111 connecting to 127.0.0.1:1. Connection refused."


class Broken:
    """A cache backend that is down (Django's backends are called synchronously)."""

    def __init__(self) -> None:
        self.calls = 0

    def get(self, key):
        self.calls += 1
        raise ConnectionError(REFUSED)

    def set(self, key, value, timeout):
        self.calls += 1
        raise ConnectionError(REFUSED)


class Garbage(Broken):
    def get(self, key):
        self.calls += 1
        return b"\x80 not json"


class Hung(Broken):
    """A Redis that never answers, until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def get(self, key):
        self.calls += 1
        self.release.wait(30)


def state(headers=None):
    record = request_log.Record.begin("/v1/chat/completions", {})
    record.endpoint = "chat.completions"
    endpoint = types.SimpleNamespace(name="chat.completions")
    return types.SimpleNamespace(headers=headers or {}, record=record, endpoint=endpoint)


def look_up(**headers) -> cache.Entry:
    return asyncio.run(cache.lookup(Cache("simple", 60), TARGET, chat_of(body()), state(headers)))


@pytest.fixture
def backend(monkeypatch, request):
    """The "responses" cache replaced by the test's own, the cool-down over."""
    made = request.param()
    monkeypatch.setattr(cache, "caches", {"responses": made})
    monkeypatch.setattr(cache, "_down_until", 0.0)
    monkeypatch.setattr(cache, "TIMEOUT_SECONDS", 0.2)
    yield made
    if isinstance(made, Hung):
        made.release.set()


@pytest.mark.parametrize("backend", [Broken, Hung], indirect=True, ids=["down", "hung"])
def test_a_cache_down_is_a_counted_miss_then_left_alone_a_while(backend):
    before = dict(cache.failures)
    entry = look_up()
    assert (entry.status, entry.response) == ("MISS", None)
    assert cache.failures["get"] == before["get"] + 1
    assert backend.calls == 1
    # Cooling down: neither read nor written, counted; the request is a MISS all the same.
    assert look_up().status == "MISS"
    asyncio.run(cache._write(entry, b"{}"))
    assert backend.calls == 1
    assert cache.failures["skipped"] == before["skipped"] + 2
    cache._down_until = 0.0  # the cool-down over: tried again
    asyncio.run(cache._write(entry, b"{}"))
    assert backend.calls == 2 and cache.failures["set"] == before["set"] + 1


@pytest.mark.parametrize("backend", [Garbage], indirect=True)
def test_an_entry_that_is_not_ours_is_a_counted_miss(backend):
    before = cache.failures["get"]
    assert look_up().status == "MISS"
    assert cache.failures["get"] == before + 1
    assert look_up().status == "MISS"  # no cool-down: the cache itself answered
    assert backend.calls == 2


@pytest.mark.parametrize("backend", [Broken], indirect=True)
def test_force_refresh_does_not_read(backend):
    assert look_up(**{cache.FORCE_REFRESH: "true"}).status == "REFRESH"
    assert backend.calls == 0


def test_an_answer_past_the_bound_is_counted_not_kept(settings):
    settings.GATEWAY_CACHE_MAX_ENTRY_BYTES = 10
    before = cache.failures["too_large"]
    assert not cache._keepable(b"x" * 11)
    assert cache._keepable(b"x" * 10)
    assert cache.failures["too_large"] == before + 1
