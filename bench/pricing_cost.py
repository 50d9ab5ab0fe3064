"""What gateway.pricing.record_cost spends per call, as the log writer calls it per record:
a chat usage priced from the library, one with an admin prefix row, an unknown model, and a
dall-e-3 answer priced per image.

    .venv/bin/python bench/pricing_cost.py [--calls 100000]

µs per call for each case (the first call, which loads the price library, is left out).
"""

import argparse
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("IRIS_DATA_DIR", tempfile.mkdtemp(prefix="iris-pricing-cost-"))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from gateway import pricing  # noqa: E402
from gateway.models import ModelPrice  # noqa: E402

USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 64, "audio_tokens": 0},
}
CASES = {
    "library (openai gpt-4o)": ("openai", "gpt-4o", "chat.completions", USAGE, None, None),
    "admin prefix row (anthropic)": (
        "anthropic",
        "claude-sonnet-4-5",
        "chat.completions",
        USAGE,
        None,
        None,
    ),
    "unknown model": ("openai", "my-fine-tune", "chat.completions", USAGE, None, None),
    "dall-e-3 per image": (
        "openai",
        "dall-e-3",
        "images.generations",
        None,
        {"data": [{"url": "u"}]},
        {"size": "1024x1792", "quality": "hd"},
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    ModelPrice.objects.update_or_create(
        provider="anthropic", model="claude-*", defaults={"output_per_mtok": Decimal("12")}
    )
    for name, (provider, model, endpoint, usage, body, request) in CASES.items():
        pricing.record_cost(provider, model, endpoint, usage, body, request_body=request)
        start = time.perf_counter()
        for _ in range(args.calls):
            pricing.record_cost(provider, model, endpoint, usage, body, request_body=request)
        per_call = (time.perf_counter() - start) / args.calls * 1e6
        print(f"{name:32} {per_call:6.1f} µs per call")


if __name__ == "__main__":
    main()
