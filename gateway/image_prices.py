"""USD per generated image for the image models priced per image, which the price library
(genai-prices) does not carry. Pure: no Django, no I/O.

Each price is keyed by the size and quality the image was made at, where the provider's price
depends on them. A model missing here, or a size/quality missing from its table, is unknown:
the admin's ModelPrice.per_image can set it.

Not here, on purpose:
- GPT image models (gpt-image-1, -1-mini, -1.5…) and Gemini's image models are priced by
  tokens, from the usage they report (the library has them).
- Amazon Nova Canvas and Titan Image Generator v2 on Bedrock: their price depends on size and
  quality, and AWS's pricing page (https://aws.amazon.com/bedrock/pricing/, read 2026-11-26)
  renders its figures in the browser, so none could be read; the maintained maps give one
  flat figure each, which is wrong for some sizes. Unknown until an admin sets them.
- Azure OpenAI's dall-e-3 (Azure prices it apart from OpenAI): unknown.
"""

from dataclasses import dataclass
from decimal import Decimal

_D = Decimal

# OpenAI, https://developers.openai.com/api/docs/models/dall-e-2 (read 2026-11-26): DALL·E 2
# per image $0.016 (256x256), $0.018 (512x512), $0.02 (1024x1024); its comparison gives
# DALL·E 3 at $0.04 for a standard 1024x1024 image. DALL·E 3's other rows, from OpenAI's
# pricing page (https://platform.openai.com/docs/pricing, "Image generation", as quoted on
# https://lumenfall.ai/models/openai/dall-e-3, read 2026-11-26): standard 1024x1792 and
# 1792x1024 $0.08; hd 1024x1024 $0.08, hd 1024x1792 and 1792x1024 $0.12. OpenAI's model
# pages now mark both models shut down; the prices stand for servers that still serve them.
_DALL_E_2 = {("256x256", None): _D("0.016"), ("512x512", None): _D("0.018")}
_DALL_E_2[("1024x1024", None)] = _D("0.02")
_DALL_E_3 = {
    ("1024x1024", "standard"): _D("0.04"),
    ("1024x1792", "standard"): _D("0.08"),
    ("1792x1024", "standard"): _D("0.08"),
    ("1024x1024", "hd"): _D("0.08"),
    ("1024x1792", "hd"): _D("0.12"),
    ("1792x1024", "hd"): _D("0.12"),
}

# Google, https://ai.google.dev/gemini-api/docs/pricing (Imagen 4, as quoted with that URL in
# public code, read 2026-11-26): per image, whatever its size: Fast $0.02, Standard $0.04,
# Ultra $0.06.
_IMAGEN = {
    "imagen-4.0-fast-generate-001": _D("0.02"),
    "imagen-4.0-generate-001": _D("0.04"),
    "imagen-4.0-ultra-generate-001": _D("0.06"),
}

# Stability on Bedrock, one price per image whatever its size: https://aws.amazon.com/bedrock/
# pricing/ as carried by LiteLLM's maintained price map (model_prices_and_context_window.json,
# litellm 1.110.2, read 2026-11-26): SD3.5 Large $0.08, Stable Image Core $0.04, Stable Image
# Ultra $0.14.
_STABILITY = {
    "stability.sd3-5-large-v1:0": _D("0.08"),
    "stability.stable-image-core-v1:1": _D("0.04"),
    "stability.stable-image-ultra-v1:1": _D("0.14"),
}

# The defaults OpenAI's Images API applies to a request that names no size or quality
# (https://platform.openai.com/docs/api-reference/images/create, read 2026-11-26).
_DEFAULTS = {"dall-e-2": ("1024x1024", None), "dall-e-3": ("1024x1024", "standard")}
_CROSS_REGION = ("us.", "eu.", "apac.", "global.", "jp.", "au.", "ca.", "us-gov.")


@dataclass(frozen=True)
class ImagePrice:
    usd: Decimal | None  # None: the model is priced per image, not at this size/quality
    label: str  # what was priced, for the breakdown's source ("dall-e-3 1024x1024 hd")


def per_image(
    provider: str, model: str, response: dict | None, request: dict | None
) -> ImagePrice | None:
    """The price of one image `model` made, or None if the model is not priced per image.

    Size and quality come from the response (GPT image and Bedrock answers carry `size`), else
    the request body; without a request body, a size-priced model's price is unknown rather
    than the default guessed."""
    name = model.removeprefix("models/")
    if provider == "openai" and name in _DEFAULTS:
        table = _DALL_E_2 if name == "dall-e-2" else _DALL_E_3
        size = _field("size", response, request, _DEFAULTS[name][0])
        quality = _field("quality", response, request, _DEFAULTS[name][1])
        if name == "dall-e-2":
            quality = None  # dall-e-2 has one quality
        return ImagePrice(table.get((size, quality)), f"{name} {size} {quality or ''}".strip())
    if provider == "google" and name in _IMAGEN:
        return ImagePrice(_IMAGEN[name], name)
    if provider == "bedrock":
        base = next((name[len(p) :] for p in _CROSS_REGION if name.startswith(p)), name)
        if base in _STABILITY:
            return ImagePrice(_STABILITY[base], base)
    return None


def _field(name: str, response: dict | None, request: dict | None, default: str | None):
    for source in (response, request):
        value = source.get(name) if isinstance(source, dict) else None
        if isinstance(value, str) and value and value != "auto":
            return value
    if request is None:
        return "unknown"  # no request body to read: never assume the default
    return default


def images_made(response: dict | None) -> int:
    """How many images an Images API answer holds (`data` items)."""
    data = response.get("data") if isinstance(response, dict) else None
    return sum(1 for item in data if isinstance(item, dict)) if isinstance(data, list) else 0
