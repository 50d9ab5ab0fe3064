"""What one logged request cost in USD, from the usage the provider reported.

Prices come from genai-prices (pydantic's price library; its data is bundled in the package:
Iris reads that snapshot only and never starts its `UpdatePrices`, which would fetch newer
data from the network), from gateway/image_prices.py for models priced per image, and from
the admin's ModelPrice rows (gateway/price_overrides.py), which win part by part: a part a
row leaves empty keeps the library's price. A model with no price anywhere is unknown (total
None), never 0. Runs in the log writer's thread for every record: lookups are cached.

What is priced, from the usage Iris records (chat, Responses and Images API shapes alike):
- input: the input tokens not counted below (text, audio…), at the input price;
- cached_input: cache reads (prompt_tokens_details / input_tokens_details.cached_tokens), at
  the cache-read price, else the input price;
- cache_write: Anthropic's cache writes (cache_creation_input_tokens, or the Responses
  shape's input_tokens_details.cache_write_tokens), at the cache-write price, else input;
- image_input: the image tokens the usage reports among the input (the Images API's
  input_tokens_details.image_tokens), at the image-input price, else input;
- output: the output tokens not counted below;
- reasoning: reasoning tokens (completion/output_tokens_details.reasoning_tokens; Gemini's
  thoughts, which Iris reports so). They are part of the output count, as all five providers
  bill them, so they are taken out of `output`, never added: priced as output;
- image_output: image tokens made (output_tokens_details.image_tokens; on the Images API
  every output token when the usage does not split them), at the image-output price, else
  output;
- images: the images an Images API answer holds (`data`), for models priced per image.

`Cost.as_json()`, stored as RequestLog.cost_breakdown and read by the request page, is:
    {"total": "<decimal>" | null,            # null: a part has no known price (or > $999,999)
     "currency": "USD",
     "source": "genai-prices 0.2.3: openai gpt-4o; admin price openai/gpt-4o*",  # or "unknown"
     "lines": [{"kind": "input" | "cached_input" | "cache_write" | "output" | "reasoning"
                        | "image_input" | "image_output" | "images",
                "quantity": <int>, "unit": "token" | "image",
                "usd_per_million" (tokens) | "usd_per_image" (images): "<decimal>" | null,
                "usd": "<decimal>" | null}],
     "input_usd_per_million": "<decimal>" | null,        # the input price applied
     "image_input_usd_per_million": "<decimal>" | null,  # only where images have their own
     "unknown": ["<kind>", …]}                           # lines whose price is unknown
An image's estimated cost (the request page; `image_usd` below) is its estimated tokens ×
image_input_usd_per_million, else × input_usd_per_million. Decimals are plain strings
("0.0000125"), never exponents. `input` and `output` lines are always there when the usage
is; others only when their quantity is not 0. `total` is rounded to RequestLog.cost_usd's
10 decimal places.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from gateway import image_prices

ZERO = Decimal(0)
MILLION = Decimal(1_000_000)
PLACES = Decimal("1E-10")  # RequestLog.cost_usd has 10 decimal places
LARGEST = Decimal("999999")  # and 16 digits: a usage past this is not a real bill

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
# A kind without a price of its own is billed as its parent.
PARENT = {
    "cached_input": "input",
    "cache_write": "input",
    "image_input": "input",
    "reasoning": "output",
    "image_output": "output",
}
TOKEN_KINDS = ("input", "cached_input", "cache_write", "image_input")
TOKEN_KINDS += ("output", "reasoning", "image_output")


@dataclass
class Cost:
    total: Decimal | None
    parts: dict

    def as_json(self) -> dict:
        return {"total": decimal_str(self.total), **self.parts}


@dataclass(frozen=True)
class Counts:
    """Token counts from a usage; `input` and `output` include the kinds split out."""

    input: int = 0
    cached: int = 0
    cache_write: int = 0
    image_input: int = 0
    output: int = 0
    reasoning: int = 0
    image_output: int = 0

    def quantities(self) -> dict[str, int]:
        """Each kind's tokens; a part never more than what is left of its total (an upstream
        reporting more cached tokens than prompt tokens is not billed past the prompt)."""
        cached = min(self.cached, self.input)
        write = min(self.cache_write, self.input - cached)
        image_in = min(self.image_input, self.input - cached - write)
        reasoning = min(self.reasoning, self.output)
        image_out = min(self.image_output, self.output - reasoning)
        return {
            "input": self.input - cached - write - image_in,
            "cached_input": cached,
            "cache_write": write,
            "image_input": image_in,
            "output": self.output - reasoning - image_out,
            "reasoning": reasoning,
            "image_output": image_out,
        }


def counts(usage: object, endpoint: str = "") -> Counts | None:
    """The token counts of a recorded usage (chat, Responses or Images API shape); None when
    it holds no usable count (empty, negative, not a whole number, absurdly large): the cost
    is then unknown, not $0."""
    if not isinstance(usage, dict):
        return None
    chat = "prompt_tokens" in usage or "completion_tokens" in usage
    totals = [usage.get(k) for k in (TOTALS_CHAT if chat else TOTALS_OTHER)]
    if not any(_valid(v) for v in totals) or any(v is not None and not _valid(v) for v in totals):
        return None
    if chat:  # chat completions
        into, outof = (
            _dict(usage, "prompt_tokens_details"),
            _dict(usage, "completion_tokens_details"),
        )
        total_in, total_out = _n(usage.get("prompt_tokens")), _n(usage.get("completion_tokens"))
        write = _n(usage.get("cache_creation_input_tokens"))
    else:  # Responses and Images APIs
        into, outof = _dict(usage, "input_tokens_details"), _dict(usage, "output_tokens_details")
        total_in, total_out = _n(usage.get("input_tokens")), _n(usage.get("output_tokens"))
        write = _n(into.get("cache_write_tokens"))
    image_out = _n(outof.get("image_tokens"))
    if endpoint.startswith("images.") and "image_tokens" not in outof:
        image_out = total_out  # gpt-image-1 reports no split: all it makes is images
    return Counts(
        input=total_in,
        cached=_n(into.get("cached_tokens")),
        cache_write=write,
        image_input=_n(into.get("image_tokens", usage.get("image_tokens"))),
        output=total_out,
        reasoning=_n(outof.get("reasoning_tokens")),
        image_output=image_out,
    )


def record_cost(
    provider: str,
    model: str,
    endpoint: str,
    usage: dict | None,
    response_body: dict | None,
    *,
    request_body: dict | None = None,
) -> Cost | None:
    """The cost of one logged request, or None when there is nothing to price (no usage and
    no images made). `request_body` (the client's parameters) gives the size and quality of
    images priced per image when the answer does not say them."""
    found = counts(usage, endpoint)
    made = image_prices.images_made(response_body) if endpoint.startswith("images.") else 0
    if found is None and not made:
        return None
    name = model_name(model)
    library = library_price(provider, name)
    if library is None and isinstance(response_body, dict):
        answered = response_body.get("model")  # an Azure deployment answers with its model
        if isinstance(answered, str) and answered and answered != model:
            library = library_price(provider, model_name(answered))
    from gateway import price_overrides  # Django: imported where the writer runs

    admin = price_overrides.find(provider, model)
    per_image = image_prices.per_image(provider, name, response_body, request_body)
    return price(found, made, library, admin, per_image)


def price(
    found: Counts | None,
    made: int,
    library: LibraryPrice | None,
    admin,  # price_overrides.Override | None
    per_image: image_prices.ImagePrice | None,
) -> Cost:
    """The breakdown from counts and the prices found (pure)."""
    lib = library.resolve(found.input if found else 0) if library else _NONE
    own = admin.prices if admin else _NONE
    rates = _rates(lib, own)
    lines, used = [], set()
    if found is not None:
        quantities = found.quantities()
        for kind in TOKEN_KINDS:
            quantity, (rate, origin, shown) = quantities[kind], rates.by_kind[kind]
            if quantity or kind in ("input", "output"):
                usd = None if rate is None else rate * quantity / MILLION
                lines.append(
                    {
                        "kind": kind,
                        "quantity": quantity,
                        "unit": "token",
                        "usd_per_million": shown,
                        "usd": decimal_str(usd),
                    }
                )
                used.add(origin)
    if made and (per_image is not None or "images" in own or found is None):
        rate, origin = own.get("images"), "admin"
        if rate is None and per_image is not None:
            rate, origin = per_image.usd, "table"
        lines.append(_line("images", made, "image", "usd_per_image", rate, 1))
        used.add(origin)
    unknown = [line["kind"] for line in lines if line["usd"] is None]
    total = None
    if not unknown:
        total = sum((Decimal(line["usd"]) for line in lines), ZERO).quantize(PLACES)
        total = total if total <= LARGEST else None  # garbage counts must not cost the row
    sources = []
    if "library" in used and library:
        sources.append(library.label)
    if "admin" in used and admin:
        sources.append(f"admin price {admin.label}")
    if "table" in used and per_image and per_image.usd is not None:
        sources.append(f"Iris image prices: {per_image.label}")
    parts = {
        "currency": "USD",
        "source": "; ".join(sources) or "unknown",
        "lines": lines,
        "input_usd_per_million": rates.by_kind["input"][2],
        "image_input_usd_per_million": rates.image_input,
        "unknown": unknown,
    }
    return Cost(total, parts)


_NONE: dict = {}  # no prices: one object, so that its rates are cached like any other's


@dataclass(frozen=True)
class _Rates:
    """Each kind's rate, where it came from and its text, for one library and one admin
    price: the same for every request to a model, so worked out once (the log writer prices
    every record; this was most of a small record's cost)."""

    lib: dict
    own: dict
    by_kind: dict[str, tuple[Decimal | None, str, str | None]]
    image_input: str | None  # image_input_usd_per_million


_RATES: dict[tuple[int, int], _Rates] = {}
_MAX_RATES = 1024  # (library, admin) pairs kept; past it the cache starts again


def _rates(lib: dict, own: dict) -> _Rates:
    """The rates of a library and an admin price dict, cached by their identity: both come
    from caches that make a new dict when a price changes (library_price and its resolve;
    price_overrides' table), so a stale entry is never found, only left to be cleared."""
    key = (id(lib), id(own))
    found = _RATES.get(key)
    if found is not None and found.lib is lib and found.own is own:
        return found
    rates: dict[str, tuple[Decimal | None, str]] = {}
    for kind in TOKEN_KINDS:
        rates[kind] = _rate(kind, own, lib, rates)
    found = _Rates(
        lib,
        own,
        {kind: (rate, origin, decimal_str(rate)) for kind, (rate, origin) in rates.items()},
        decimal_str(_own_rate("image_input", own, lib)),
    )
    if len(_RATES) >= _MAX_RATES:
        _RATES.clear()
    _RATES[key] = found
    return found


def _rate(kind: str, own: dict, lib: dict, rates: dict) -> tuple[Decimal | None, str]:
    """A kind's price and where it came from: the admin's, the library's, else its parent's
    (already resolved: TOKEN_KINDS lists parents first). Reasoning follows an admin's output
    price (it is billed as output) before the library's reasoning price."""
    if kind == "reasoning" and own.get("output") is not None:
        return own["output"], "admin"
    if (rate := own.get(kind)) is not None:
        return rate, "admin"
    if (rate := lib.get(kind)) is not None:
        return rate, "library"
    if kind in PARENT:
        return rates[PARENT[kind]]
    return None, ""


def _own_rate(kind: str, own: dict, lib: dict) -> Decimal | None:
    return own.get(kind) if own.get(kind) is not None else lib.get(kind)


def _line(kind: str, quantity: int, unit: str, rate_key: str, rate, per) -> dict:
    usd = None if rate is None else rate * quantity / per
    return {
        "kind": kind,
        "quantity": quantity,
        "unit": unit,
        rate_key: decimal_str(rate),
        "usd": decimal_str(usd),
    }


def image_usd(breakdown: dict | None, tokens: int | None) -> Decimal | None:
    """An input image's estimated cost from a stored breakdown: its estimated tokens at the
    image-input price, else the input price. None when either is unknown."""
    if not isinstance(breakdown, dict) or tokens is None:
        return None
    rate = breakdown.get("image_input_usd_per_million") or breakdown.get("input_usd_per_million")
    return None if rate is None else Decimal(rate) * tokens / MILLION


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


def decimal_str(value: Decimal | None) -> str | None:
    """A decimal as a plain string, never with an exponent: "0.0000125", "10"."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


TOTALS_CHAT = ("prompt_tokens", "completion_tokens")
TOTALS_OTHER = ("input_tokens", "output_tokens")
_MOST_TOKENS = 2**40  # past any real request: a count beyond is garbage


def _valid(value: object) -> bool:
    return type(value) is int and 0 <= value < _MOST_TOKENS  # type: ignore[operator]  # no bool


def _n(value: object) -> int:
    return value if _valid(value) else 0  # type: ignore[return-value]


def _dict(usage: dict, key: str) -> dict:
    value = usage.get(key)
    return value if isinstance(value, dict) else {}
