"""What a Gemini model makes of an image: the pixels, the tiles and the tokens, by Google's
documented rules, and the image limits of the Gemini API. Pure: no Django, no I/O.

Sources (all read 2026-11-26):
- TOKENS = https://ai.google.dev/gemini-api/docs/tokens ("Count multimodal tokens", page
  last updated 2026-02-26): "Image inputs with both dimensions <=384 pixels are counted as
  258 tokens. Images larger in one or both dimensions are cropped and scaled as needed into
  tiles of 768x768 pixels, each counted as 258 tokens." Older revisions of the page added
  "Prior to Gemini 2.0, images used a fixed 258 tokens" (contradicted for 1.5 below).
- IMAGES = https://ai.google.dev/gemini-api/docs/image-understanding ("Token calculation"):
  the same rule for Gemini 2.0 Flash and 2.5 Flash/Pro, and "a rough formula" for the
  tiles: crop unit = floor(min(width, height) / 1.5); divide each side by it and multiply.
  Worked example: 960x540 → crop unit 360 → 3 * 2 = 6 tiles. An earlier revision of the
  page (and Vertex AI's "image requirements") gave Gemini 1.5 the same tiles with the crop
  unit "not smaller than 256 pixels and not greater than 768", and Gemini 1.0 Pro Vision
  258 tokens an image. Also: formats PNG, JPEG, WEBP, HEIC, HEIF; at most 3,600 image
  files a request; inline data limits the whole request to 20 MB.
- FIT = https://firebase.google.com/docs/ai-logic/input-file-requirements (and Vertex AI's
  image requirements): "larger images are scaled down and padded to fit a maximum
  resolution of 3072 x 3072 while preserving their original aspect ratio".
- MEDIA = https://ai.google.dev/gemini-api/docs/media-resolution ("Token counts"): Gemini 3
  images cost 280 (LOW), 560 (MEDIUM), 1120 (HIGH), 2240 (ULTRA_HIGH, per part only); the
  default (UNSPECIFIED) is 1120. The parameter sets "the maximum number of tokens" and the
  table is "approximate"; the pixels behind a budget are not documented. Gemini 2.5: LOW 64,
  MEDIUM 256, HIGH "256 + Pan & Scan", default "256 + Pan & Scan (~2048)". The same
  figures for Gemini 3 are on Vertex AI's "Get started with Gemini 3"
  (https://docs.cloud.google.com/vertex-ai/generative-ai/docs/start/get-started-with-gemini-3);
  the 64/256 enum values in https://ai.google.dev/api/generate-content#MediaResolution.
- INLINE = https://blog.google/innovation-and-ai/technology/developers-tools/gemini-api-new-file-limits
  (2026-01-12): inline data raised "from 20MB to 100MB (base64 encoded ...)".

Where the pages disagree: for Gemini 2.5 with no media_resolution, TOKENS and IMAGES give the
258-token tiles with a worked example, MEDIA an approximate "256 + Pan & Scan (~2048)"; Iris
follows the tiles (two pages, a formula, an example). For Gemini 1.5, IMAGES (earlier) and
Vertex give tiles, an older TOKENS a fixed 258; Iris follows the tiles.

What Iris sends decides what the model is asked to do, so the estimate mirrors gemini.py,
and both ask this module (part_resolution, config_resolution; sent_resolution for one image).
MEDIA, "Per-part media resolution (Gemini 3 only)", "Global media resolution" and "Version
compatibility summary": a part's `media_resolution: {level}` sits beside its inline_data and
is "exclusive to Gemini 3 models" (the page's earlier revision called it experimental and
v1alpha-only; its later revision, https://ai.google.dev/gemini-api/docs/generate-content/
media-resolution, read 2026-11-26, says "available in the v1beta API version", which Iris
calls);
generationConfig.mediaResolution "is supported by all multimodal models", applies to every
media part (PDFs too), and a part's own level overrides it. ULTRA_HIGH is per part only.
So an image part's OpenAI `detail` low → LOW and high → HIGH (auto or none: nothing, the
model's default): per part on Gemini 3; on the other documented families in generationConfig
only when every image of the request asks the same level and no document rides along (one
request-wide setting would change the others). A request-level `media_resolution` body key
is not a convention found in Google's OpenAI-compatibility docs (https://ai.google.dev/
gemini-api/docs/openai, read 2026-11-26: extra_body.google shows thinking_config): it is not
forwarded (gemini_params logs it as dropped) and changes no estimate.
"""

import math
import re

from gateway import vision
from gateway.vision import Grid, Limits, Seen

# TOKENS, IMAGES: an image with both sides at most 384 px is one 258-token image.
SMALL_SIDE = 384
TILE = 768  # TOKENS, IMAGES: each tile is scaled to 768x768 px ...
TILE_TOKENS = 258  # ... and costs 258 tokens.
CROP_DIVISOR = 1.5  # IMAGES: crop unit = floor(shorter side / 1.5)
CROP_BOUNDS_15 = (256, 768)  # IMAGES (earlier revision), Vertex: Gemini 1.5's crop unit bounds
FIT_SIDE = 3072  # FIT: larger images are scaled down to fit 3072x3072

LEVELS = ("LOW", "MEDIUM", "HIGH", "ULTRA_HIGH")
# MEDIA, "Gemini 3 models", Image column; UNSPECIFIED (the default) is 1120, as HIGH.
GEMINI_3_BUDGETS = {"LOW": 280, "MEDIUM": 560, "HIGH": 1120, "ULTRA_HIGH": 2240}
GEMINI_3_DEFAULT = "HIGH"
# MEDIA, "Gemini 2.5 models", and the API's MediaResolution enum: LOW 64, MEDIUM 256; HIGH is
# "256 + Pan & Scan" (zoomed reframing) with no documented total, so it is unknown (None).
EARLIER_BUDGETS: dict[str, int | None] = {"LOW": 64, "MEDIUM": 256, "HIGH": None}

# IMAGES: "Supported image formats".
FORMATS = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"})
MAX_IMAGES = 3600  # IMAGES: "a maximum of 3,600 image files per request"
# Google takes 100 MB of base64 inline data (INLINE; 20 MB on IMAGES), but Iris refuses past
# 20 MB of base64 (gemini.MAX_INLINE_BYTES, a team decision): as decoded bytes, which is
# what the preflight adds up, that is 3/4 of it.
IRIS_INLINE_BASE64 = 20_000_000
MAX_REQUEST_BYTES = IRIS_INLINE_BASE64 * 3 // 4

_VERSION = re.compile(r"^(?:models/)?gemini-(\d+)(?:\.(\d+))?(?=-|$)")


def family(model: str) -> str | None:
    """The family whose rule applies: 1.0, 1.5, 2 (2.0 and 2.5), 3 (every 3.x); None: none."""
    match = _VERSION.match(model.lower())
    if not match:
        return None
    major, minor = int(match[1]), int(match[2] or 0)
    if major == 1 and minor in (0, 5):
        return f"1.{minor}"
    if major == 2 and minor in (0, 5):
        return "2"
    return "3" if major == 3 else None


# MEDIA: OpenAI's `detail` as a media_resolution level; "auto" (or none) sends nothing.
DETAIL_LEVELS = {"low": "LOW", "high": "HIGH"}


def part_resolution(model: str, detail: str | None) -> str | None:
    """The level Iris puts on an image's own part (Gemini 3 only), or None."""
    return DETAIL_LEVELS.get(detail or "") if family(model) == "3" else None


def config_resolution(model: str, body: dict, detail: str | None = None) -> str | None:
    """generationConfig.mediaResolution for a model other than Gemini 3: LOW when every image
    of the request asks `detail: low` and the request has no document.
    `detail` stands for the images of a body that has none (an estimate without messages)."""
    if family(model) in (None, "3"):
        return None
    details, documents = _request_media(body)
    if not details and not documents:
        details = [detail]
    levels = {DETAIL_LEVELS.get(d or "") for d in details}
    level = levels.pop() if len(levels) == 1 and not documents else None
    # Before Gemini 3, HIGH is "256 + Pan & Scan" with no documented total, much as the default
    # is: sending it would change nothing known and cost the estimate. Only LOW is sent.
    return level if level == "LOW" else None


def sent_resolution(model: str, detail: str | None, options: dict) -> str | None:
    """The media_resolution level (LOW, HIGH) this image goes at, on its part or in
    generationConfig, or None when Iris sends none: what gemini.py sends, decided above."""
    return part_resolution(model, detail) or config_resolution(model, options or {}, detail)


def _request_media(body: dict) -> tuple[list[str | None], bool]:
    """The `detail` of every image part of a chat body, and whether it has a document."""
    details: list[str | None] = []
    documents = False
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "image_url":
                spec = part.get("image_url")
                details.append(spec.get("detail") if isinstance(spec, dict) else None)
            documents = documents or kind == "file"
    return details, documents


def seen(model: str, width: int, height: int, detail: str | None, options: dict) -> Seen:
    """One image of `width`×`height` px as `model` sees it, given the request body."""
    options = options or {}
    level = sent_resolution(model, detail, options)
    result = seen_at(model, width, height, level)
    notes = list(result.notes)
    if level is None and detail in DETAIL_LEVELS:
        why = _why_not(model, detail)
        notes.append(f"detail: {detail} is not sent to Gemini ({why}): the default resolution")
    if options.get("media_resolution") is not None:
        notes.append("media_resolution is not forwarded by Iris: an image's detail sets it")
    return Seen(result.width, result.height, result.tokens, result.grid, result.rule, tuple(notes))


def _why_not(model: str, detail: str) -> str:
    if family(model) is None:
        return "no documented media_resolution for this model"
    if detail == "high":
        return "before Gemini 3, HIGH is the default's Pan & Scan again, its total undocumented"
    return (
        "before Gemini 3 one level applies to the whole request, and its images ask "
        "different ones or it carries a document"
    )


def seen_at(model: str, width: int, height: int, level: str | None = None) -> Seen:
    """The image at a media_resolution `level` (None: the default), by the model's family."""
    fam = family(model)
    level = _level(level)
    if fam is None:
        return vision.unknown(f"no documented image rule for {model!r}")
    if level == "" or (level == "ULTRA_HIGH" and fam != "3"):
        return vision.unknown(f"media_resolution {level or '?'} is not documented for {model!r}")
    if fam == "3":
        return _budget(level or GEMINI_3_DEFAULT, level is None)
    if level is not None:
        tokens = EARLIER_BUDGETS[level]
        rule = f"Gemini {fam} media_resolution {level}"
        if tokens is None:
            return vision.unknown(f"{rule}: 256 tokens plus pan and scan, total not documented")
        return Seen(None, None, tokens, rule=f"{rule}: {tokens} tokens")
    if fam == "1.0":
        w, h = vision.fit_within(width, height, FIT_SIDE, FIT_SIDE)
        grid = Grid("tiles", 1, 1, max(w, h), TILE_TOKENS)
        return Seen(w, h, TILE_TOKENS, grid, "Gemini 1.0 Pro Vision: 258 tokens an image")
    return _tiles(fam, width, height)


# Google's examples stay within a handful of tiles; past this many the "rough" formula is
# taken to say nothing (an Iris bound, not Google's).
MAX_TILES = 64


def _tiles(fam: str, width: int, height: int) -> Seen:
    """Gemini 1.5 and 2.x with no media_resolution: the small-image rule, else 768-px tiles
    cut at the documented crop unit and scaled to 768x768, 258 tokens each."""
    name = "Gemini 1.5" if fam == "1.5" else "Gemini 2.x"
    if width <= SMALL_SIDE and height <= SMALL_SIDE:
        grid = Grid("tiles", 1, 1, max(width, height), TILE_TOKENS)
        return Seen(width, height, TILE_TOKENS, grid, f"{name}: both sides ≤ 384 px: 258 tokens")
    w, h = vision.fit_within(width, height, FIT_SIDE, FIT_SIDE)
    crop = math.floor(min(w, h) / CROP_DIVISOR)
    if fam == "1.5":
        crop = min(max(crop, CROP_BOUNDS_15[0]), CROP_BOUNDS_15[1])
    if crop < 1:  # a shorter side under 2 px: the formula gives no crop unit
        return vision.unknown(f"{name}: a {w}×{h} px image has no documented tiling")
    cols, rows = vision.cells(w, h, crop)
    if cols * rows > MAX_TILES:  # a thin strip: the rough formula past any sense (3072×2: 6144)
        return vision.unknown(f"{name}: {cols}×{rows} tiles, beyond what Google documents")
    grid = Grid("tiles", cols, rows, TILE, TILE_TOKENS)
    # Each crop-unit square becomes a 768-px tile: the model sees the image at 768/crop.
    seen_w, seen_h = max(1, w * TILE // crop), max(1, h * TILE // crop)
    rule = f"{name}: crop unit {crop} px, {cols}×{rows} tiles of 258 tokens (Google: rough)"
    return Seen(seen_w, seen_h, cols * rows * TILE_TOKENS, grid, rule)


def _budget(level: str, default: bool) -> Seen:
    """Gemini 3: a token budget per image; Google documents no pixels or grid behind it."""
    tokens = GEMINI_3_BUDGETS[level]
    which = f"{level} (the default)" if default else level
    return Seen(None, None, tokens, rule=f"Gemini 3 media_resolution {which}: {tokens} tokens")


def _level(level: str | None) -> str | None:
    """LOW/MEDIUM/HIGH/ULTRA_HIGH from "low" or "MEDIA_RESOLUTION_LOW"; None for no level
    (or UNSPECIFIED); "" for a name Google does not document."""
    if level is None:
        return None
    name = level.upper().removeprefix("MEDIA_RESOLUTION_")
    if name == "UNSPECIFIED":
        return None
    return name if name in LEVELS else ""


def limits(model: str) -> Limits:
    """What the Gemini API takes in one request, as Iris sends it (all images inline)."""
    return Limits(
        max_images=MAX_IMAGES if family(model) else None,
        formats=FORMATS,
        max_request_bytes=MAX_REQUEST_BYTES,
        source="https://ai.google.dev/gemini-api/docs/image-understanding (read 2026-11-26)",
    )
