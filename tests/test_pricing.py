"""The cost of logged requests, computed by hand from the providers' price pages, for recorded
answers of each provider as Iris translates them (so the usage is the one Iris logs).

Rates per million tokens, as genai-prices 0.2.3 carries them from the providers' pages
(https://developers.openai.com/api/docs/pricing, https://www.anthropic.com/pricing#api,
https://ai.google.dev/gemini-api/docs/pricing, https://aws.amazon.com/bedrock/pricing/,
read through the library 2026-11-26):
  openai gpt-4o: input 2.50, cached 1.25, output 10 · o4-mini: 1.10, 0.275, 4.40
  gpt-5: 1.25, 0.125, 10 · gpt-image-1: text in 5, image in 10, out 40
  azure gpt-4o: as OpenAI's · anthropic claude-sonnet-4-5: in 3, cache write 3.75, read 0.30,
  out 15 (above 200k input tokens: 6, 7.50, 0.60, 22.50)
  google gemini-2.5-flash: in 0.30, out 2.50 · gemini-2.5-flash-image: out image 30
  bedrock Claude Sonnet 4.5: regional (us., eu., none) in 3.30, out 16.50; global. 3, 15
"""

import socket
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from gateway import image_prices, pricing
from gateway.chat import parse_chat
from gateway.imagejob import ImageJob
from gateway.log.record import Record
from gateway.providers import anthropic, bedrock, gemini, gemini_images, openai
from gateway.responses import events

pytestmark = pytest.mark.django_db  # record_cost reads the admin's prices

DATA = Path(__file__).parent / "data"
D = Decimal


def chat_of(model: str, stream: bool = False):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    return parse_chat(orjson.dumps(body))


def streamed_usage(stream, raw: bytes) -> dict:
    """Feed a recorded stream through the provider's translator into a log record."""
    record = Record(path="/v1/chat/completions", request_headers={})
    for chunk in [*stream.feed(raw), *stream.close()]:
        record.add_chunk(chunk)
    return record.usage


def cost(provider, model, endpoint, usage, body=None, **kw) -> pricing.Cost:
    return pricing.price(
        pricing.counts(usage, endpoint),
        image_prices.images_made(body) if endpoint.startswith("images.") else 0,
        pricing.library_price(provider, pricing.model_name(model)),
        kw.get("admin"),
        image_prices.per_image(provider, model, body, kw.get("request_body")),
    )


def lines(c: pricing.Cost) -> dict[str, tuple[int, str | None]]:
    return {line["kind"]: (line["quantity"], line["usd"]) for line in c.as_json()["lines"]}


# -- OpenAI and Azure ---------------------------------------------------------------------


def test_openai_chat_with_cached_input():
    # The usage of OpenAI's prompt caching guide: 2006 prompt tokens, 1920 of them cached.
    # https://developers.openai.com/api/docs/guides/prompt-caching (read 2026-11-26)
    usage = {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    answer = openai.parse_response({"model": "gpt-4o", "choices": [], "usage": usage}, None)
    c = cost("openai", "gpt-4o", "chat.completions", answer["usage"])
    # 86 × 2.50 + 1920 × 1.25 + 300 × 10 = 215 + 2400 + 3000 µ$ = $0.005615
    assert c.total == D("0.005615")
    assert lines(c) == {
        "input": (86, "0.000215"),
        "cached_input": (1920, "0.0024"),
        "output": (300, "0.003"),
    }
    assert c.as_json()["source"] == "genai-prices 0.2.3: openai gpt-4o"
    assert c.as_json()["input_usd_per_million"] == "2.5"


def test_reasoning_tokens_are_part_of_the_output_not_added_to_it():
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 1500,
        "completion_tokens_details": {"reasoning_tokens": 1200},
    }
    c = cost("openai", "o4-mini-2025-04-16", "chat.completions", usage)
    # 1000 × 1.10 + (300 + 1200) × 4.40 = 1100 + 6600 µ$; reasoning priced as output
    assert c.total == D("0.0077")
    assert lines(c)["output"] == (300, "0.00132")
    assert lines(c)["reasoning"] == (1200, "0.00528")


def test_azure_stream_usage_priced_by_the_model_the_deployment_answered_with():
    # A deployment named "prod-vision" serving gpt-4o-2024-08-06 (the recorded stream's
    # model): the library knows no "prod-vision", the answer's model says what it is.
    raw = (DATA / "azure/stream_text.sse").read_bytes()
    usage = streamed_usage(openai.Stream(chat_of("prod-vision", stream=True)), raw)
    body = {"model": "gpt-4o-2024-08-06"}  # the stream's model, as the log assembles it
    c = pricing.record_cost("azure-openai", "prod-vision", "chat.completions", usage, body)
    # 296 × 2.50 + 11 × 10 = 740 + 110 µ$
    assert c.total == D("0.00085")
    assert c.as_json()["source"] == "genai-prices 0.2.3: azure gpt-4o"


# -- Anthropic ------------------------------------------------------------------------------


def test_anthropic_message_with_cache_reads_and_writes():
    raw = {
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 50,
            "cache_creation_input_tokens": 1000,
            "cache_read_input_tokens": 2000,
            "output_tokens": 300,
        },
    }
    usage = anthropic.parse_response(raw, chat_of("claude-sonnet-4-5"))["usage"]
    assert usage["prompt_tokens"] == 3050  # Iris sums them as OpenAI counts
    c = cost("anthropic", "claude-sonnet-4-5", "chat.completions", usage)
    # 50 × 3 + 1000 × 3.75 + 2000 × 0.30 + 300 × 15 = 150 + 3750 + 600 + 4500 µ$
    assert c.total == D("0.009")
    assert lines(c) == {
        "input": (50, "0.00015"),
        "cached_input": (2000, "0.0006"),
        "cache_write": (1000, "0.00375"),
        "output": (300, "0.0045"),
    }


def test_anthropic_stream_usage_from_the_recorded_stream():
    chat = chat_of("claude-sonnet-4-5", stream=True)
    usage = streamed_usage(
        anthropic.Stream(chat), (DATA / "anthropic/stream_text.sse").read_bytes()
    )
    c = cost("anthropic", "claude-sonnet-4-5-20250929", "chat.completions", usage)
    # message_start: 1543 in, 512 written, 2048 read; message_delta: 17 out.
    # 1543 × 3 + 512 × 3.75 + 2048 × 0.30 + 17 × 15 = 4629 + 1920 + 614.4 + 255 µ$
    assert c.total == D("0.0074184")


def test_anthropic_past_200k_input_tokens_every_part_takes_the_long_context_rate():
    usage = {"prompt_tokens": 250_000, "completion_tokens": 1000}
    c = cost("anthropic", "claude-sonnet-4-5", "chat.completions", usage)
    # 250000 × 6 + 1000 × 22.50 = 1.5 + 0.0225
    assert c.total == D("1.5225")
    assert c.as_json()["input_usd_per_million"] == "6"


# -- Google ---------------------------------------------------------------------------------


def test_gemini_stream_with_thoughts_billed_as_output_once():
    chat = chat_of("gemini-2.5-flash", stream=True)
    usage = streamed_usage(gemini.Stream(chat), (DATA / "gemini/stream_text.sse").read_bytes())
    # usageMetadata: 266 prompt, 19 candidates, 32 thoughts → completion 51, reasoning 32
    assert usage["completion_tokens"] == 51
    c = cost("google", "gemini-2.5-flash", "chat.completions", usage)
    # 266 × 0.30 + (19 + 32) × 2.50 = 79.8 + 127.5 µ$
    assert c.total == D("0.0002073")
    assert lines(c)["reasoning"] == (32, "0.00008")


def test_gemini_image_model_output_image_tokens():
    # One 1024x1024 image is 1290 output tokens, Google's $0.039 per image at $30/M.
    # https://ai.google.dev/gemini-api/docs/image-generation (read 2026-11-26)
    meta = {
        "promptTokenCount": 10,
        "candidatesTokenCount": 1290,
        "totalTokenCount": 1300,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}],
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}],
    }
    part = {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    raw = {"candidates": [{"content": {"parts": [part]}}], "usageMetadata": meta}
    job = ImageJob("images.generations", {"model": "gemini-2.5-flash-image", "prompt": "a cat"})
    answer = gemini_images.parse_response(raw, job)
    c = cost("google", "gemini-2.5-flash-image", "images.generations", answer["usage"], answer)
    # 10 × 0.30 + 1290 × 30 = 3 + 38700 µ$
    assert c.total == D("0.038703")
    assert lines(c) == {
        "input": (10, "0.000003"),
        "output": (0, "0"),
        "image_output": (1290, "0.0387"),
    }


def test_imagen_is_priced_per_image():
    body = {"data": [{"b64_json": "x"}, {"b64_json": "y"}]}
    c = pricing.record_cost(
        "google", "models/imagen-4.0-fast-generate-001", "images.generations", None, body
    )
    assert c.total == D("0.04")  # 2 × $0.02
    assert c.as_json()["source"] == "Iris image prices: imagen-4.0-fast-generate-001"


# -- Bedrock --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "total"),
    [
        # 1582 × 3.30 + 38 × 16.50 = 5220.6 + 627 µ$ (regional endpoints, a 10% premium)
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", D("0.0058476")),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", D("0.0058476")),
        # 1582 × 3 + 38 × 15 = 4746 + 570 µ$ (global cross-region inference)
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", D("0.005316")),
    ],
)
def test_bedrock_converse_by_model_id_and_region_prefix(model, total):
    raw = orjson.loads((DATA / "bedrock/converse_text.json").read_bytes())
    usage = bedrock.parse_response(raw, chat_of(model))["usage"]
    assert pricing.record_cost("bedrock", model, "chat.completions", usage, None).total == total


def test_bedrock_stability_per_image_with_a_region_prefix():
    body = {"data": [{"b64_json": "x"}], "output_format": "png"}
    c = pricing.record_cost(
        "bedrock", "us.stability.sd3-5-large-v1:0", "images.generations", None, body
    )
    assert c.total == D("0.08")


# -- Responses and Images APIs --------------------------------------------------------------


def test_responses_api_usage_with_reasoning():
    usage = {
        "input_tokens": 2000,
        "input_tokens_details": {"cached_tokens": 1000},
        "output_tokens": 500,
        "output_tokens_details": {"reasoning_tokens": 320},
        "total_tokens": 2500,
    }
    c = cost("openai", "gpt-5", "responses", usage)
    # 1000 × 1.25 + 1000 × 0.125 + (180 + 320) × 10 = 1250 + 125 + 5000 µ$
    assert c.total == D("0.006375")
    assert lines(c)["reasoning"] == (320, "0.0032")


def test_responses_api_translated_from_anthropic_keeps_cache_writes():
    chat_usage = anthropic.parse_response(
        {
            "content": [],
            "usage": {
                "input_tokens": 50,
                "cache_creation_input_tokens": 1000,
                "cache_read_input_tokens": 2000,
                "output_tokens": 300,
            },
        },
        chat_of("claude-sonnet-4-5"),
    )["usage"]
    usage = events.usage(chat_usage)
    assert cost("anthropic", "claude-sonnet-4-5", "responses", usage).total == D("0.009")


def test_images_api_gpt_image_with_image_tokens():
    # The usage in OpenAI's Images API reference (images/create, read 2026-11-26).
    body = {
        "created": 1713833628,
        "data": [{"b64_json": "..."}],
        "usage": {
            "total_tokens": 100,
            "input_tokens": 50,
            "output_tokens": 50,
            "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
        },
    }
    c = pricing.record_cost("openai", "gpt-image-1", "images.edits", body["usage"], body)
    # 10 × 5 + 40 × 10 + 50 × 40 (all output is image) = 50 + 400 + 2000 µ$
    assert c.total == D("0.00245")
    assert lines(c) == {
        "input": (10, "0.00005"),
        "image_input": (40, "0.0004"),
        "output": (0, "0"),
        "image_output": (50, "0.002"),
    }
    assert c.as_json()["image_input_usd_per_million"] == "10"


@pytest.mark.parametrize(
    ("request_body", "total", "label"),
    [
        ({"size": "1024x1792", "quality": "hd"}, D("0.12"), "dall-e-3 1024x1792 hd"),
        ({"size": "1792x1024"}, D("0.08"), "dall-e-3 1792x1024 standard"),
        ({}, D("0.04"), "dall-e-3 1024x1024 standard"),  # the API's defaults
    ],
)
def test_dall_e_3_per_image_by_size_and_quality(request_body, total, label):
    body = {"created": 1, "data": [{"url": "https://x/y.png", "revised_prompt": "a cat"}]}
    c = pricing.record_cost(
        "openai", "dall-e-3", "images.generations", None, body, request_body=request_body
    )
    assert c.total == total
    assert c.as_json()["lines"] == [
        {
            "kind": "images",
            "quantity": 1,
            "unit": "image",
            "usd_per_image": str(total),
            "usd": str(total),
        }
    ]
    assert c.as_json()["source"] == f"Iris image prices: {label}"


def test_dall_e_2_counts_the_images_in_the_answer():
    body = {"data": [{"url": "a"}, {"url": "b"}, {"url": "c"}]}
    c = pricing.record_cost(
        "openai", "dall-e-2", "images.variations", None, body, request_body={"size": "512x512"}
    )
    assert c.total == D("0.054")  # 3 × $0.018


def test_dall_e_without_the_request_body_is_unknown_rather_than_guessed():
    c = pricing.record_cost("openai", "dall-e-3", "images.generations", None, {"data": [{}]})
    assert c.total is None and c.as_json()["unknown"] == ["images"]


# -- Unknown --------------------------------------------------------------------------------


def test_a_model_without_a_price_is_unknown_never_zero():
    usage = {"prompt_tokens": 10, "completion_tokens": 5}
    c = pricing.record_cost("openai", "my-fine-tune", "chat.completions", usage, None)
    assert c.total is None
    out = c.as_json()
    assert out["total"] is None and out["source"] == "unknown"
    assert out["unknown"] == ["input", "output"]
    assert out["lines"][0] == {
        "kind": "input",
        "quantity": 10,
        "unit": "token",
        "usd_per_million": None,
        "usd": None,
    }


def test_bedrock_image_models_without_a_readable_price_are_unknown():
    body = {"data": [{"b64_json": "x"}, {"b64_json": "y"}], "size": "1024x1024"}
    c = pricing.record_cost("bedrock", "amazon.nova-canvas-v1:0", "images.generations", None, body)
    assert c.total is None
    assert c.as_json()["lines"][0]["quantity"] == 2


def test_nothing_to_price_is_no_cost():
    assert pricing.record_cost("openai", "gpt-4o", "chat.completions", None, None) is None
    assert pricing.record_cost("openai", "gpt-4o", "chat.completions", "junk", None) is None


def test_the_breakdown_is_exactly_the_documented_shape():
    c = cost("openai", "gpt-4o", "chat.completions", {"prompt_tokens": 1, "completion_tokens": 0})
    out = c.as_json()
    assert list(out) == [
        "total",
        "currency",
        "source",
        "lines",
        "input_usd_per_million",
        "image_input_usd_per_million",
        "unknown",
    ]
    assert out["total"] == "0.0000025" and out["currency"] == "USD"
    assert orjson.loads(orjson.dumps(out)) == out  # plain JSON, stored as it is


def test_a_total_no_bill_reaches_is_left_unknown_rather_than_failing_the_row():
    usage = {"prompt_tokens": 10**12, "completion_tokens": 0}  # cost_usd holds < $1M
    c = cost("openai", "gpt-4o", "chat.completions", usage)
    assert c.total is None and c.as_json()["lines"][0]["usd"] == "2500000"


@pytest.mark.parametrize(
    "usage",
    [
        {},
        {"prompt_tokens": -1000, "completion_tokens": -5},
        {"prompt_tokens": "1000", "completion_tokens": "5"},
        {"prompt_tokens": 3.7, "completion_tokens": 1.5e308},
        {"prompt_tokens": 10**30, "completion_tokens": 5},
        {"prompt_tokens": True, "completion_tokens": False},
        {"input_tokens": None, "output_tokens": -1},
    ],
)
def test_usage_with_no_usable_count_is_unknown_never_0(usage):
    assert pricing.record_cost("openai", "gpt-4o", "chat.completions", usage, None) is None


def test_a_part_is_never_billed_past_its_total():
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 99999},
        "completion_tokens_details": {"reasoning_tokens": 50},
    }
    c = pricing.record_cost("openai", "gpt-4o", "chat.completions", usage, None)
    lines = {line["kind"]: line["quantity"] for line in c.as_json()["lines"]}
    assert lines == {"input": 0, "cached_input": 10, "output": 0, "reasoning": 5}


def test_an_images_estimated_cost_from_the_stored_breakdown():
    chat = cost("openai", "gpt-4o", "chat.completions", {"prompt_tokens": 1000}).as_json()
    assert pricing.image_usd(chat, 765) == D("0.0019125")  # 765 × 2.50 (input price)
    edit = cost("openai", "gpt-image-1", "images.edits", {"input_tokens": 1000}).as_json()
    assert pricing.image_usd(edit, 765) == D("0.00765")  # 765 × 10 (image input price)
    unknown = cost("openai", "my-fine-tune", "chat.completions", {"prompt_tokens": 1}).as_json()
    assert pricing.image_usd(unknown, 765) is None
    assert pricing.image_usd(chat, None) is None and pricing.image_usd(None, 765) is None


def test_decimals_are_written_without_exponents():
    assert pricing.decimal_str(D("1E-7")) == "0.0000001"
    assert pricing.decimal_str(D("1E+1")) == "10"
    assert pricing.decimal_str(D("0E-10")) == "0"
    assert pricing.decimal_str(None) is None


def test_pricing_never_goes_to_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pricing opened a socket")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    pricing.library_price.cache_clear()
    assert pricing.library_price("openai", "gpt-4o-mini") is not None
    from genai_prices import data_snapshot

    assert data_snapshot._custom_snapshot is None  # the bundled data, never an update
