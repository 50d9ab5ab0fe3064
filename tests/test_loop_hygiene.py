"""Event-loop hygiene (issue 12): work that grows with a body's size runs off the event loop
for a big body (parsing, base64, building and signing the upstream request), inline for a
small one; base64 goes through pybase64, which lets go of the GIL, with binascii's results."""

import base64
import binascii
import io
import json
import os
import threading
import types

import orjson
import pytest
from PIL import Image as PILImage

from gateway import providers, proxy
from gateway import service as chat_api
from gateway.chat import parse_chat
from gateway.images import Image, decode_data_uri
from gateway.lagprobe import LagProbe
from gateway.providers.base import Target


def noise_png(side: int) -> bytes:
    out = io.BytesIO()
    PILImage.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def chat_body(image: bytes) -> bytes:
    uri = "data:image/png;base64," + base64.b64encode(image).decode()
    content = [
        {"type": "text", "text": "what is it?"},
        {"type": "image_url", "image_url": {"url": uri}},
    ]
    body = {"model": "claude-x", "messages": [{"role": "user", "content": content}]}
    return json.dumps(body).encode()


@pytest.fixture
def threads_seen(monkeypatch) -> list[int]:
    """The thread each parse_chat and build_request ran in."""
    seen: list[int] = []
    real_parse = chat_api.parse_chat

    def parse(*args, **kwargs):
        seen.append(threading.get_ident())
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(chat_api, "parse_chat", parse)
    return seen


async def test_a_big_body_is_parsed_in_a_thread_a_small_one_inline(settings, threads_seen):
    settings.GATEWAY_THREAD_BODY_BYTES = 20_000
    big, small = chat_body(noise_png(100)), chat_body(noise_png(4))
    assert len(big) > 20_000 > len(small)
    loop_thread = threading.get_ident()
    chat = await chat_api.parse(None, big)
    assert chat.images[0].data and chat.images[0].width == 100  # parsed as before
    await chat_api.parse(None, small)
    assert threads_seen[0] != loop_thread
    assert threads_seen[1] == loop_thread


async def test_a_big_upstream_request_is_built_in_a_thread_a_small_one_inline(settings):
    settings.GATEWAY_THREAD_BODY_BYTES = 20_000
    anthropic = providers.get("anthropic")
    seen: list[int] = []

    def build_request(chat, target):
        seen.append(threading.get_ident())
        return anthropic.build_request(chat, target)

    provider = types.SimpleNamespace(build_request=build_request)
    target = Target("anthropic", api_key="sk-ant-test")
    image = noise_png(100)
    upstream = await proxy.build_request(provider, parse_chat(chat_body(image)), target)
    await proxy.build_request(provider, parse_chat(chat_body(noise_png(4))), target)
    assert seen[0] != threading.get_ident()
    assert seen[1] == threading.get_ident()
    sent = orjson.loads(upstream.content)["messages"][0]["content"][1]["source"]
    assert base64.b64decode(sent["data"]) == image  # the bytes, identical


@pytest.mark.parametrize(
    "payload", ["QUJD", "QUI=", "QQ==", "QUJDRA==", "QUJD=", "QR==", "Q U J D", "QUJ", "QQ==QQ=="]
)
def test_base64_decodes_as_binascii_s_strict_mode_did(payload):
    """pybase64 refuses a little more than binascii (a stray `=` after a full quartet):
    binascii then decides, so every body decodes, or is refused, exactly as before."""
    try:
        expected = binascii.a2b_base64(payload, strict_mode=True)
    except ValueError:
        expected = None
    try:
        got = decode_data_uri(f"data:image/png;base64,{payload}", tolerant=False)[1]
    except ValueError:
        got = None
    assert got == expected
    raw = f'"data:image/png;base64,{payload}"'.encode()
    view = memoryview(raw)[1:-1]  # as gateway/chat.py hands it over: no copy
    try:
        assert decode_data_uri(view, tolerant=False)[1] == expected
    except ValueError:
        assert expected is None


def test_an_image_is_encoded_as_base64_would():
    data = os.urandom(100_003)
    image = Image(message=0, part=0, origin="base64", data=data)
    assert image.payload_base64 == base64.b64encode(data).decode()


def test_the_lag_probe_writes_its_percentiles_and_starts_again(tmp_path):
    probe = LagProbe(tmp_path)
    for lag in [0.05] * 98 + [12.3, 40.0]:
        probe.add(lag)
    summary = probe.dump(reset=True)
    assert summary["count"] == 100 and summary["p50_ms"] == 0.1
    assert summary["p99_ms"] == pytest.approx(12.4) and summary["max_ms"] == 40.0
    assert json.loads(probe.path.read_text()) == summary
    assert probe.dump(reset=True)["count"] == 0 and probe.summary()["seq"] == 2
