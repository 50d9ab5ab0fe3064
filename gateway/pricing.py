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

from dataclasses import dataclass
from decimal import Decimal

from gateway import image_prices
from gateway.price_library import LibraryPrice, library_price, model_name

__all__ = ["Cost", "LibraryPrice", "library_price", "model_name", "record_cost"]

ZERO = Decimal(0)
MILLION = Decimal(1_000_000)
PLACES = Decimal("1E-10")  # RequestLog.cost_usd has 10 decimal places
LARGEST = Decimal("999999")  # and 16 digits: a usage past this is not a real bill

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


@dataclass(slots=True)  # not frozen: built for every logged record, frozen cost 2 µs more
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
    first, second = (usage.get(k) for k in (TOTALS_CHAT if chat else TOTALS_OTHER))
    valid_first, valid_second = _valid(first), _valid(second)
    if not (valid_first or valid_second):
        return None
    if (first is not None and not valid_first) or (second is not None and not valid_second):
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
    admin = _price_overrides().find(provider, model)
    per_image = image_prices.per_image(provider, name, response_body, request_body)
    return price(found, made, library, admin, per_image)


def _price_overrides():
    """gateway.price_overrides, imported on first use (it needs Django; this module does
    not) and then kept: an import statement per logged record cost ~1 µs."""
    global _overrides
    if _overrides is None:
        from gateway import price_overrides

        _overrides = price_overrides
    return _overrides


_overrides = None


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
    amounts: list[Decimal | None] = []  # each line's usd, summed as computed (not reparsed)
    if found is not None:
        quantities = found.quantities()
        for kind in TOKEN_KINDS:
            quantity, (rate, origin, shown) = quantities[kind], rates.by_kind[kind]
            if quantity or kind in ("input", "output"):
                usd = None if rate is None else rate * quantity / MILLION
                amounts.append(usd)
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
        amounts.append(None if rate is None else rate * made)
        used.add(origin)
    unknown = [line["kind"] for line in lines if line["usd"] is None]
    total = None
    if not unknown:
        total = sum(amounts, ZERO).quantize(PLACES)  # type: ignore[arg-type]
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
