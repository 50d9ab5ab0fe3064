"""genai-prices' entry for a model (gateway/pricing.py prices a record with it): the
snapshot bundled in the package, looked up once per model, resolved per tier and date."""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

# Iris's provider names → genai-prices' provider ids.
LIBRARY_PROVIDERS = {
    "openai": "openai",
    "azure-openai": "azure",
    "anthropic": "anthropic",
    "google": "google",
    "bedrock": "aws",
}
# The breakdown's kinds → genai-prices' price keys.
LIBRARY_KEYS = {
    "input": "input_mtok",
    "cached_input": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
    "image_input": "input_image_mtok",
    "output": "output_mtok",
    "reasoning": "output_reasoning_mtok",
    "image_output": "output_image_mtok",
}


@dataclass(frozen=True)
class LibraryPrice:
    """One model's prices in genai-prices: `resolve` picks the tier and date that apply."""

    label: str  # "genai-prices 0.2.3: openai gpt-4o"
    info: object  # genai_prices.types.ModelInfo
    # (period, tier) → resolved prices: see resolve(). A handful of entries per model.
    _resolved: dict = field(default_factory=dict, compare=False, repr=False)

    def resolve(self, input_tokens: int) -> dict[str, Decimal]:
        """Each kind's price now for a request of `input_tokens` (read only: shared). Cached
        while the prices in force cannot change: for good if the model has one set of prices,
        for the UTC day if they change on start dates; a time-of-day price is read each time."""
        now = datetime.now(UTC)
        period = _period(self.info, now)
        if period is None:
            return self._resolve(now, input_tokens)
        starts = self._resolved.get(period)
        if starts is None:
            if len(self._resolved) > 64:  # days gone by
                self._resolved.clear()
            starts = self._resolved[period] = _tier_starts(self.info.get_prices(now))
        key = (period, bisect.bisect_left(starts, input_tokens))  # tiers passed
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._resolve(now, input_tokens)
        return found

    def _resolve(self, now: datetime, input_tokens: int) -> dict[str, Decimal]:
        prices = self.info.get_prices(now).__dict__
        out = {}
        for kind, key in LIBRARY_KEYS.items():
            value = prices.get(key)
            if value is not None and not isinstance(value, Decimal):  # TieredPrices
                rate = value.base
                for tier in reversed(value.tiers):  # as genai-prices: above a tier's start
                    if input_tokens > tier.start:
                        rate = tier.price
                        break
                value = rate
            if value is not None:
                out[kind] = value
        return out

    def summary(self) -> str:
        """The prices at the base tier, for the admin ("input $2.5, output $10 /MTok")."""
        from gateway.pricing import decimal_str  # the breakdown's own number format

        prices = self.resolve(0)
        shown = ", ".join(f"{kind} ${decimal_str(rate)}" for kind, rate in prices.items())
        return f"{self.label} ({shown or 'no token prices'} per million tokens)"


def _period(info, now: datetime) -> object:
    """What the model's prices in force depend on: "always" (one set), the UTC date (prices
    from start dates), or None (a time-of-day price: not cached)."""
    prices = info.prices  # type: ignore[attr-defined]
    if not isinstance(prices, list):
        return "always"
    from genai_prices.types import StartDateConstraint

    if all(p.constraint is None or isinstance(p.constraint, StartDateConstraint) for p in prices):
        return now.date()
    return None


def _tier_starts(prices) -> list[int]:
    """The sorted token counts past which a tiered price changes (resolve's `tier.start`)."""
    starts = {
        tier.start
        for value in prices.__dict__.values()
        if value is not None and not isinstance(value, Decimal) and hasattr(value, "tiers")
        for tier in value.tiers
    }
    return sorted(starts)


@functools.lru_cache(maxsize=4096)
def library_price(provider: str, model: str) -> LibraryPrice | None:
    """The library's entry for a provider's model, or None if it has none."""
    provider_id = LIBRARY_PROVIDERS.get(provider)
    if not provider_id or not model:
        return None
    import genai_prices  # 150 ms and 1.6 MB of data: loaded on first use, in the writer
    from genai_prices.data_snapshot import get_snapshot

    try:
        found, info = get_snapshot().find_provider_model(model, None, provider_id, None)
    except LookupError:
        return None
    return LibraryPrice(f"genai-prices {genai_prices.__version__}: {found.id} {info.id}", info)


def model_name(model: str) -> str:
    """The model id the library knows: Gemini's `models/` and a Bedrock ARN's path dropped."""
    model = model.removeprefix("models/")
    if model.startswith("arn:") and "/" in model:
        model = model.rsplit("/", 1)[1]
    return model
