"""seed_logs: bulk-insert many realistic request logs (default 100,000), for the UI benchmark.

Rows look like what the gateway writes: a mix of providers and models, statuses, streams,
0-10 images per request drawn from a pool of real blobs (so thumbnails work), traces,
metadata, bodies with "iris-blob:" references, three gateway keys, a few image generations,
token counts with Iris's estimate beside them, and a cost (unknown for one model and for
failures). The analytics rollups are kept as the log writer keeps them. Seeded randomness:
the same command gives the same data.
"""

import hashlib
import io
import random
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone
from PIL import Image as PILImage

from gateway import rollups
from gateway.images import sniff
from gateway.models import ApiKey, Blob, LogImage, RequestLog, blob_name

DEMO_IMAGES = Path(__file__).resolve().parents[2] / "demo"
MODELS = {
    "openai": ["gpt-4o", "gpt-4o-mini", "gpt-4.1-mini"],
    "anthropic": ["claude-sonnet-4-5", "claude-haiku-4-5"],
    "google": ["gemini-2.5-flash", "gemini-2.5-pro"],
    "bedrock": ["anthropic.claude-3-5-sonnet-20241022-v2:0", "amazon.nova-lite-v1:0"],
    "azure-openai": ["gpt-4o"],
}
PROVIDER_WEIGHTS = [50, 20, 15, 10, 5]
# USD per million input and output tokens. Illustrative, for seeding only (the real prices
# come from gateway/pricing.py); None: a model without a known price, whose cost is unknown.
SEED_PRICES = {
    "gpt-4o": ("2.50", "10.00"),
    "gpt-4o-mini": ("0.15", "0.60"),
    "gpt-4.1-mini": ("0.40", "1.60"),
    "claude-sonnet-4-5": ("3.00", "15.00"),
    "claude-haiku-4-5": ("1.00", "5.00"),
    "gemini-2.5-flash": ("0.30", "2.50"),
    "gemini-2.5-pro": ("1.25", "10.00"),
    "anthropic.claude-3-5-sonnet-20241022-v2:0": ("3.00", "15.00"),
    "amazon.nova-lite-v1:0": None,
    "gpt-image-1": ("5.00", "40.00"),
}
KEYS = [("web-app", 60), ("batch-jobs", 30), ("mobile", 10)]
GENERATIONS = 0.03  # share of requests that are image generations (gpt-image-1)
SUBJECTS = [
    "receipt",
    "invoice",
    "cat",
    "dashboard screenshot",
    "product photo",
    "x-ray",
    "street sign",
    "handwritten note",
    "chart",
    "menu",
    "passport page",
    "damaged parcel",
]
ASKS = [
    "What is in this image?",
    "Extract the total from this {s}.",
    "Describe this {s} for alt text.",
    "Is this {s} readable? Answer yes or no.",
    "List every item on this {s}.",
    "Translate the text in this {s} to English.",
    "Does this {s} break our content policy?",
    "Classify this {s}.",
]
ANSWERS = [
    "The {s} shows a total of ${n}.{c} including tax.",
    "Yes, the {s} is readable.",
    "This is a {s} with {n} visible items.",
    "No policy issue found in the {s}.",
    "The {s} is blurry; I can only make out {n} words.",
    "A {s} photographed at an angle, with good lighting.",
]
ERRORS = [
    (429, "rate_limit_exceeded", "Rate limit reached for requests per min (RPM)."),
    (400, "invalid_request_error", "Invalid image: the image could not be decoded."),
    (401, "authentication_error", "Incorrect API key provided."),
    (500, "api_error", "The server had an error while processing your request."),
    (502, "upstream_unreachable", "Upstream failed (ConnectError: connection refused)."),
    (504, "upstream_timeout", "Upstream timed out."),
]


class Command(BaseCommand):
    help = "Bulk-insert N realistic request logs (default 100,000) for the UI benchmark."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=100_000)
        parser.add_argument("--days", type=int, default=30, help="Spread over this many days.")
        parser.add_argument("--batch", type=int, default=2_000)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, count: int, days: int, batch: int, seed: int, **options) -> None:
        rng = random.Random(seed)
        started = time.perf_counter()
        pool = image_pool(rng)
        keys = [_key(name) for name, _ in KEYS]
        start = timezone.now() - timedelta(days=days)
        step = timedelta(days=days) / max(count, 1)
        done = 0
        while done < count:
            size = min(batch, count - done)
            with transaction.atomic():
                rows = [fake_log(rng, start + step * (done + i), pool) for i in range(size)]
                for row, _ in rows:
                    row.api_key_id = rng.choices(keys, [w for _, w in KEYS])[0]
                saved = RequestLog.objects.bulk_create([row for row, _ in rows])
                images = [
                    img
                    for log, (_, images) in zip(saved, rows, strict=True)
                    for img in _attach(log, images)
                ]
                LogImage.objects.bulk_create(images)
                rollups.add(saved, images)  # as the log writer does
            done += size
            self.stderr.write(f"\r{done:,}/{count:,} logs", ending="")
        seconds = time.perf_counter() - started
        self.stderr.write("")
        self.stdout.write(f"Inserted {count:,} logs in {seconds:.1f} s.")


def _key(name: str) -> int:
    found = ApiKey.objects.filter(name=name).first()
    return (found or ApiKey.generate(name)[0]).pk


def cost(model: str, prompt_tokens: int, completion_tokens: int) -> Decimal | None:
    price = SEED_PRICES.get(model)
    if price is None:
        return None
    total = prompt_tokens * Decimal(price[0]) + completion_tokens * Decimal(price[1])
    return (total / 1_000_000).quantize(Decimal("1e-10"))


def _attach(log: RequestLog, images: list[LogImage]) -> list[LogImage]:
    for image in images:
        image.log = log
    return images


def image_pool(rng: random.Random) -> list[Blob]:
    """The demo images plus generated photos-to-be, stored once as blobs."""
    files = [p.read_bytes() for p in sorted(DEMO_IMAGES.iterdir()) if p.suffix != ".md"]
    for i in range(18):
        img = PILImage.new("RGB", (rng.randint(320, 1600), rng.randint(240, 1200)))
        img.paste(
            (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
            (0, 0, img.width // 2, img.height),
        )
        out = io.BytesIO()
        img.save(out, "JPEG" if i % 2 else "PNG", quality=80)
        files.append(out.getvalue())
    blobs = []
    for data in files:
        sha = hashlib.sha256(data).hexdigest()
        if not default_storage.exists(blob_name(sha)):
            default_storage.save(blob_name(sha), ContentFile(data))
        info = sniff(data)
        blobs.append(
            Blob(
                sha256=sha,
                mime=info.mime,
                width=info.width,
                height=info.height,
                size=len(data),
                frames=info.frames,
                exif_orientation=info.exif_orientation,
            )
        )
    Blob.objects.bulk_create(blobs, ignore_conflicts=True)
    return blobs


def fake_log(
    rng: random.Random, when: datetime, pool: list[Blob]
) -> tuple[RequestLog, list[LogImage]]:
    """One realistic request log and its images (not yet saved)."""
    if rng.random() < GENERATIONS:
        return generation(rng, when)
    provider = rng.choices(list(MODELS), PROVIDER_WEIGHTS)[0]
    model = rng.choice(MODELS[provider])
    subject = rng.choice(SUBJECTS)
    prompt = rng.choice(ASKS).format(s=subject)
    n_images = rng.choices([0, 1, 2, 3, 4, 10], [40, 35, 12, 6, 4, 3])[0]
    stream = rng.random() < 0.35
    latency = rng.lognormvariate(6.6, 0.5)
    failed = rng.random() < 0.07
    images, content = [], [{"type": "text", "text": prompt}]
    for j in range(n_images):
        blob = rng.choice(pool)
        by_url = rng.random() < 0.3
        broken = by_url and rng.random() < 0.05
        url = f"https://cdn.example.com/uploads/{rng.getrandbits(48):012x}.jpg" if by_url else ""
        images.append(
            LogImage(
                blob=None if broken else blob,
                message_index=1,
                part_index=j + 1,
                detail=rng.choice(["", "", "low", "high", "auto"]),
                origin="url" if by_url else "base64",
                url=url,
                data_uri_prefix="" if by_url else f"data:{blob.mime};base64,",
                error="fetch failed: HTTP 404 from cdn.example.com" if broken else "",
            )
        )
        content.append(
            {"type": "image_url", "image_url": {"url": url or f"iris-blob:{blob.sha256}"}}
        )
    body = {
        "model": model,
        "max_tokens": 500,
        "messages": [
            {"role": "system", "content": "You are a careful vision assistant."},
            {"role": "user", "content": content},
        ],
    }
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    prompt_tokens = 60 + 255 * n_images + rng.randint(0, 40)
    log = RequestLog(
        request_id=f"{rng.getrandbits(128):032x}",
        created_at=when,
        provider=provider,
        model=model,
        path="/v1/chat/completions",
        is_stream=stream,
        image_count=n_images,
        trace_id=f"trace-{rng.getrandbits(20):05x}" if rng.random() < 0.3 else "",
        metadata={
            "env": rng.choice(["prod", "prod", "staging"]),
            "app": rng.choice(["tagger", "ocr", "support-bot", "moderation"]),
            "user": f"u_{rng.randint(1, 5000)}",
        },
        request_headers={
            "x-portkey-provider": provider,
            "authorization": "[redacted]",
            "x-portkey-api-key": "[redacted]",
            "content-type": "application/json",
        },
        request_body=body,
        latency_ms=latency,
        prompt_preview=prompt[:300],
        search_text=prompt,
    )
    if failed:
        status, kind, message = rng.choice(ERRORS)
        log.status_code, log.error_type, log.error_message = status, kind, message
        log.response_body = {"error": {"message": message, "type": kind, "code": None}}
        return log, images
    reply = rng.choice(ANSWERS).format(s=subject, n=rng.randint(2, 99), c=rng.randint(10, 99))
    completion = len(reply.split()) * 4 // 3
    log.status_code, log.reply_preview = 200, reply[:300]
    log.search_text += "\n" + reply
    log.prompt_tokens, log.completion_tokens = prompt_tokens, completion
    log.total_tokens = prompt_tokens + completion
    log.estimated_prompt_tokens = prompt_tokens + rng.randint(-12, 12)
    log.cost_usd = cost(model, prompt_tokens, completion)
    if log.cost_usd is not None:
        log.cost_breakdown = {"total": str(log.cost_usd), "source": "seed_logs"}
    log.ttft_ms = latency * rng.uniform(0.2, 0.6) if stream else None
    log.chunk_count = completion + 2 if stream else 0
    log.response_body = {
        "id": f"chatcmpl-{rng.getrandbits(64):016x}",
        "object": "chat.completion",
        "created": int(when.timestamp()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": reply},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
        },
    }
    return log, images


def generation(rng: random.Random, when: datetime) -> tuple[RequestLog, list[LogImage]]:
    """An image generation (gpt-image-1): one picture made, priced per token. Its picture
    gets no LogImage row: the seeded images are the ones sent."""
    subject = rng.choice(SUBJECTS)
    prompt = f"A watercolour {subject}"
    latency = rng.lognormvariate(9.5, 0.3)  # ~13 s
    log = RequestLog(
        request_id=f"{rng.getrandbits(128):032x}",
        created_at=when,
        provider="openai",
        model="gpt-image-1",
        path="/v1/images/generations",
        endpoint="images.generations",
        metadata={"env": "prod", "app": "illustrator", "user": f"u_{rng.randint(1, 5000)}"},
        request_headers={"x-portkey-provider": "openai", "authorization": "[redacted]"},
        request_body={"model": "gpt-image-1", "prompt": prompt},
        latency_ms=latency,
        ttft_ms=latency * rng.uniform(0.9, 0.99),
        prompt_preview=prompt,
        search_text=prompt,
        status_code=200,
        reply_preview="1 image(s)",
        prompt_tokens=20,
        completion_tokens=1056,
        total_tokens=1076,
        output_image_count=1,
        response_body={"created": int(when.timestamp()), "data": [{"b64_json": "[stored]"}]},
    )
    log.cost_usd = cost("gpt-image-1", 20, 1056)
    log.cost_breakdown = {"total": str(log.cost_usd), "source": "seed_logs"}
    return log, []
