"""The request page's economics: each input image as the model saw it (the picture resized by
the provider's rule, its tile or patch grid, its tokens, its estimated cost, the warnings), and
the record's estimate and cost beside what the provider reported.

The log writer stored what the rule gave (LogImage seen_width, seen_height, grid,
estimated_tokens; RequestLog estimated_prompt_tokens, cost_usd, cost_breakdown); this module
only shows it. Providers do not apply EXIF orientation: the resized picture is the stored
pixels as they are, so a photo the phone rotated by a tag shows as the provider got it.
"""

import asyncio
import io
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404
from django.shortcuts import render as render_page
from django.urls import reverse
from django.views.decorators.http import require_GET
from PIL import Image as PILImage

from gateway import estimate, vision
from gateway.images import TooManyPixels, fit_for_decoding, open_image
from gateway.models import Blob, LogImage, RequestLog
from logs_ui import conversation, imageview, thumbnails
from logs_ui.access import viewer_required
from logs_ui.seen_grid import Drawing, draw, formula, scale_to_box

logger = logging.getLogger(__name__)
SVG = "image/svg+xml"  # Pillow cannot read it: no resized picture (imageview.SVG)
_RECIPE = 1  # bump when the recipe changes: new names, new ETags
_IMMUTABLE = "private, max-age=31536000, immutable"  # as the other image views: behind a login
BOX = 480  # the resized picture is drawn at most this many CSS px a side
MILLION = Decimal(1_000_000)


# The picture -------------------------------------------------------------------------------


def storage_name(sha256: str, width: int, height: int) -> str:
    return f"seen/{sha256[:2]}/{sha256}-{width}x{height}-r{_RECIPE}.webp"


def etag(sha256: str, width: int, height: int) -> str:
    return f'"seen-{sha256[:32]}-{width}x{height}-r{_RECIPE}"'


def render(data: bytes, width: int, height: int) -> bytes:
    """The first frame resized to exactly width×height, EXIF orientation left as stored (the
    provider does not apply it), as a WebP. Decodes at most GATEWAY_MAX_IMAGE_PIXELS (a JPEG
    at 1/2..1/8 scale when that still covers the target); past that, ThumbnailError."""
    limit = settings.GATEWAY_MAX_IMAGE_PIXELS
    if width * height > limit:
        raise thumbnails.ThumbnailError(
            f"{width}×{height} px is more than the {limit:,} pixels Iris draws "
            "(GATEWAY_MAX_IMAGE_PIXELS)"
        )
    try:
        with open_image(data) as img:
            img.seek(0)  # providers take the first frame of an animation
            img.draft("RGB", (width, height))  # JPEG: decode at the smallest scale ≥ the target
            fit_for_decoding(img, limit)
            alpha = "A" in img.getbands() or "transparency" in img.info
            img = img.convert("RGBA" if alpha else "RGB")  # P and 1 cannot be resampled
            img = img.resize((width, height), PILImage.Resampling.LANCZOS)
            out = io.BytesIO()
            # Lossy at 90: a 2048×1536 photo in 0.24 s and 176 KB (lossless: 1.2 s, 1.5 MB).
            img.save(out, "WEBP", quality=90, method=4)
            return out.getvalue()
    except TooManyPixels as exc:
        raise thumbnails.ThumbnailError(f"no preview: the image {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError, PILImage.DecompressionBombError) as exc:
        raise thumbnails.ThumbnailError(f"{type(exc).__name__}: {exc}") from None


@require_GET
@viewer_required
async def seen_image(request: HttpRequest, image_id: int) -> HttpResponse:
    """One input image resized to what the model processed; made once per image and size,
    immutable (a blob's bytes and a record's seen size never change)."""
    found = (
        await LogImage.objects.select_related("blob")
        .filter(pk=image_id, role="input", blob__isnull=False, seen_width__isnull=False)
        .exclude(seen_height=None)
        .afirst()
    )
    if found is None or found.blob.mime == SVG:
        raise Http404("No such picture.")
    blob, width, height = found.blob, found.seen_width, found.seen_height
    tag = etag(blob.sha256, width, height)
    if tag in request.headers.get("If-None-Match", ""):
        return _immutable(HttpResponseNotModified(), tag)
    name = storage_name(blob.sha256, width, height)
    try:
        data = await asyncio.to_thread(
            thumbnails.cached, blob, name, lambda original: render(original, width, height)
        )
    except thumbnails.ThumbnailError as exc:  # a neutral tile, the header saying why
        response = HttpResponse(thumbnails.placeholder(96), content_type="image/webp")
        response["X-Iris-Thumbnail-Error"] = str(exc)[:200].encode("ascii", "replace").decode()
        response["Cache-Control"] = "no-store"
        return response
    return _immutable(HttpResponse(data, content_type="image/webp"), tag)


@require_GET
@viewer_required
def seen_picture(request: HttpRequest, image_id: int) -> HttpResponse:
    """The resized picture with its grid drawn over it, for the card's toggle (htmx): the
    page itself carries no picture until one is wanted."""
    image = get_object_or_404(
        LogImage.objects.select_related("blob", "sent_blob", "log"), pk=image_id, role="input"
    )
    view = imageview.ImageView(image, in_chat=image.log.endpoint in conversation.CONVERSATIONS)
    found = image_seen(image, image.log, view.in_chat, drawable=not view.problem)
    if found is None or not found.url:
        raise Http404("No such picture.")
    return render_page(request, "logs_ui/seen.html#picture", {"s": found, "iv": view})


def _immutable(response: HttpResponse, tag: str) -> HttpResponse:
    response["ETag"] = tag
    response["Cache-Control"] = _IMMUTABLE
    response["X-Content-Type-Options"] = "nosniff"
    return response


# The page's data ---------------------------------------------------------------------------


def decimal(value: Any) -> Decimal | None:
    """A price or amount from the stored JSON (a string), None when absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        found = Decimal(str(value))
    except InvalidOperation:
        return None
    return found if found.is_finite() else None


@dataclass(frozen=True)
class SentCopy:
    """The copy sent upstream instead of the original (auto-fit, or a format conversion)."""

    blob: Blob
    original: Blob

    @property
    def saved(self) -> int:
        """Bytes fewer than the original (negative: the copy is larger)."""
        return self.original.size - self.blob.size

    @property
    def more(self) -> int:
        return -self.saved

    @property
    def saved_percent(self) -> float:
        return 100 * self.saved / self.original.size if self.original.size else 0.0


@dataclass
class SeenImage:
    """One input image as the model saw it, for its card."""

    image: LogImage
    known: bool  # the log writer recorded the seen size
    tokens: int | None = None
    width: int | None = None
    height: int | None = None
    url: str = ""  # the resized picture; "" when there is none to draw
    box: tuple[int, int] = (0, 0)  # its displayed size
    grid: Drawing | None = None
    formula: str = ""
    factor: float | None = None
    warnings: tuple[str, ...] = ()
    cost: Decimal | None = None  # estimated
    rate_kind: str = ""  # which price the estimate used: "image input" or "input"
    why_unknown: str = ""
    sent: SentCopy | None = None

    @property
    def resized(self) -> str:
        """ "downscaled 5.2×", "not resized"; "" when the original size is unknown."""
        factor = self.factor
        if factor is None:
            return ""
        if abs(factor - 1) < 0.005:
            return "not resized"
        shown = factor if factor > 1 else 1 / factor
        digits = 2 if shown < 1.1 else 1
        return f"{'downscaled' if factor > 1 else 'enlarged'} {shown:.{digits}f}×"


def image_seen(
    image: LogImage, log: RequestLog, in_chat: bool = True, drawable: bool = True
) -> SeenImage | None:
    """The card's "as the model saw it" data; None for an image it does not apply to (an
    output, a mask, or an image edit's input with no estimate). `drawable`: the card can show
    the picture (imageview.ImageView.problem is empty)."""
    if image.role != "input" or (image.blob is not None and image.blob.mime == "application/pdf"):
        return None
    blob, sent_blob = image.blob, image.sent_blob
    sent = SentCopy(sent_blob, blob) if sent_blob is not None and blob is not None else None
    width, height = image.seen_width, image.seen_height
    if not (width and height):
        if not in_chat and sent is None:
            return None
        out = SeenImage(image, False, tokens=image.estimated_tokens, sent=sent)
        out.why_unknown = why_unknown(image, log)
        out.cost, out.rate_kind = image_cost(image.estimated_tokens, log.cost_breakdown)
        return out
    seen = vision.Seen(width, height, image.estimated_tokens, rule="as logged")
    original = (blob.width, blob.height) if blob else (None, None)
    out = SeenImage(
        image,
        True,
        tokens=image.estimated_tokens,
        width=width,
        height=height,
        factor=vision.downscale_factor(seen, *original),
        warnings=tuple(
            vision.warnings(
                seen,
                width=original[0],
                height=original[1],
                frames=blob.frames if blob else 1,
                exif_orientation=blob.exif_orientation if blob else None,
                detail=image.detail or None,
            )
        ),
        sent=sent,
    )
    if drawable and blob is not None and blob.mime != SVG and blob.width:
        out.url = reverse("logs_ui:seen-image", args=[image.id])
        out.box = scale_to_box(width, height, BOX)
    if isinstance(image.grid, dict):
        out.grid = draw(image.grid, width, height, out.box[0] or BOX)
        out.formula = formula(image.grid, image.estimated_tokens)
    out.cost, out.rate_kind = image_cost(image.estimated_tokens, log.cost_breakdown)
    return out


def image_cost(tokens: int | None, breakdown: Any) -> tuple[Decimal | None, str]:
    """An image's estimated cost: its estimated tokens at the model's image input price, or
    its input price where it has none for images. (None, "") when either is unknown."""
    prices = breakdown if isinstance(breakdown, dict) else {}
    keys = (("image_input_usd_per_million", "image input"), ("input_usd_per_million", "input"))
    for key, kind in keys:
        rate = decimal(prices.get(key))
        if rate is not None:
            return (None, kind) if tokens is None else (tokens * rate / MILLION, kind)
    return None, ""


def why_unknown(image: LogImage, log: RequestLog) -> str:
    """Why an image has no seen size: the provider's rule asked again now (a pure function),
    so the page can say whether no rule is documented or the record predates the estimate."""
    try:
        rules = estimate.vision_rules(log.provider)
    except ImportError:  # the provider's rule module is not there
        rules = None
    if rules is None:
        return f"Iris has no image rule for provider “{log.provider or '?'}”"
    blob = image.blob
    if blob is None or not (blob.width and blob.height):
        return "the image's size is unknown"
    body = log.request_body if isinstance(log.request_body, dict) else {}
    try:
        now = rules.seen(log.model, blob.width, blob.height, image.detail or None, body)
    except Exception:  # as in the log writer: a rule failing costs the reason, not the page
        logger.exception("image rule failed for log image %s", image.pk)
        return "the provider's rule failed on this request"
    if now.width is not None:
        return "not estimated when this request was logged"
    if now.tokens is None:
        return now.rule or f"the provider documents no image rule for {log.model}"
    # Gemini 3: a token budget per image, and no pixels behind it.
    return f"the provider documents the tokens, not the size it resizes to ({now.rule})"


@dataclass(frozen=True)
class CostLine:
    kind: str
    quantity: int | None
    unit: str  # "token" | "image"
    rate: Decimal | None  # USD per million tokens, or per image
    usd: Decimal | None


@dataclass
class Economics:
    """The record's input estimate beside the reported usage, and its cost."""

    estimated: int | None
    reported: int | None
    difference: int | None  # reported − estimated
    cost: Decimal | None
    lines: list[CostLine]
    source: str = ""
    unknown: tuple[str, ...] = ()
    breakdown: bool = False  # a breakdown was recorded
    saved_by_cache: Decimal | None = None  # a cache HIT: what the upstream would have cost

    @property
    def difference_percent(self) -> float | None:
        if self.difference is None or not self.estimated:
            return None
        return 100 * self.difference / self.estimated


def economics(log: RequestLog) -> Economics:
    raw = log.cost_breakdown if isinstance(log.cost_breakdown, dict) else {}
    lines = []
    for line in raw.get("lines") or []:
        if not isinstance(line, dict):
            continue
        unit = "image" if line.get("unit") == "image" else "token"
        rate = line.get("usd_per_image" if unit == "image" else "usd_per_million")
        quantity = line.get("quantity")
        lines.append(
            CostLine(
                kind=str(line.get("kind") or "?"),
                quantity=quantity if isinstance(quantity, int) else None,
                unit=unit,
                rate=decimal(rate),
                usd=decimal(line.get("usd")),
            )
        )
    unknown = raw.get("unknown") if isinstance(raw.get("unknown"), list) else []
    return Economics(
        estimated=log.estimated_prompt_tokens,
        reported=log.prompt_tokens,
        difference=log.estimate_difference,
        cost=log.cost_usd,
        lines=lines,
        source=str(raw.get("source") or ""),
        unknown=tuple(str(kind) for kind in unknown),
        breakdown=bool(raw),
        saved_by_cache=decimal(raw.get("saved_by_cache")),
    )
