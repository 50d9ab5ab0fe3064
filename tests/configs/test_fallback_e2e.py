"""Fallbacks, retries and timeouts over real sockets: a real Iris (conftest.routing_iris), fake
providers failing on cue; each test checks the upstream call sequence the fakes saw, the
response's x-portkey-* headers and the attempts logged."""

import base64
import json

import httpx

from tests.configs.routing import (
    CLAUDE_MODEL,
    answer,
    anthropic_leaf,
    attempts,
    chat,
    openai_leaf,
    routed_headers,
    row,
    user,
)
from tests.conftest import SHARED_IMAGES
from tests.fakes import bedrock as bedrock_fake
from tests.fakes import openai as openai_fake
from tests.fakes.cued import Cued
from tests.fakes.server import Reply

CAT = (SHARED_IMAGES / "chelsea.png").read_bytes()  # 451×300
CAT_URI = "data:image/png;base64," + base64.b64encode(CAT).decode()


def fallback(*targets, **strategy) -> dict:
    return {"strategy": {"mode": "fallback", **strategy}, "targets": list(targets)}


def sent_images(received) -> list[dict]:
    """The image blocks of an Anthropic request."""
    return [
        block
        for message in received.json()["messages"]
        for block in (message["content"] if isinstance(message["content"], list) else [])
        if block["type"] == "image"
    ]


def test_a_500_falls_back_to_anthropic_with_the_image_in_its_shape(
    routing_iris, cued_openai, cued_anthropic
):
    cued_openai.cued.cue(Cued.error(500, "upstream exploded"))
    config = fallback(openai_leaf(cued_openai), anthropic_leaf(cued_anthropic))
    response = chat(routing_iris, config, user("what animal?", CAT_URI))
    assert answer(response) == "I see 1 image(s). You said: what animal?"
    assert cued_openai.cued.models() == ["gpt-4o"]
    sent = cued_openai.cued.calls[0].request.json()["messages"][0]["content"][1]
    assert sent["image_url"]["url"] == CAT_URI  # OpenAI got the client's bytes as sent
    assert cued_anthropic.cued.models() == [CLAUDE_MODEL]
    [image] = sent_images(cued_anthropic.cued.calls[0].request)
    assert image["source"]["type"] == "base64" and image["source"]["media_type"] == "image/png"
    assert base64.b64decode(image["source"]["data"]) == CAT
    assert routed_headers(response) == ("config.targets[1]", "0", "DISABLED")
    assert response.headers["x-portkey-provider"] == "anthropic"
    tried = attempts(routing_iris, response.headers["x-iris-request-id"])
    assert [(a["target"], a["provider"], a["status"], a["fell_back"]) for a in tried] == [
        ("config.targets[0]", "openai", 500, False),
        ("config.targets[1]", "anthropic", 200, True),
    ]
    assert "upstream exploded" in tried[0]["error"] and "skipped" not in tried[0]
    assert tried[1]["model"] == CLAUDE_MODEL
    logged = routing_iris.log(response.headers["x-iris-request-id"])
    assert logged["status_code"] == 200 and logged["provider"] == "anthropic"


def test_on_status_codes_limits_what_falls_back(routing_iris, cued_openai, cued_anthropic):
    cued_openai.cued.cue(Cued.error(500))
    config = fallback(
        openai_leaf(cued_openai), anthropic_leaf(cued_anthropic), on_status_codes=[429]
    )
    response = chat(routing_iris, config)
    assert response.status_code == 500
    assert response.headers["x-portkey-last-used-option-index"] == "config.targets[0]"
    assert cued_anthropic.cued.calls == []
    cued_openai.cued.cue(Cued.error(429))
    response = chat(routing_iris, config)
    assert answer(response).endswith("You said: hello")
    assert len(cued_anthropic.cued.calls) == 1


def test_every_target_failing_answers_the_last_error(routing_iris, cued_openai, cued_anthropic):
    cued_openai.cued.cue(Cued.error(503))
    cued_anthropic.cued.cue(Cued.error(502, "second down"))
    config = fallback(openai_leaf(cued_openai), anthropic_leaf(cued_anthropic))
    response = chat(routing_iris, config)
    assert response.status_code == 502
    assert routed_headers(response)[0] == "config.targets[1]"
    tried = attempts(routing_iris, response.headers["x-iris-request-id"])
    assert [a["status"] for a in tried] == [503, 502]
    assert routing_iris.log(response.headers["x-iris-request-id"])["status_code"] == 502


def test_retries_honour_retry_after(routing_iris, cued_openai):
    cued_openai.cued.cue(
        Cued.error(429, "slow down", **{"retry-after": "1"}),
        Cued.error(503, **{"retry-after-ms": "400"}),
    )
    config = openai_leaf(cued_openai, retry={"attempts": 3, "use_retry_after_header": True})
    response = chat(routing_iris, config, user("third time lucky"))
    assert answer(response).endswith("You said: third time lucky")
    assert cued_openai.cued.models() == ["gpt-4o"] * 3
    first, second = cued_openai.cued.gaps()
    assert first >= 1.0 and second >= 0.4  # waited as told (never less; more is scheduling)
    # The retry after a failed attempt sent the client's body again, byte for byte.
    bodies = [c.request.body for c in cued_openai.cued.calls]
    assert bodies[0] == bodies[1] == bodies[2] and json.loads(bodies[2])["messages"]
    assert routed_headers(response) == ("config", "2", "DISABLED")
    tried = attempts(routing_iris, response.headers["x-iris-request-id"])
    assert [(a["retry"], a["status"], a["fell_back"]) for a in tried] == [
        (0, 429, False),
        (1, 503, False),
        (2, 200, False),
    ]
    logged = routing_iris.log(response.headers["x-iris-request-id"])
    assert logged["status_code"] == 200


def test_without_the_header_retries_back_off(routing_iris, cued_openai):
    # GATEWAY_RETRY_BASE_WAIT is 0.05 s: the waits are at least 25 ms, then 50 ms.
    cued_openai.cued.cue(Cued.error(500, **{"retry-after": "30"}), Cued.error(500))
    response = chat(routing_iris, openai_leaf(cued_openai, retry={"attempts": 2}))
    assert answer(response)
    first, second = cued_openai.cued.gaps()
    assert first >= 0.025 and second >= 0.05
    assert first < 30  # the header was not followed (use_retry_after_header is off)


def test_retries_used_up_then_fall_back(routing_iris, cued_openai, cued_anthropic):
    cued_openai.cued.cue(*[Cued.error(500)] * 3)
    config = fallback(openai_leaf(cued_openai), anthropic_leaf(cued_anthropic))
    config["retry"] = {"attempts": 2, "on_status_codes": [500]}  # inherited by both
    response = chat(routing_iris, config)
    assert answer(response)
    assert len(cued_openai.cued.calls) == 3 and len(cued_anthropic.cued.calls) == 1
    assert routed_headers(response) == ("config.targets[1]", "0", "DISABLED")
    tried = attempts(routing_iris, response.headers["x-iris-request-id"])
    assert [(a["target"][-2], a["retry"], a["status"]) for a in tried] == [
        ("0", 0, 500),
        ("0", 1, 500),
        ("0", 2, 500),
        ("1", 0, 200),
    ]
    assert [a["fell_back"] for a in tried] == [False, False, False, True]


def test_a_status_not_listed_is_not_retried(routing_iris, cued_openai):
    cued_openai.cued.cue(Cued.error(500))
    response = chat(
        routing_iris, openai_leaf(cued_openai, retry={"attempts": 3, "on_status_codes": [429]})
    )
    assert response.status_code == 500 and len(cued_openai.cued.calls) == 1


def test_a_request_timeout_falls_back(routing_iris, cued_openai, cued_anthropic):
    cued_openai.cued.cue(Cued.slow(2.0))
    config = fallback(openai_leaf(cued_openai, request_timeout=300), anthropic_leaf(cued_anthropic))
    response = chat(routing_iris, config, user("in time?"))
    assert answer(response) == "I see 0 image(s). You said: in time?"
    assert len(cued_openai.cued.calls) == 1 and len(cued_anthropic.cued.calls) == 1
    tried = attempts(routing_iris, response.headers["x-iris-request-id"])
    assert tried[0]["status"] == 408 and "request_timeout of 300 ms" in tried[0]["error"]
    assert tried[1]["status"] == 200 and tried[1]["provider"] == "anthropic"


def test_a_timeout_alone_answers_408(routing_iris, cued_openai):
    cued_openai.cued.cue(Cued.slow(2.0))
    response = chat(routing_iris, openai_leaf(cued_openai, request_timeout=200))
    assert response.status_code == 408
    assert response.json()["error"]["code"] == "request_timeout"


def test_a_stream_comes_from_the_fallback(routing_iris, cued_openai, cued_anthropic):
    cued_openai.cued.cue(Cued.error(500))
    config = fallback(openai_leaf(cued_openai), anthropic_leaf(cued_anthropic))
    with httpx.stream(
        "POST",
        f"{routing_iris.url}/v1/chat/completions",
        headers=routing_iris.headers(**{"x-portkey-config": json.dumps(config)}),
        json={"model": "gpt-4o", "messages": user("stream me", CAT_URI), "stream": True},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert routed_headers(response)[:2] == ("config.targets[1]", "0")
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "I see 1 image(s). You said: stream me"
    assert cued_openai.cued.calls[0].request.json()["stream"] is True
    assert cued_anthropic.cued.calls[0].request.json()["stream"] is True
    tried = attempts(routing_iris, response.headers["x-iris-request-id"])
    assert [(a["provider"], a["status"]) for a in tried] == [("openai", 500), ("anthropic", 200)]
    logged = routing_iris.log(response.headers["x-iris-request-id"])
    assert logged["status_code"] == 200 and logged["is_stream"] is True


def test_the_time_to_first_byte_is_the_answering_targets(routing_iris, cued_openai, cued_anthropic):
    # The failed attempt answers at once; the fallback's answer takes at least 600 ms. The
    # logged time to first byte must be the answer's, not the failed attempt's.
    cued_anthropic.cued.cue(Cued.error(500))
    late = Reply.json(200, openai_fake.completion("gpt-4o", "late but here"))
    cued_openai.cued.cue(Cued.slow(0.6, then=late))
    config = fallback(anthropic_leaf(cued_anthropic), openai_leaf(cued_openai))
    response = chat(routing_iris, config)
    assert answer(response) == "late but here"
    logged = row(routing_iris, response.headers["x-iris-request-id"], "ttft_ms", "latency_ms")
    assert logged["ttft_ms"] >= 600 and logged["latency_ms"] >= logged["ttft_ms"]


def test_a_500_falls_back_to_bedrock_signed_with_the_leafs_aws_keys(
    routing_iris, cued_openai, cued_bedrock
):
    cued_openai.cued.cue(Cued.error(500))
    model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    bedrock_leaf = {
        "provider": "bedrock",
        "custom_host": cued_bedrock.url,
        "aws_access_key_id": bedrock_fake.ACCESS_KEY_ID,
        "aws_secret_access_key": bedrock_fake.SECRET_ACCESS_KEY,
        "aws_region": bedrock_fake.REGION,
        "override_params": {"model": model},
    }
    config = fallback(openai_leaf(cued_openai), bedrock_leaf)
    response = chat(routing_iris, config, user("on bedrock", CAT_URI))
    assert response.status_code == 200, response.text
    assert "on bedrock" in answer(response)
    assert cued_bedrock.cued.models() == [model]  # signed with the leaf's keys: the fake checks
    call = cued_bedrock.cued.calls[0].request
    [image] = [b["image"] for b in call.json()["messages"][0]["content"] if "image" in b]
    assert image["format"] == "png" and base64.b64decode(image["source"]["bytes"]) == CAT
    assert (
        bedrock_fake.SECRET_ACCESS_KEY
        not in routing_iris.log(response.headers["x-iris-request-id"]).__repr__()
    )
