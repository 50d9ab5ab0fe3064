"""What a model makes of an image: the pixels it processes, the tokens they cost, and the
limits a provider puts on images. Pure: no Django, no I/O.

Each provider's own rule lives in gateway/providers/<provider>_vision.py as
`seen(model, width, height, detail, options) -> Seen` and `limits(model) -> Limits`, citing
the documentation it follows. This module holds the shapes they answer in and the arithmetic
they share; gateway/estimate.py applies them to a request.
"""

import math
from dataclasses import dataclass, field

# A downscale past this makes small text hard to read: the page says so.
BLURRY_FACTOR = 2.0
# EXIF orientations that turn the picture a quarter (5-8) or upside down (3, 4).
_SIDEWAYS = {5, 6, 7, 8}
_UPSIDE_DOWN = {3, 4}


@dataclass(frozen=True)
class Grid:
    """How the model cut the seen image: `cols`×`rows` cells of `cell` seen pixels each
    (512 px tiles, 768 px Gemini tiles, 32 px patches), plus a flat `base` cost."""

    kind: str  # "tiles" | "patches"
    cols: int
    rows: int
    cell: int
    tokens_per_cell: float | None  # None: the cut is documented, its price is not
    base_tokens: int = 0

    @property
    def cells(self) -> int:
        return self.cols * self.rows

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "cols": self.cols,
            "rows": self.rows,
            "cell": self.cell,
            "tokens_per_cell": self.tokens_per_cell,
            "base_tokens": self.base_tokens,
        }


@dataclass(frozen=True)
class Seen:
    """One image as one model sees it. `tokens` None means the provider documents no rule
    for this model ("unknown", never a guess); `width`/`height` None likewise."""

    width: int | None
    height: int | None
    tokens: int | None
    grid: Grid | None = None
    rule: str = ""  # which documented rule gave this, in a few words
    notes: tuple[str, ...] = ()  # the rule's own remarks, e.g. "detail: low — 512 px"


def unknown(rule: str) -> Seen:
    return Seen(None, None, None, rule=rule)


@dataclass(frozen=True)
class Limits:
    """What a provider accepts in one request; None is "no documented limit"."""

    max_images: int | None = None
    max_image_bytes: int | None = None  # each image, decoded bytes
    max_side: int | None = None  # pixels, the longer side
    max_pixels: int | None = None  # width × height
    formats: frozenset[str] = field(default_factory=frozenset)  # MIME types; empty = any
    max_request_bytes: int | None = None  # the images' bytes together
    # Anthropic: past `many_images` images in one request, each side at most `many_max_side`.
    many_images: int | None = None
    many_max_side: int | None = None
    source: str = ""  # the page the limits come from


@dataclass(frozen=True)
class Problem:
    """Why a provider would refuse one image (image None: the request as a whole)."""

    image: int | None
    message: str
    limit: str  # e.g. "max_image_bytes=5242880"

    def as_json(self) -> dict:
        return {"image": self.image, "message": self.message, "limit": self.limit}


def fit_within(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """Downscale (never up) to fit a box, keeping the aspect ratio; sides round down as
    the providers' worked examples do, and never below 1."""
    scale = min(1.0, max_width / width, max_height / height)
    return _scaled(width, height, scale)


def shortest_side_at_most(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / min(width, height))
    return _scaled(width, height, scale)


def longest_side_at_most(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height))
    return _scaled(width, height, scale)


def pixels_at_most(width: int, height: int, pixels: int) -> tuple[int, int]:
    scale = min(1.0, math.sqrt(pixels / (width * height)))
    return _scaled(width, height, scale)


def _scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    if scale >= 1.0:
        return width, height
    # The epsilon keeps float error from costing the constrained side a pixel (3072 → 3071).
    return max(1, int(width * scale + 1e-9)), max(1, int(height * scale + 1e-9))


def cells(width: int, height: int, cell: int) -> tuple[int, int]:
    """Columns and rows of `cell`-pixel squares covering width × height."""
    return math.ceil(width / cell), math.ceil(height / cell)


def warnings(
    seen: Seen,
    *,
    width: int | None,
    height: int | None,
    frames: int = 1,
    exif_orientation: int | None = None,
    detail: str | None = None,
) -> list[str]:
    """Plain remarks worth a developer's attention about one image as the model saw it."""
    out = list(seen.notes)
    factor = downscale_factor(seen, width, height)
    if factor and factor >= BLURRY_FACTOR:
        out.append(f"downscaled {factor:.1f}×: small text may be unreadable")
    if frames > 1:
        out.append(f"animated ({frames} frames): only the first frame is sent")
    if exif_orientation in _SIDEWAYS:
        out.append("EXIF rotation: the provider will see it sideways")
    elif exif_orientation in _UPSIDE_DOWN:
        out.append("EXIF rotation: the provider will see it upside down")
    if detail == "low" and seen.width and not any("detail" in note for note in out):
        out.append(f"detail: low — the model saw {max(seen.width, seen.height or 0)} px")
    return out


def downscale_factor(seen: Seen, width: int | None, height: int | None) -> float | None:
    """How many times smaller the longer side became (1.0: not resized; None: unknown)."""
    if not (seen.width and seen.height and width and height):
        return None
    return max(width, height) / max(seen.width, seen.height)
