"""What a model on Amazon Bedrock makes of an image, by the rule of the family it belongs to,
and the image limits of the Converse API Iris sends to. Pure: no Django, no I/O.

Sources (all read 2026-11-26):
- MESSAGE = https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Message.html
  (and botocore 1.44.8's bedrock-runtime 2023-09-30 service model, Message.content):
  "You can include up to 20 images. Each image's size, height, and width must be no more
  than 3.75 MB, 8000 px, and 8000 px"; ImageFormat: png, jpeg, gif, webp. The user guide's
  "API restrictions" page (https://docs.aws.amazon.com/bedrock/latest/userguide/
  inference-api-restrictions.html) now says Bedrock itself imposes no image count or size
  and each model may; the API reference (and bedrock_media.py) keep the numbers: so do these.
- Claude: gateway/providers/anthropic_vision.py, whose VISION page gives Bedrock "5 MB
  (base64-encoded)" an image (3.75 MiB of bytes, the Converse figure) and a request limit
  "lower" than 32 MB on Bedrock without a number (InvokeModel's Claude page says 20 MB for
  its own body; Iris uses Converse, for which none is given).
- NOVA = https://docs.aws.amazon.com/nova/latest/userguide/modalities-image.html (Nova 1:
  Lite, Pro, Premier): images are rescaled to the closest aspect ratio of 1:1 … 1:9, 2:3, 2:4
  and their transposes, "at most 8,000x8,000"; a total payload of 25 MB (base64 included,
  https://docs.aws.amazon.com/nova/latest/userguide/modalities.html); and a table of
  estimated tokens: 900x450 ~800, 900x900 ~1300, 1400x900 ~1800, 1.8Kx900 ~2400, 1.3Kx1.3K
  ~2600, with the worked example "800x400 … closest resolution is 900x450 … about 800".
- NOVA2 = https://docs.aws.amazon.com/nova/latest/nova2-userguide/using-multimodal-models.html
  (Nova 2 Lite): "While the number of tokens processed varies based on image resolution and
  aspect ratio, usage is billed at a flat rate of 230 tokens per image" (the sentence after,
  on the inputTokens the response reports, was cut off in the copy read). An earlier revision
  had a table instead (900x450 515, 900x900 ~1,035, 1400x900 ~1,600, 1800x900 ~2,060,
  1300x1300 ~2,155); the flat rate, which answers it, is taken as the newer. Images embedded
  in the request: 25 MB, at most 5 ("Number of objects"). The page covers Nova 2 Lite only.
- LLAMA = https://docs.aws.amazon.com/bedrock/latest/userguide/model-training-validation-requirements.html
  (Meta Llama 3.2): for 11B and 90B Vision Instruct, "Tokens = min(2, max(Height // 560, 1))
  * min(2, max(Width // 560, 1)) * 1601", given "for estimating the image-to-token conversion
  during fine-tuning" — the same model and image processing, so Iris uses it for inference
  too, and says so in the rule.
Nothing from AWS, Meta or Mistral gives an image rule for Llama 4 or Pixtral Large: unknown.

How Nova 1's table is read (no interpolation): an image the size of a row (either way round)
costs that row; an image whose closest listed aspect ratio is 1:1 or 1:2 and which fits in the
smallest row of that ratio (900x900, 900x450) is scaled up to it, as the worked example does
800x400; anything else falls between the rows and is unknown. "Closest" is the least absolute
difference of long/short side ratios (AWS does not say how it measures).
"""

import re
from dataclasses import dataclass, replace

from gateway import vision
from gateway.providers import anthropic_vision
from gateway.vision import Grid, Limits, Seen

MESSAGE_URL = "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Message.html"
NOVA_URL = "https://docs.aws.amazon.com/nova/latest/userguide/modalities-image.html"
NOVA2_URL = "https://docs.aws.amazon.com/nova/latest/nova2-userguide/using-multimodal-models.html"

# MESSAGE: the Converse API's images, whatever the model.
MAX_IMAGES = 20
MAX_IMAGE_BYTES = int(3.75 * 1024 * 1024)  # "3.75 MB" (bedrock_media.py counts it so)
MAX_SIDE = 8000
FORMATS = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
CONVERSE = Limits(
    max_images=MAX_IMAGES,
    max_image_bytes=MAX_IMAGE_BYTES,
    max_side=MAX_SIDE,
    formats=FORMATS,
    source=f"{MESSAGE_URL} (read 2026-11-26)",
)

# NOVA: 25 MB of payload, base64 included, so 3/4 of it for the images' bytes.
NOVA_PAYLOAD = 25 * 1024 * 1024
# NOVA, "Image to tokens conversion": (long side, short side) → estimated tokens.
NOVA_TABLE = {(900, 450): 800, (900, 900): 1300, (1400, 900): 1800, (1800, 900): 2400}
NOVA_TABLE[(1300, 1300)] = 2600
NOVA_RATIOS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 1.5)  # 1:1 … 1:9, 2:3 (2:4 is 1:2)
NOVA_SMALLEST = {1.0: (900, 900), 2.0: (900, 450)}  # the row a smaller image is scaled up to
NOVA_VISION = ("lite", "pro", "premier")  # Nova 1 models that read images (Micro: text only)
NOVA2_IMAGE_TOKENS = 230  # NOVA2: flat, whatever the size
NOVA2_MAX_IMAGES = 5  # NOVA2: embedded in the request

LLAMA_TILE, LLAMA_TILE_TOKENS, LLAMA_MAX_TILES = 560, 1601, 2  # LLAMA's formula

_ARN = re.compile(r"arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:([a-z-]+)/(.+)")
_NAMED_ARNS = ("foundation-model", "inference-profile")  # whose id names the model
_GEO = re.compile(r"[a-z]{2,6}(?:-[a-z]{2,4})?")  # us. eu. apac. global. us-gov. jp. …
# Model providers whose short names would pass for a geography prefix above.
_PROVIDERS = frozenset({"amazon", "meta", "cohere", "ai21", "qwen", "openai", "google", "writer"})
_NOVA = re.compile(r"nova-(?:(\d+)-)?([a-z]+)")
_LLAMA_32 = re.compile(r"llama3-2-(\d+)b")


@dataclass(frozen=True)
class BedrockModel:
    provider: str  # "anthropic", "amazon", "meta", …; "" when the id does not say
    name: str  # "claude-sonnet-4-5-20250929-v1:0", "nova-pro-v1:0"
    geo: str = ""  # a cross-region profile's prefix: "us", "eu", "apac", "global", …
    arn_kind: str = ""  # "inference-profile", "application-inference-profile", …


def parse(model: str) -> BedrockModel:
    """Provider and model name from a model id, a cross-region profile id or an ARN."""
    ident, kind = model.strip().lower(), ""
    if match := _ARN.fullmatch(ident):
        kind, ident = match[1], match[2]
        if kind not in _NAMED_ARNS:  # application profiles, provisioned or custom models
            return BedrockModel("", "", arn_kind=kind)
    parts = ident.split(".")
    if len(parts) >= 3 and _GEO.fullmatch(parts[0]) and parts[0] not in _PROVIDERS:
        return BedrockModel(parts[1], ".".join(parts[2:]), parts[0], kind)
    if len(parts) >= 2:
        return BedrockModel(parts[0], ".".join(parts[1:]), arn_kind=kind)
    return BedrockModel("", ident, arn_kind=kind)


def family(model: str) -> str | None:
    """ "claude", "nova", "nova2", "llama3.2-vision", or None: no documented image rule."""
    parsed = parse(model)
    if parsed.provider == "anthropic" or (not parsed.provider and "claude" in parsed.name):
        return "claude"
    if parsed.provider == "amazon" and (nova := _NOVA.match(parsed.name)):
        if nova[1] is None and nova[2] in NOVA_VISION:
            return "nova"
        if nova[1] == "2" and nova[2] == "lite":
            return "nova2"
    if parsed.provider == "meta" and (llama := _LLAMA_32.match(parsed.name)):
        return "llama3.2-vision" if llama[1] in ("11", "90") else None
    return None


def seen(model: str, width: int, height: int, detail: str | None, options: dict) -> Seen:
    """The image as `model` sees it, by its family's documented rule; unknown otherwise."""
    parsed, rule = parse(model), family(model)
    if rule == "claude":
        return anthropic_vision.seen(parsed.name, width, height, detail, options)
    if width < 1 or height < 1:
        return vision.unknown("no pixels")
    if rule == "nova":
        found = _nova(width, height)
    elif rule == "nova2":
        found = Seen(None, None, NOVA2_IMAGE_TOKENS, rule="Amazon Nova 2: billed a flat 230 tokens")
    elif rule == "llama3.2-vision":
        found = _llama(width, height)
    else:
        return vision.unknown(_why_unknown(parsed, model))
    if detail is not None and found.tokens is not None:
        note = f"detail: {detail} — Bedrock's Converse API has no detail setting; not sent"
        found = replace(found, notes=(*found.notes, note))
    return found


def _nova(width: int, height: int) -> Seen:
    long, short = max(width, height), min(width, height)
    row: tuple[int, int] | None = (long, short) if (long, short) in NOVA_TABLE else None
    if row is None:
        ratio = min(NOVA_RATIOS, key=lambda r: abs(long / short - r))
        smallest = NOVA_SMALLEST.get(ratio)
        if smallest and long <= smallest[0] and short <= smallest[1]:
            row = smallest
    if row is None:
        return vision.unknown(
            f"Amazon Nova: {width}x{height} falls between the rows of AWS's token table"
        )
    w, h = row if width >= height else (row[1], row[0])
    return Seen(w, h, NOVA_TABLE[row], rule="Amazon Nova: AWS's table (approximate)")


def _llama(width: int, height: int) -> Seen:
    cols = min(LLAMA_MAX_TILES, max(width // LLAMA_TILE, 1))
    rows = min(LLAMA_MAX_TILES, max(height // LLAMA_TILE, 1))
    return Seen(
        None,  # the tiles' pixels are not documented
        None,
        cols * rows * LLAMA_TILE_TOKENS,
        Grid("tiles", cols, rows, LLAMA_TILE, LLAMA_TILE_TOKENS),
        rule="Llama 3.2 Vision: AWS's fine-tuning formula (560-px tiles, 1601 tokens each)",
    )


def _why_unknown(parsed: BedrockModel, model: str) -> str:
    if parsed.arn_kind and not parsed.name:
        return f"a Bedrock {parsed.arn_kind} ARN does not name its model"
    if parsed.provider == "amazon" and parsed.name.startswith("nova-micro"):
        return "Amazon Nova Micro reads text only"
    if parsed.provider == "meta" and _LLAMA_32.match(parsed.name):
        return "Llama 3.2 1B and 3B read text only"
    return f"neither AWS nor the model's maker documents an image rule for {model!r}"


def limits(model: str) -> Limits:
    """The Converse API's limits, narrowed where the model's family documents more."""
    rule = family(model)
    if rule == "claude":
        # VISION: past 20 image (and, on Bedrock, document) blocks, 2000 px a side.
        return replace(
            CONVERSE,
            many_images=anthropic_vision.MANY_IMAGES,
            many_max_side=anthropic_vision.MANY_MAX_SIDE,
            source=f"{MESSAGE_URL}; {anthropic_vision.VISION_URL} (read 2026-11-26)",
        )
    nova_request = anthropic_vision.decoded_limit(NOVA_PAYLOAD)
    if rule == "nova":
        source = f"{MESSAGE_URL}; {NOVA_URL} (read 2026-11-26)"
        return replace(CONVERSE, max_request_bytes=nova_request, source=source)
    if rule == "nova2":
        source = f"{MESSAGE_URL}; {NOVA2_URL} (read 2026-11-26)"
        return replace(
            CONVERSE, max_images=NOVA2_MAX_IMAGES, max_request_bytes=nova_request, source=source
        )
    return CONVERSE
