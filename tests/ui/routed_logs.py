"""Log rows of requests routed by a config, written as the gateway writes them (a Record with
its attempts → save_records, which derives `retried` and `fell_back`)."""

import json

from gateway import log as request_log
from gateway import redact
from gateway.chat import parse_chat
from gateway.errors import GatewayError
from gateway.log.entry import save_records
from gateway.models import RequestLog

EVIL_ERROR = '<script>window.__pwned = 1</script>Upstream <b>broke</b> & "quoted"'
TOO_LARGE = "image 1 is 9000×9000 px; anthropic takes at most 8000 px a side"

# A fallback chain: the first target answers 500 twice (retried), the second is skipped by
# preflight (the image is too large for it), the third answers.
FALLBACK_CHAIN = [
    {
        "target": "config.targets[0]",
        "retry": 0,
        "fell_back": False,
        "provider": "openai",
        "slug": "",
        "model": "gpt-4o",
        "status": 500,
        "latency_ms": 12.5,
        "error": EVIL_ERROR,
        "cache": "MISS",
    },
    {
        "target": "config.targets[0]",
        "retry": 1,
        "fell_back": False,
        "provider": "openai",
        "slug": "",
        "model": "gpt-4o",
        "status": 500,
        "latency_ms": 10.0,
        "error": "Upstream broke again",
        "cache": "MISS",
    },
    {
        "target": "config.targets[1]",
        "retry": 0,
        "fell_back": True,
        "provider": "anthropic",
        "slug": "claude-prod",
        "model": "claude-sonnet-4-5",
        "status": 400,
        "latency_ms": 0.4,
        "error": TOO_LARGE,
        "skipped": TOO_LARGE,
    },
    {
        "target": "config.targets[2]",
        "retry": 0,
        "fell_back": True,
        "provider": "google",
        "slug": "",
        "model": "gemini-2.5-flash",
        "status": 200,
        "latency_ms": 80.2,
        "cache": "MISS",
    },
]
CACHE_HIT = [
    {
        "target": "config",
        "retry": 0,
        "fell_back": False,
        "provider": "openai",
        "slug": "",
        "model": "gpt-4o-mini",
        "status": 200,
        "latency_ms": 1.5,
        "cache": "HIT",
    }
]


def routed_log(
    attempts: list[dict],
    *,
    config_id: str = "inline",
    cache_status: str = "",
    error: GatewayError | None = None,
    prompt: str = "What is in this image?",
) -> RequestLog:
    last = attempts[-1] if attempts else {}
    body = {"model": last.get("model", "gpt-4o"), "messages": [{"role": "user", "content": prompt}]}
    raw = json.dumps(body).encode()
    record = request_log.Record(
        path="/v1/chat/completions",
        request_headers=redact.redact_headers({"x-portkey-config": config_id}),
        provider=last.get("provider", "openai"),
        provider_slug=last.get("slug", ""),
        model=body["model"],
        raw_body=raw,
        chat=parse_chat(raw),
    )
    record.config_id, record.attempts, record.cache_status = config_id, attempts, cache_status
    if error is not None:
        record.fail(error)
    else:
        record.finish(200, _completion(body["model"]))
    save_records([record])
    return RequestLog.objects.get(request_id=record.request_id)


def _completion(model: str) -> dict:
    return {
        "id": "chatcmpl-routed",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "A cat."}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
    }
