"""The rates pricing.py caches per model (the log writer prices every record) are the ones an
uncached lookup finds: per tier of input tokens, per day for prices that start on a date, and
anew when the admin's price changes."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway import price_library, price_overrides, pricing
from gateway.models import ModelPrice

D = Decimal
pytestmark = pytest.mark.django_db  # the admin's prices are read with every cost


def usage(prompt: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": 10}


def input_rate(provider: str, model: str, prompt: int) -> str:
    cost = pricing.record_cost(provider, model, "chat.completions", usage(prompt), None)
    return cost.as_json()["input_usd_per_million"]


def test_each_tier_of_a_tiered_price_is_its_own():
    # gemini-2.5-pro: $1.25 per million input tokens, $2.5 past 200,000 (genai-prices)
    for prompt in (200_001, 1, 200_000, 10**6, 5, 200_001):
        expected = "2.5" if prompt > 200_000 else "1.25"
        assert input_rate("google", "gemini-2.5-pro", prompt) == expected


def test_a_price_that_starts_on_a_date_is_read_for_each_day(monkeypatch):
    # o3: $10 per million input tokens, $2 from 2025-06-10 (genai-prices)
    today = [datetime(2025, 6, 9, 23, 59, tzinfo=UTC)]

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return today[0]

    monkeypatch.setattr(price_library, "datetime", Clock)
    assert input_rate("openai", "o3", 100) == "10"
    assert input_rate("openai", "o3", 100) == "10"
    today[0] = datetime(2025, 6, 10, 0, 1, tzinfo=UTC)
    assert input_rate("openai", "o3", 100) == "2"


def test_an_admin_price_saved_is_priced_at_once():
    price_overrides.invalidate()
    try:
        assert input_rate("openai", "gpt-4o", 100) == "2.5"
        row = ModelPrice.objects.create(provider="openai", model="gpt-4o", input_per_mtok=D("7"))
        assert input_rate("openai", "gpt-4o", 100) == "7"
        row.input_per_mtok = D("8")
        row.save()
        assert input_rate("openai", "gpt-4o", 100) == "8"
        row.delete()
        assert input_rate("openai", "gpt-4o", 100) == "2.5"
    finally:
        price_overrides.invalidate()


def test_the_rates_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(pricing, "_MAX_RATES", 3)
    pricing._RATES.clear()
    libraries = [{"input": D(n)} for n in range(10)]
    for n, lib in enumerate(libraries):
        assert pricing._rates(lib, {}).by_kind["input"][:2] == (D(n), "library")
    assert len(pricing._RATES) <= 3
