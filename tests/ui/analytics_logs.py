"""Log rows with chosen times, latencies, usage and prices, written the way the gateway
writes them (Record → save_records: the log writer's path, which counts them into the
analytics rollups), for the tests of costs in the list, the logs API and the analytics page."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gateway import log as request_log
from gateway import pricing
from gateway.chat import parse_chat
from gateway.errors import GatewayError
from gateway.log.entry import save_records
from gateway.models import RequestLog
from tests.ui.logs import data_uri, png

# USD per million input and output tokens, for these tests only (the real prices are
# gateway/pricing.py's): a model missing here has no known price.
PRICES = {
    "gpt-4o": (Decimal("2.50"), Decimal("10")),
    "claude-sonnet-4-5": (Decimal(3), Decimal(15)),
}
BASE = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # a past hour, so "now" never cuts a bucket


def priced(provider, model, endpoint, usage, response_body, **options) -> pricing.Cost | None:
    """record_cost as the tests price: input and output tokens at PRICES, unknown without a
    price or without usage (a failed request)."""
    if model not in PRICES or not usage:
        return None
    per_in, per_out = PRICES[model]
    total = (usage["prompt_tokens"] * per_in + usage["completion_tokens"] * per_out) / 10**6
    return pricing.Cost(total, {"input": str(per_in), "output": str(per_out)})


@pytest.fixture
def prices(monkeypatch):
    monkeypatch.setattr(pricing, "record_cost", priced)


def logged(
    minutes: float,
    *,
    provider: str = "openai",
    model: str = "gpt-4o",
    latency: float = 100.0,
    ttft: float | None = None,
    usage: tuple[int, int] | None = (1000, 200),
    images: list[bytes] = (),
    error: GatewayError | None = None,
    metadata: dict | None = None,
    api_key_id: int | None = None,
    prompt: str = "What is in this image?",
    endpoint: str = "chat.completions",
) -> RequestLog:
    """One request logged `minutes` after BASE, answered (or failed) in `latency` ms."""
    content = [{"type": "text", "text": prompt}]
    content += [{"type": "image_url", "image_url": {"url": data_uri(i)}} for i in images]
    raw = json.dumps({"model": model, "messages": [{"role": "user", "content": content}]})
    record = request_log.Record(
        path="/v1/estimate" if endpoint == "estimate" else "/v1/chat/completions",
        endpoint=endpoint,
        request_headers={"x-portkey-provider": provider},
        created_at=BASE + timedelta(minutes=minutes),
        api_key_id=api_key_id,
        provider=provider,
        model=model,
        metadata=metadata or {},
        raw_body=raw.encode(),
        chat=parse_chat(raw.encode()),
    )
    if error is not None:
        record.fail(error)
    else:
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "A cat."}}],
        }
        if usage:
            body["usage"] = {
                "prompt_tokens": usage[0],
                "completion_tokens": usage[1],
                "total_tokens": sum(usage),
            }
        record.finish(200, body)
    record.latency_ms, record.ttft_ms = latency, ttft
    save_records([record])
    return RequestLog.objects.get(request_id=record.request_id)


def epoch(minutes: float) -> int:
    return int(BASE.timestamp() + minutes * 60)


PNG_SMALL = png((6, 4))
PNG_LARGE = png((60, 40), color=(200, 10, 10))
