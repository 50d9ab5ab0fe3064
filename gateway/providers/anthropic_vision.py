"""What a Claude model makes of an image: the pixels, the 28-px patches and the tokens, by
Anthropic's documented rule, and the image limits of the Claude API. Pure: no Django, no I/O.

Sources (all read 2026-11-26):
- VISION = https://platform.claude.com/docs/en/build-with-claude/vision ("Request limits",
  "Supported formats", "Resolution and token cost"):
  "Each patch is a 28×28-pixel block of the image, referred to as a visual token. An image,
  therefore, costs ⌈width / 28⌉ × ⌈height / 28⌉ visual tokens." Two resolution tiers: high-
  resolution, "Claude 4.7 and later models", 2576 px long edge and 4784 visual tokens;
  standard, "All other models", 1568 px and 1568 tokens. Worked table (standard / high):
  200x200 → 64 / 64; 1000x1000 → 1296 / 1296; 1092x1092 → 1521 / 1521; 1920x1080 → 1456x819,
  1560 / not resized, 2691; 2000x1500 → 1269x952, 1564 / not resized, 3888; 3840x2160 →
  1456x819, 1560 / 2576x1449, 4784. Limits: 100 images a request on models with a 200k-token
  context window, 600 on the others; 8000x8000 px; past 20 images a request a stricter limit,
  "neither dimension exceeds 2000 px" to be safe; 10 MB per image base64-encoded on the Claude
  API (5 MB on Bedrock and Google Cloud); 32 MB per request; JPEG, PNG, GIF, WebP.
- COORDINATES = https://platform.claude.com/docs/en/build-with-claude/vision-coordinates
  ("How Claude resizes and pads images"): the largest aspect-preserving size whose sides,
  padded up to a multiple of 28, fit the edge limit and whose patches fit the token budget,
  with a reference implementation (resized_size below gives its results: same search, same
  rounding) and the
  worked example 1075x1520 → 924x1307 (39 × 55 = 2145 tokens before). The image is then padded
  to a multiple of 28 on the bottom and right: the patch grid covers the padding, the
  content only the resized size.

The older rule, tokens ≈ width × height / 750 after a 1568-px / ~1.15-megapixel downscale, is
gone from the pages: the 28-px patch rule replaced it for every model, older ones included.
It has a real grid (28-px patches of one token each), so `grid` describes it; there are no
tiles. OpenAI's `detail` is no Anthropic setting: anthropic.py does not send it, and it is
named in a note when a client gave it. VISION points to a per-image setting (the image
block's `transformations`, `"oversized_image": "error"`) that refuses an oversized image
rather than downscaling it; Iris does not send it, so the downscale is what happens.
"""

import math
import re
from dataclasses import dataclass

from gateway import vision
from gateway.vision import Grid, Limits, Seen

VISION_URL = "https://platform.claude.com/docs/en/build-with-claude/vision"
COORDINATES_URL = "https://platform.claude.com/docs/en/build-with-claude/vision-coordinates"

PATCH = 28  # VISION: a 28×28-pixel patch is one visual token


@dataclass(frozen=True)
class Tier:
    name: str
    max_edge: int  # px, each side once padded to a multiple of PATCH
    max_tokens: int  # visual tokens


# VISION, "Resolution and token cost" table.
STANDARD = Tier("standard", 1568, 1568)
HIGH_RESOLUTION = Tier("high-resolution", 2576, 4784)
HIGH_RESOLUTION_SINCE = (4, 7)  # "Claude 4.7 and later models"

# VISION, "Request limits".
MAX_IMAGES_200K, MAX_IMAGES = 100, 600  # a request, on 200k-context models and on the others
MAX_SIDE = 8000
MANY_IMAGES, MANY_MAX_SIDE = 20, 2000  # past 20 images a request, 2000 px a side is safe
MAX_IMAGE_BASE64 = 10 * 1024 * 1024  # "10 MB (base64-encoded) when using the Claude API"
PARTNER_IMAGE_BASE64 = 5 * 1024 * 1024  # "5 MB (base64-encoded) on Amazon Bedrock and Google"
MAX_REQUEST = 32 * 1024 * 1024  # "32 MB for standard endpoints"
FORMATS = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

# 1M-token context windows (600 images): Opus and Sonnet since 4.6, every Mythos and Fable,
# and any other model from 5 on but Haiku, whose 5 is not out (gateway/providers/
# anthropic_media.py keeps the same list for its check). Every other model has 200k.
_LONG_CONTEXT_SINCE = {"opus": (4, 6), "sonnet": (4, 6)}
_LONG_CONTEXT_FAMILIES = ("mythos", "fable")

# "claude-sonnet-4-5-20250929", "claude-opus-4-20250514" (4.0: a date is no minor version),
# "claude-haiku-4-5@20251001" (Vertex), "anthropic.claude-opus-4-7" (Bedrock)
_NAMED = re.compile(r"claude-([a-z]+)-(\d{1,2})(?:[-.](\d{1,2}))?(?![0-9])")
_OLD = re.compile(r"claude-(\d)(?:[-.](\d))?-([a-z]+)")  # "claude-3-5-sonnet-20241022"
_NUMBERED = re.compile(r"claude-v?(\d{1,2})(?:[-.](\d{1,2}))?(?![0-9])")  # "claude-2.1", "-v2"
_BARE = re.compile(r"claude-([a-z]+)")  # "claude-mythos-preview", "claude-instant-v1"


@dataclass(frozen=True)
class Claude:
    family: str  # "opus", "sonnet", "haiku", "mythos", …; "" for "claude-2.1"
    version: tuple[int, int] | None  # (4, 7); None when the name carries none


def parse(model: str) -> Claude | None:
    """The family and version a model name carries; None when it names no Claude model."""
    name = model.lower()
    if match := _NAMED.search(name):
        return Claude(match[1], (int(match[2]), int(match[3] or 0)))
    if match := _OLD.search(name):
        return Claude(match[3], (int(match[1]), int(match[2] or 0)))
    if match := _NUMBERED.search(name):
        return Claude("", (int(match[1]), int(match[2] or 0)))
    if match := _BARE.search(name):
        return Claude(match[1], None)
    return None


def takes_images(claude: Claude) -> bool:
    """Claude 1, 2 and Instant read text only; the vision page starts at Claude 3."""
    if claude.family == "instant":
        return False
    return claude.version is None or claude.version >= (3, 0)


def tier(model: str) -> Tier | None:
    """The model's resolution tier; None when the name gives no version to place it by."""
    claude = parse(model)
    if claude is None or claude.version is None or not takes_images(claude):
        return None
    return HIGH_RESOLUTION if claude.version >= HIGH_RESOLUTION_SINCE else STANDARD


def patches(width: int, height: int) -> int:
    """VISION: ⌈width / 28⌉ × ⌈height / 28⌉ visual tokens."""
    return math.ceil(width / PATCH) * math.ceil(height / PATCH)


def resized_size(width: int, height: int, rule: Tier) -> tuple[int, int]:
    """COORDINATES' documented rule: the size Claude resizes an image to, before
    padding; unchanged when the image fits. A binary search along the long edge for the
    largest aspect-preserving size that fits (rounded as the page's reference rounds)."""

    def fits(w: int, h: int) -> bool:
        return (
            math.ceil(w / PATCH) * PATCH <= rule.max_edge
            and math.ceil(h / PATCH) * PATCH <= rule.max_edge
            and patches(w, h) <= rule.max_tokens
        )

    if fits(width, height):
        return width, height
    if height > width:
        resized_h, resized_w = resized_size(height, width, rule)
        return resized_w, resized_h
    aspect = width / height
    lo, hi = 1, width  # lo always fits; hi never does
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if fits(mid, max(round(mid / aspect), 1)):
            lo = mid
        else:
            hi = mid
    return lo, max(round(lo / aspect), 1)


def seen(model: str, width: int, height: int, detail: str | None, options: dict) -> Seen:
    """The image as `model` sees it: resized to its tier, cut in 28-px patches of one token.
    `options` (the request body) holds no Anthropic image setting Iris sends."""
    claude = parse(model)
    if claude is None:
        return vision.unknown(f"{model!r} names no Claude model: no Anthropic rule applies")
    if not takes_images(claude):
        return vision.unknown(f"{model!r} reads text only (the vision page starts at Claude 3)")
    rule = tier(model)
    if rule is None:
        return vision.unknown(
            f"Anthropic's resolution tier goes by model version; {model!r} carries none"
        )
    if width < 1 or height < 1:
        return vision.unknown("no pixels")
    w, h = resized_size(width, height, rule)
    cols, rows = math.ceil(w / PATCH), math.ceil(h / PATCH)
    notes: list[str] = []
    if detail is not None:
        notes.append(f"detail: {detail} — Anthropic has no detail setting; it is not sent")
    return Seen(
        w,
        h,
        cols * rows,
        Grid("patches", cols, rows, PATCH, 1.0),
        rule=f"Anthropic: 28-px patches, {rule.name} tier "
        f"({rule.max_edge} px, {rule.max_tokens} tokens)",
        notes=tuple(notes),
    )


def decoded_limit(base64_limit: int) -> int:
    """The most bytes whose base64 text fits in `base64_limit` characters: Limits count the
    decoded bytes, Anthropic measures the base64 (4 characters for every 3 bytes)."""
    return base64_limit // 4 * 3


def max_images(model: str) -> int:
    """VISION: 100 images a request on a model with a 200k-token context window, else 600."""
    claude = parse(model)
    if claude is None or not claude.family:
        return MAX_IMAGES_200K
    if claude.family in _LONG_CONTEXT_FAMILIES:
        return MAX_IMAGES
    if claude.version is None:
        return MAX_IMAGES_200K
    since = _LONG_CONTEXT_SINCE.get(claude.family)
    if since is not None:
        return MAX_IMAGES if claude.version >= since else MAX_IMAGES_200K
    return MAX_IMAGES if claude.version >= (5, 0) and claude.family != "haiku" else MAX_IMAGES_200K


def limits(model: str) -> Limits:
    """The Claude API's limits. Sizes in decoded bytes: the per-image 10 MB and the request's
    32 MB are measured on the base64 that carries the bytes, so the images alone reach the
    request limit at 24 MB (the request's own bytes are checked by anthropic_media)."""
    return Limits(
        max_images=max_images(model),
        max_image_bytes=decoded_limit(MAX_IMAGE_BASE64),
        max_side=MAX_SIDE,
        formats=FORMATS,
        max_request_bytes=decoded_limit(MAX_REQUEST),
        many_images=MANY_IMAGES,
        many_max_side=MANY_MAX_SIDE,
        source=f"{VISION_URL} (read 2026-11-26)",
    )
