"""What an OpenAI (or Azure OpenAI) model makes of an image: OpenAI's documented rules.
Pure: no Django, no I/O.

Source for every constant below unless a comment says otherwise:
https://developers.openai.com/api/docs/guides/images-vision ("Model sizing behavior",
"Calculating costs"), read 2026-11-26. Two rules, by model family:
- tiles: fit in 2048×2048, scale the shortest side to 768 px, count 512-px tiles;
  tokens = base + tile × tiles (`detail: low`: base only).
- patches: count 32-px patches; past the family's patch budget or maximum side, shrink by
  the page's formula; tokens = patches × a per-model multiplier.
A family or setting the page leaves out is "unknown" (tokens None), never a guess.
"""

import math
from dataclasses import dataclass

from gateway import vision
from gateway.vision import Grid, Limits, Seen

DOC = "https://developers.openai.com/api/docs/guides/images-vision"  # read 2026-11-26


@dataclass(frozen=True)
class Tiles:
    base: int
    tile: int
    short_side: int = 768  # GPT Image 1: 512


@dataclass(frozen=True)
class Patches:
    # (patch budget, maximum side) per detail level; None: the page gives no number.
    high: tuple[int | None, int | None] | None
    multiplier: float | None  # None: the page lists none for this family
    original: tuple[int | None, int | None] | None = None  # None: no `detail: original`
    auto: str = ""  # what `auto` means where the page says; "" = not said


@dataclass(frozen=True)
class Unknown:
    why: str


# Tile-based families: the page's "Base tokens / Tile tokens" table, read 2026-11-26.
_GPT_4O = Tiles(85, 170)
_O_SERIES = Tiles(75, 150)
# Patch-based families: "high allows up to 1,536 patches or a 2048-pixel maximum dimension",
# multipliers from step D of "Patch-based image tokenization", read 2026-11-26.
_P1536 = (1536, 2048)

FAMILIES: dict[str, Tiles | Patches | Unknown] = {
    "gpt-5": Tiles(70, 140),  # and gpt-5-chat-latest
    "gpt-4o": _GPT_4O,
    "gpt-4.1": _GPT_4O,
    "gpt-4.5": _GPT_4O,
    "gpt-4o-mini": Tiles(2833, 5667),
    "o1": _O_SERIES,
    "o1-pro": _O_SERIES,
    "o3": _O_SERIES,
    "computer-use-preview": Tiles(65, 129),
    "gpt-5.4-mini": Patches(_P1536, 1.62),
    "gpt-5.4-nano": Patches(_P1536, 2.46),
    "gpt-5-mini": Patches(_P1536, 1.62),
    "gpt-5-nano": Patches(_P1536, 2.46),
    "gpt-4.1-mini": Patches(_P1536, 1.62),  # the page: the 2025-04-14 snapshot
    "gpt-4.1-nano": Patches(_P1536, 2.46),  # likewise
    "o4-mini": Patches(_P1536, 1.72),
    # Listed with the 1,536-patch families, but step D gives them no multiplier.
    "gpt-5.2": Patches(_P1536, None),  # with gpt-5.2-codex, gpt-5.2-chat-latest
    "gpt-5.3-codex": Patches(_P1536, None),
    "gpt-5-codex-mini": Patches(_P1536, None),
    "gpt-5.1-codex-mini": Patches(_P1536, None),
    # high: 2,500 patches or 2048 px; original: 10,000 patches or 6000 px; no multiplier.
    "gpt-5.4": Patches((2500, 2048), None, original=(10000, 6000), auto="high"),
    "gpt-5.5": Patches((2500, 2048), None, original=(10000, 6000), auto="original"),
    # "low and high can resize images under their finite limits" (not given); original and
    # auto keep the input dimensions; no multiplier.
    "gpt-5.6": Patches(None, None, original=(None, None), auto="original"),
    # Names a shorter family would catch by prefix, which the page does not cover.
    "gpt-5-pro": Unknown("gpt-5-pro is not in OpenAI's image tables"),
    "gpt-5-codex": Unknown("gpt-5-codex is not in OpenAI's image tables"),
    "o1-mini": Unknown("o1-mini is not in OpenAI's image tables"),
    "o1-preview": Unknown("o1-preview is not in OpenAI's image tables"),
    "o3-mini": Unknown("o3-mini is not in OpenAI's image tables"),
    "o3-pro": Unknown("o3-pro is not in OpenAI's image tables"),
    "o3-deep-research": Unknown("o3-deep-research is not in OpenAI's image tables"),
    "o4-mini-deep-research": Unknown("o4-mini-deep-research is not in OpenAI's image tables"),
    "gpt-image-1-mini": Unknown("OpenAI documents input-image tokens for GPT Image 1 only"),
}

# "GPT Image 1": the tile rule with the shortest side at 512 px; base 65, 129 a tile (input
# fidelity low); high input fidelity adds 4160 tokens for a square image, 6240 for one
# "closer to portrait or landscape". Same page, read 2026-11-26.
GPT_IMAGE_1 = Tiles(65, 129, short_side=512)
FIDELITY_SQUARE = 4160
FIDELITY_OBLONG = 6240
# The page names no threshold between "square" and "closer to portrait or landscape": we
# split at the geometric midpoint between 1:1 and 3:2 (GPT Image's oblong output sizes).
_SQUARE_UNTIL = math.sqrt(1.5)

_KEYS = sorted([*FAMILIES, "gpt-image-1"], key=len, reverse=True)


def family(model: str) -> str | None:
    """The documented family a model name belongs to, by prefix, longest first. Dated
    snapshots (gpt-4o-2024-08-06) and suffixed names (an Azure deployment "gpt-4o-prod")
    match; gpt-5.1 does not match gpt-5 (a version, not a suffix)."""
    name = model.strip().lower()
    for key in _KEYS:
        if name == key or (name.startswith(key) and name[len(key)] in "-_:@/ "):
            return key
    return None


def seen(model: str, width: int, height: int, detail: str | None, options: dict) -> Seen:
    key = family(model)
    if key is None:
        return vision.unknown(f"OpenAI documents no image rule for {model!r}")
    if key == "gpt-image-1":
        return _gpt_image(width, height, options)
    rule = FAMILIES[key]
    if isinstance(rule, Unknown):
        return vision.unknown(rule.why)
    level = (detail or "auto").lower()
    if level not in ("low", "high", "auto", "original"):
        return vision.unknown(f"detail {detail!r} is not one OpenAI documents")
    if isinstance(rule, Tiles):
        return _tiles(key, rule, width, height, level)
    return _patches(key, rule, width, height, level)


def _tiles(key: str, rule: Tiles, width: int, height: int, level: str) -> Seen:
    if level == "original":
        return vision.unknown(f"detail: original is not documented for {key}")
    if level == "low":
        # "The model receives a low-resolution 512px x 512px version of the image."
        w, h = vision.fit_within(width, height, 512, 512)
        note = f"detail: low — the model saw {max(w, h)} px, a flat {rule.base} tokens"
        return Seen(w, h, rule.base, None, f"OpenAI {key}, detail low: base only", (note,))
    w, h = _tile_fit(width, height, rule.short_side)
    cols, rows = vision.cells(w, h, 512)
    tokens = rule.base + rule.tile * cols * rows
    grid = Grid("tiles", cols, rows, 512, rule.tile, rule.base)
    text = f"OpenAI {key} tiles: {rule.base} + {rule.tile} × {cols * rows} tiles of 512 px"
    return Seen(w, h, tokens, grid, text, _auto_note(level, ""))


def _tile_fit(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Fit in 2048×2048, then the shortest side to `short_side` (768, GPT Image 1: 512).
    Downscale only: read literally the page would enlarge a small image to 768 px, but
    its worked examples only ever scale down, and measured billing agrees: a 128×64 image
    at detail high costs gpt-4o one tile (85 + 170), not the six tiles of 1536×768
    (https://community.openai.com/t/vision-more-than-one-way-to-send-a-request-undocumented-and-different-pricing-realized/1262691,
    read 2026-11-26). Sides round down, as in the page's 2048×4096 → 768×1536 example."""
    w, h = vision.fit_within(width, height, 2048, 2048)
    return vision.shortest_side_at_most(w, h, short_side)


def _patches(key: str, rule: Patches, width: int, height: int, level: str) -> Seen:
    notes = _auto_note(level, rule.auto)
    if level == "auto":
        level = rule.auto or "high"
    if level == "low":
        # The 512-px version is documented for every model; its cost on patch models is not.
        w, h = vision.fit_within(width, height, 512, 512)
        note = f"detail: low — the model saw {max(w, h)} px; OpenAI gives no patch cost for it"
        return Seen(w, h, None, None, f"OpenAI {key}, detail low: cost undocumented", (note,))
    caps = rule.original if level == "original" else rule.high
    if caps is None:
        what = "original" if level == "original" else "high"
        return vision.unknown(f"detail: {what} sizing is not documented for {key}")
    budget, max_side = caps
    w, h = patch_fit(width, height, budget, max_side)
    cols, rows = vision.cells(w, h, 32)
    count = cols * rows if budget is None else min(cols * rows, budget)
    if rule.multiplier is None:
        note = f"{count} patches of 32 px; OpenAI documents no token multiplier for {key}"
        return Seen(w, h, None, None, f"OpenAI {key} patches: multiplier unknown", (*notes, note))
    # The page does not say how patches × multiplier is rounded: to the nearest token.
    tokens = math.floor(count * rule.multiplier + 0.5)
    grid = Grid("patches", cols, rows, 32, rule.multiplier, 0)
    text = f"OpenAI {key} patches: {count} of 32 px × {rule.multiplier}"
    return Seen(w, h, tokens, grid, text, notes)


def patch_fit(width: int, height: int, budget: int | None, max_side: int | None) -> tuple[int, int]:
    """The page's resize for patch models: "fit within the lesser of" the patch budget and
    the maximum side, keeping the aspect ratio (steps B and C of "Patch-based image
    tokenization"). Worked example: 1800×2400 at 1,536 patches → 1056×1408, 1452 patches."""
    scale = 1.0
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)
    if budget is not None and math.ceil(width / 32) * math.ceil(height / 32) > budget:
        shrink = math.sqrt(32 * 32 * budget / (width * height))
        across, down = width * shrink / 32, height * shrink / 32
        # max(1, …): a side thinner than one patch would make the page's formula 0.
        fit = min(max(1, math.floor(across)) / across, max(1, math.floor(down)) / down)
        scale = min(scale, shrink * fit)
    if scale >= 1.0:
        return width, height
    # A hair of slack so 1056.0 computed as 1055.9999… stays 1056.
    return max(1, math.floor(width * scale + 1e-6)), max(1, math.floor(height * scale + 1e-6))


def _gpt_image(width: int, height: int, options: dict) -> Seen:
    rule = GPT_IMAGE_1
    w, h = _tile_fit(width, height, rule.short_side)
    cols, rows = vision.cells(w, h, 512)
    base = rule.base
    notes: tuple[str, ...] = ()
    fidelity = options.get("input_fidelity") if isinstance(options, dict) else None
    if str(fidelity or "low").lower() == "high":
        ratio = max(width, height) / min(width, height)
        square = ratio < _SQUARE_UNTIL
        base += FIDELITY_SQUARE if square else FIDELITY_OBLONG
        shape = "square" if square else "portrait or landscape"
        notes = (f"input_fidelity: high — {base - rule.base} tokens more ({shape})",)
    tokens = base + rule.tile * cols * rows
    grid = Grid("tiles", cols, rows, 512, rule.tile, base)
    text = f"OpenAI GPT Image 1 input: {base} + {rule.tile} × {cols * rows} tiles of 512 px"
    return Seen(w, h, tokens, grid, text, notes)


def _auto_note(level: str, documented: str) -> tuple[str, ...]:
    """The page calls auto "automatic detail selection" (the model decides) except where it
    names the outcome (gpt-5.4: high; gpt-5.5, GPT-5.6: original). Undecided, we estimate
    as high: the dearer of the two, so the estimate does not undersell."""
    if level != "auto":
        return ()
    if documented:
        return (f"detail: auto — {documented}, as OpenAI documents for this model",)
    return ("detail: auto — OpenAI lets the model choose; estimated as high",)


# Image input requirements: "PNG, JPEG, WEBP, Non-animated GIF"; "Up to 512 MB total payload
# size per request"; "Up to 1500 individual image inputs per request". Same page, read
# 2026-11-26. No per-image byte or pixel limit is given. MB read as MiB: of the two readings
# the larger, so preflight never refuses what OpenAI would take.
CHAT_LIMITS = Limits(
    max_images=1500,
    max_request_bytes=512 * 1024 * 1024,  # the images alone; the page counts the whole body
    formats=frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"}),
    source=f"{DOC}#image-input-requirements",
)
# POST /v1/images/edits, `image`: for the GPT image models "each image should be a png,
# webp, or jpg file less than 50MB. You can provide up to 16 images"; for dall-e-2 "only
# one image, and it should be a square png file less than 4MB" (squareness not checked
# here). https://developers.openai.com/api/reference/resources/images/methods/edit, read
# 2026-11-26.
EDIT_DOC = "https://developers.openai.com/api/reference/resources/images/methods/edit"
GPT_IMAGE_LIMITS = Limits(
    max_images=16,
    max_image_bytes=50 * 1024 * 1024,
    formats=frozenset({"image/png", "image/jpeg", "image/webp"}),
    source=EDIT_DOC,
)
DALL_E_2_LIMITS = Limits(
    max_images=1,
    max_image_bytes=4 * 1024 * 1024,
    formats=frozenset({"image/png"}),
    source=EDIT_DOC,
)


def limits(model: str) -> Limits:
    name = model.strip().lower()
    if name.startswith(("gpt-image-", "chatgpt-image-")):
        return GPT_IMAGE_LIMITS
    if name.startswith("dall-e-2"):
        return DALL_E_2_LIMITS
    return CHAT_LIMITS
