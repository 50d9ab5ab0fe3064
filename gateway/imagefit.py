"""Auto-fit: an image downsized to the pixels a model would process anyway, before it is sent.

The provider resizes a big image itself (OpenAI to 2048 px then 768 px on the short side,
Anthropic to 1568 px, ...): sending it at that size already costs the same tokens and shows
the model the same pixels, in a fraction of the bytes. Pure: Pillow on bytes, no Django, no
I/O; run in a thread (decoding and encoding take milliseconds to a second).

What is kept: the format where the provider takes it (a JPEG stays a JPEG at quality 90 with
its chroma subsampling, a PNG a PNG, a WebP a WebP; anything else becomes PNG), the colour
profile, and the EXIF orientation tag alone (the pixels are never rotated: a provider that
ignores the tag sees the picture as before, one that honours it too). Animated images are
left alone, as are images whose rule is unknown: neither is ever guessed at.
"""

import io
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import JpegImagePlugin, UnidentifiedImageError

from gateway.images import ImageError, TooManyPixels, open_image

JPEG_QUALITY = 90  # high: the model must see what the provider's own resize would show it
WEBP_QUALITY = 90
_KEEP = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# An MPO (a phone's JPEG with a second, depth or preview frame) is its first frame: a JPEG.
_AS = {"image/mpo": "image/jpeg"}
_ORIENTATION = 0x0112


@dataclass(frozen=True)
class Fitted:
    data: bytes
    mime: str
    width: int
    height: int


def target_size(
    width: int | None,
    height: int | None,
    seen_width: int | None,
    seen_height: int | None,
    *,
    mime: str,
    frames: int = 1,
) -> tuple[int, int] | None:
    """The size to send an image at, or None when it goes as it is: the rule is unknown, the
    image is animated (a GIF's later frames are not ours to drop) or no larger than seen."""
    if not (width and height and seen_width and seen_height):
        return None
    if frames > 1 and mime != "image/mpo":
        return None
    if seen_width >= width and seen_height >= height:
        return None  # never upscale
    return min(seen_width, width), min(seen_height, height)


def output_mime(mime: str, accepted: frozenset[str] | None) -> str:
    """The same format when the provider takes it, else PNG (every provider takes PNG)."""
    mime = _AS.get(mime, mime)
    if mime in _KEEP and (not accepted or mime in accepted):
        return mime
    return "image/png"


def fit(
    data: bytes,
    size: tuple[int, int],
    *,
    mime: str,
    accepted: frozenset[str] | None = None,
    max_pixels: int,
) -> Fitted:
    """The image resized to `size` (Lanczos), decoding at most max_pixels (a JPEG decodes at
    1/2 to 1/8 scale when that still covers `size`). TooManyPixels past it, ImageError for
    bytes Pillow cannot decode (cut short, say)."""
    out_mime = output_mime(mime, accepted)
    try:
        with open_image(data) as img:
            img.seek(0)
            if img.format in {"JPEG", "MPO"}:
                img.draft(img.mode, size)  # DCT scaling: a 12 MP photo decodes at 3 MP
            if img.width * img.height > max_pixels:
                raise TooManyPixels(
                    f"is {img.width}×{img.height} px, more than the {max_pixels:,} pixels Iris "
                    "decodes (GATEWAY_MAX_IMAGE_PIXELS)"
                )
            extra = _kept_metadata(img, out_mime)
            pixels = _resizable(img, out_mime).resize(size, PILImage.LANCZOS, reducing_gap=3.0)
            return Fitted(_encode(pixels, out_mime, extra), out_mime, *size)
    except ImageError:
        raise
    except PILImage.DecompressionBombError as exc:
        raise TooManyPixels(f"is too large to decode ({exc})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(f"could not be resized ({exc})") from None


def _resizable(img: PILImage.Image, out_mime: str) -> PILImage.Image:
    """img in a mode Lanczos resizes and the output format stores."""
    if img.mode.startswith("I") or img.mode == "F":
        raise ImageError(f"is a {img.mode} image: high bit depths are sent as they are")
    alpha = "A" in img.getbands() or "transparency" in img.info
    if out_mime == "image/jpeg":
        return img if img.mode in {"L", "RGB", "CMYK"} else img.convert("RGB")
    if img.mode in {"L", "RGB", "RGBA"} or (img.mode == "LA" and out_mime == "image/png"):
        return img
    return img.convert("RGBA" if alpha else "RGB")


def _kept_metadata(img: PILImage.Image, out_mime: str) -> dict:
    extra: dict = {}
    if icc := img.info.get("icc_profile"):
        extra["icc_profile"] = icc
    orientation = img.getexif().get(_ORIENTATION) if img.format != "PNG" else None
    if orientation and orientation != 1:
        exif = PILImage.Exif()
        exif[_ORIENTATION] = orientation
        extra["exif"] = exif.tobytes()
    if out_mime == "image/jpeg" and img.format in {"JPEG", "MPO"}:
        sampling = JpegImagePlugin.get_sampling(img)
        if sampling != -1:
            extra["subsampling"] = sampling
    return extra


def _encode(img: PILImage.Image, out_mime: str, extra: dict) -> bytes:
    out = io.BytesIO()
    if out_mime == "image/jpeg":
        img.save(out, "JPEG", quality=JPEG_QUALITY, **extra)
    elif out_mime == "image/webp":
        img.save(out, "WEBP", quality=WEBP_QUALITY, **extra)
    else:
        img.save(out, "PNG", **extra)
    return out.getvalue()
