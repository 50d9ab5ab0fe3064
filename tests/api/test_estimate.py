"""POST /v1/estimate over real sockets: a real Iris, requests with several images for each of
the five providers, no upstream call. Token counts are the providers' documented rules worked
by hand (each test cites its page); text tokens come from gateway/tokens.py, which its own
tests check against OpenAI's cookbook."""

import base64
from decimal import Decimal

import httpx
import pytest

from gateway import tokens
from tests.conftest import IrisServer, png_bytes
from tests.fakes import openai as fake_openai_handler
from tests.fakes.server import FakeServer


@pytest.fixture(scope="module")
def upstream():
    """Where every provider's requests would go: nothing may arrive."""
    with FakeServer(fake_openai_handler.handle) as server:
        yield server


def uri(size, mode="L", fmt="PNG") -> str:
    mime = "image/png" if fmt == "PNG" else f"image/{fmt.lower()}"
    data = png_bytes(size=size, mode=mode, fmt=fmt)
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def image(url: str, detail: str | None = None) -> dict:
    spec = {"url": url, **({"detail": detail} if detail else {})}
    return {"type": "image_url", "image_url": spec}


def chat(model: str, *parts: dict, text: str = "What differs between these?") -> dict:
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": text}, *parts]},
        ],
    }


def post(iris, upstream, provider: str, body: dict, *, params=None, **headers) -> httpx.Response:
    host = f"{upstream.url}/openai" if provider == "azure-openai" else f"{upstream.url}/v1"
    sent = {
        "x-portkey-provider": provider,
        "x-portkey-custom-host": host,
        "authorization": "Bearer sk-not-used",
        **headers,
    }
    return httpx.post(
        f"{iris.url}/v1/estimate",
        params=params,
        json=body,
        headers=iris.headers(**sent),
        timeout=30,
    )


def estimated(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def text_tokens(provider: str, model: str, body: dict) -> tuple[int, str]:
    return tokens.count_messages(provider, model, body["messages"])


def test_openai_tiles_per_image_and_for_the_request(iris, upstream, fake_openai):
    # developers.openai.com/api/docs/guides/images-vision (read 2026-11-26), gpt-4o: 85 base
    # + 170 a 512-px tile, after fitting 2048×2048 then 768 px on the short side.
    before = len(upstream.received)
    body = chat(
        "gpt-4o",
        image(uri((1024, 1024)), "high"),  # → 768×768, 2×2 tiles: 85 + 4×170 = 765
        image(uri((2048, 4096)), "high"),  # → 1024×2048 → 768×1536, 2×3 tiles: 85 + 6×170 = 1105
        image(uri((4096, 8192)), "low"),  # low: 85 flat (seen within 512×512: 256×512)
        image(f"{fake_openai.url}/images/rocket.jpg"),  # 640×427, auto as high: 2×1: 425
    )
    answer = estimated(post(iris, upstream, "openai", body))
    assert len(upstream.received) == before  # no upstream call
    got = [
        (i["index"], i["message"], i["part"], i["width"], i["height"], i["seen_width"])
        + (i["seen_height"], i["estimated_tokens"])
        for i in answer["images"]
    ]
    assert got == [
        (0, 1, 1, 1024, 1024, 768, 768, 765),
        (1, 1, 2, 2048, 4096, 768, 1536, 1105),
        (2, 1, 3, 4096, 8192, 256, 512, 85),
        (3, 1, 4, 640, 427, 640, 427, 425),
    ]
    assert answer["images"][1]["grid"] == {
        "kind": "tiles",
        "cols": 2,
        "rows": 3,
        "cell": 512,
        "tokens_per_cell": 170,
        "base_tokens": 85,
    }
    assert answer["images"][2]["warnings"] == [
        "detail: low — the model saw 512 px, a flat 85 tokens",
        "downscaled 16.0×: small text may be unreadable",
    ]
    assert answer["images"][3]["origin"] == "url" and answer["images"][3]["bytes"] == 112525
    text, method = text_tokens("openai", "gpt-4o", body)
    assert (answer["text_tokens"], answer["text_method"]) == (text, method)
    assert method == tokens.APPROXIMATION  # GATEWAY_TOKENIZER's default
    assert answer["image_tokens"] == 765 + 1105 + 85 + 425
    assert answer["estimated_prompt_tokens"] == text + 2380
    # gpt-4o input: $2.50 per million tokens (openai.com/api/pricing, via genai-prices).
    assert Decimal(answer["estimated_cost_usd"]) == (text + 2380) * Decimal("2.5") / 10**6
    assert (answer["problems"], answer["fits"]) == ([], True)
    assert all(i["problems"] == [] for i in answer["images"])


def test_azure_uses_openais_rule(iris, upstream):
    headers = {"x-portkey-azure-deployment-id": "vision", "x-portkey-azure-api-version": "v1"}
    body = chat("gpt-4o", image(uri((1024, 1024)), "high"), image(uri((512, 512)), "low"))
    answer = estimated(post(iris, upstream, "azure-openai", body, **headers))
    assert [i["estimated_tokens"] for i in answer["images"]] == [765, 85]
    assert answer["provider"] == "azure-openai" and answer["fits"] is True


def test_anthropic_patches_and_its_size_limit(iris, upstream):
    # platform.claude.com/docs/en/build-with-claude/vision (read 2026-11-26): one token per
    # 28×28 patch; an image over 8000 px a side is refused.
    body = chat(
        "claude-sonnet-4-5",
        image(uri((1000, 1000))),  # 36 × 36 patches = 1296
        image(uri((200, 100))),  # 8 × 4 = 32
        image(uri((9000, 10))),  # too wide
    )
    answer = estimated(post(iris, upstream, "anthropic", body))
    assert [i["estimated_tokens"] for i in answer["images"][:2]] == [1296, 32]
    assert answer["images"][0]["grid"]["kind"] == "patches"
    assert answer["fits"] is False
    [problem] = answer["problems"]
    assert problem == {
        "image": 2,
        "message": "messages[1].content[3]: the image is 9000×10 px; at most 8000 px a side "
        "(anthropic limit: max_side=8000).",
        "param": "messages.1.content.3.image_url",
        "code": "image_too_large",
        "limit": "max_side=8000",
    }
    assert answer["images"][2]["problems"] == [problem["message"]]
    # claude-sonnet-4-5: $3 per million input tokens (anthropic.com/pricing, via genai-prices).
    prompt = answer["estimated_prompt_tokens"]
    assert Decimal(answer["estimated_cost_usd"]) == prompt * Decimal(3) / 10**6


def test_gemini_tiles_and_the_small_image_rule(iris, upstream):
    # ai.google.dev/gemini-api/docs/tokens and .../image-understanding (read 2026-11-26):
    # both sides ≤ 384 px: 258 tokens; else crop unit = floor(shorter side / 1.5), each unit
    # a 768-px tile of 258 tokens.
    body = chat(
        "gemini-2.5-flash",
        image(uri((384, 384))),  # 258
        image(uri((1000, 1000))),  # crop 666: 2×2 tiles = 1032
    )
    answer = estimated(post(iris, upstream, "google", body))
    assert [i["estimated_tokens"] for i in answer["images"]] == [258, 1032]
    assert answer["images"][1]["grid"]["cols"] == 2 and answer["images"][1]["grid"]["rows"] == 2
    assert answer["image_tokens"] == 1290 and answer["fits"] is True


def test_bedrock_by_model_family_and_its_image_count(iris, upstream):
    # Claude on Bedrock: Anthropic's rule. Amazon Nova: AWS's table
    # (docs.aws.amazon.com/nova/latest/userguide/modalities-image.html, read 2026-11-26):
    # 900×900 → 1300 tokens, 900×450 → 800.
    claude = estimated(
        post(
            iris,
            upstream,
            "bedrock",
            chat("anthropic.claude-sonnet-4-5-20250929-v1:0", image(uri((1000, 1000)))),
        )
    )
    assert claude["images"][0]["estimated_tokens"] == 1296
    nova = chat("amazon.nova-pro-v1:0", image(uri((900, 900))), image(uri((900, 450))))
    answer = estimated(post(iris, upstream, "bedrock", nova))
    assert [i["estimated_tokens"] for i in answer["images"]] == [1300, 800]
    # The Converse API takes 20 images a request: the 21st is named.
    many = chat("amazon.nova-pro-v1:0", *[image(uri((10, 10)))] * 21)
    answer = estimated(post(iris, upstream, "bedrock", many))
    assert answer["fits"] is False
    [problem] = answer["problems"]
    assert (problem["image"], problem["code"], problem["limit"]) == (
        20,
        "too_many_images",
        "max_images=20",
    )
    assert problem["message"].startswith("messages[1].content[21]: the request has 21 images")


def test_an_unknown_rule_is_unknown_never_a_guess(iris, upstream):
    answer = estimated(
        post(iris, upstream, "bedrock", chat("cohere.command-r-v1:0", image(uri((100, 100)))))
    )
    item = answer["images"][0]
    assert (item["estimated_tokens"], item["seen_width"], item["grid"]) == (None, None, None)
    assert answer["estimated_prompt_tokens"] is None and answer["estimated_cost_usd"] is None


def test_a_responses_body(iris, upstream):
    body = {
        "model": "gpt-4o",
        "instructions": "You are terse.",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What differs between these?"},
                    {"type": "input_image", "image_url": uri((1024, 1024)), "detail": "high"},
                ],
            }
        ],
    }
    answer = estimated(post(iris, upstream, "openai", body, params={"endpoint": "responses"}))
    assert answer["endpoint"] == "responses"
    [item] = answer["images"]
    assert (item["message"], item["part"], item["estimated_tokens"]) == (0, 1, 765)
    # The Responses API: its instructions and input texts, without chat's overhead.
    assert (
        answer["text_tokens"]
        == tokens.count_text("openai", "gpt-4o", ["You are terse.", "What differs between these?"])[
            0
        ]
    )


def test_it_is_logged_as_an_estimate_without_an_upstream(iris, upstream):
    response = post(iris, upstream, "openai", chat("gpt-4o", image(uri((1024, 1024)), "high")))
    assert response.status_code == 200
    log = iris.log(response.headers["x-iris-request-id"])
    assert (log["endpoint"], log["status_code"], log["upstream_url"]) == ("estimate", 200, "")
    assert log["response_body"]["images"][0]["estimated_tokens"] == 765
    assert len(log["images"]) == 1 and log["images"][0]["width"] == 1024


@pytest.mark.parametrize(
    ("content", "params", "status", "code"),
    [
        (b"{not json", None, 400, "invalid_json"),
        (b'{"model": "gpt-4o"}', None, 400, "missing_required_parameter"),
        (b'{"model": "gpt-4o", "input": "hi"}', {"endpoint": "images.edits"}, 400, None),
    ],
)
def test_bad_bodies_get_the_chat_routes_400s(iris, upstream, content, params, status, code):
    response = httpx.post(
        f"{iris.url}/v1/estimate",
        params=params,
        content=content,
        headers=iris.headers(
            **{"x-portkey-provider": "openai", "x-portkey-custom-host": f"{upstream.url}/v1"}
        ),
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    if code:
        assert error["code"] == code
    else:
        assert error["code"] == "invalid_endpoint" and error["param"] == "endpoint"


def test_a_key_is_needed_and_only_post_is_served(iris):
    assert httpx.post(f"{iris.url}/v1/estimate", json={}).status_code == 401
    refused = httpx.get(f"{iris.url}/v1/estimate", headers=iris.headers())
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"


def test_input_cost_prices_image_tokens_at_their_own_price(monkeypatch):
    from gateway import pricing
    from gateway.api import estimate

    class Priced:
        def as_json(self):
            return {"input_usd_per_million": "2.5", "image_input_usd_per_million": "10"}

    monkeypatch.setattr(pricing, "record_cost", lambda *args: Priced())
    # 1000 text tokens at $2.50/M + 500 image tokens at $10/M = 0.0025 + 0.005
    assert estimate.input_cost("openai", "m", "chat.completions", 1000, 500) == "0.0075"
    assert estimate.input_cost("openai", "m", "chat.completions", 1000, None) is None
    monkeypatch.setattr(pricing, "record_cost", lambda *args: None)  # no price: unknown
    assert estimate.input_cost("openai", "m", "chat.completions", 1000, 500) is None


def test_text_is_counted_with_tiktoken_when_asked(tmp_path, upstream):
    server = IrisServer(tmp_path, GATEWAY_TOKENIZER="tiktoken").start()
    try:
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "tiktoken is great!"}]}
        answer = estimated(post(server, upstream, "openai", body))
    finally:
        server.stop()
    # The cookbook: "tiktoken is great!" is 6 tokens; one user message: 3 + 1 (role) + 3.
    assert answer["text_method"] == "tiktoken o200k_base + chat overhead (OpenAI cookbook)"
    assert answer["text_tokens"] == 6 + 3 + 1 + 3


def test_a_continued_conversation_counts_its_earlier_turns(iris, fake_anthropic):
    headers = iris.headers(
        **{
            "x-portkey-provider": "anthropic",
            "x-portkey-custom-host": f"{fake_anthropic.url}/v1",
            "authorization": "Bearer sk-not-used",
        }
    )
    picture = {"type": "input_image", "image_url": uri((1000, 1000))}
    first = {
        "model": "claude-sonnet-4-5",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "What?"}, picture]}],
    }
    made = httpx.post(f"{iris.url}/v1/responses", json=first, headers=headers, timeout=30)
    assert made.status_code == 200, made.text
    body = {
        "model": "claude-sonnet-4-5",
        "previous_response_id": made.json()["id"],
        "input": "And?",
    }
    answer = estimated(
        httpx.post(
            f"{iris.url}/v1/estimate",
            params={"endpoint": "responses"},
            json=body,
            headers=headers,
            timeout=30,
        )
    )
    # The first turn's picture, as Claude sees it again: 1000×1000 → 36×36 patches of 28 px.
    [earlier] = answer["images"]
    assert (earlier["earlier_turn"], earlier["estimated_tokens"]) == (True, 1296)
    assert answer["estimated_prompt_tokens"] == 1296 + answer["text_tokens"]
    assert answer["text_tokens"] > tokens.count_text("anthropic", "m", ["And?"])[0]
    unknown = {**body, "previous_response_id": "resp_iris_" + "0" * 32}
    refused = httpx.post(
        f"{iris.url}/v1/estimate",
        params={"endpoint": "responses"},
        json=unknown,
        headers=headers,
        timeout=30,
    )
    assert refused.status_code == 404, refused.text  # as /v1/responses answers it
