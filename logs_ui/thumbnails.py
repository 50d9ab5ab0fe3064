"""Thumbnails: made with Pillow once per image and size, kept in blob storage as WebP.

An image's bytes never change (blobs are named by their SHA-256), so neither do its
thumbnails: they are cached for good, in storage and in the browser.
"""

import functools
import io
import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage
from PIL import ImageOps

from gateway.images import TooManyPixels, fit_for_decoding, open_image
from gateway.log import blobs
from gateway.models import Blob

logger = logging.getLogger(__name__)
SIZES = (96, 480)  # list strip (shown at 28-48 px) and detail cards (shown at up to 240 px)
_RECIPE = 1  # bump when the recipe changes: new names, new ETags, old files simply unused
# Striped locks: within a process, a thumbnail is made once even when asked for twice at once.
_locks = [threading.Lock() for _ in range(32)]


class ThumbnailError(Exception):
    """No thumbnail: Pillow could not make one, or the image's bytes are gone; the message
    says why."""


def storage_name(sha256: str, size: int) -> str:
    return f"thumbs/{sha256[:2]}/{sha256}-{size}-r{_RECIPE}.webp"


def etag(sha256: str, size: int) -> str:
    return f'"{sha256[:32]}-{size}-r{_RECIPE}"'


def get_or_make(blob: Blob, size: int) -> bytes:
    """The cached thumbnail, made and stored on first use. Blocking: run it in a thread."""
    if blob.mime == "image/svg+xml":  # never parsed here: the page shows it through <img>
        raise ThumbnailError("an SVG has no thumbnail; the page shows the image itself")
    return cached(blob, storage_name(blob.sha256, size), lambda original: render(original, size))


def cached(blob: Blob, name: str, make: Callable[[bytes], bytes]) -> bytes:
    """The file `name` in storage, made from the blob's bytes by make() on first use (a
    thumbnail, a document's page). make() raises ThumbnailError when it cannot. Read first,
    no existence check: on S3 a cached thumbnail costs one GET."""
    with _locks[hash(name) % len(_locks)]:
        try:
            return _read(name)
        except FileNotFoundError:  # not made yet
            pass
        try:
            original = _read(blob.storage_name)
        except FileNotFoundError:  # the row outlived its file
            raise ThumbnailError("the bytes are missing from storage") from None
        data = make(original)
        try:
            saved = default_storage.save(name, ContentFile(data))
            if saved != name:  # another process made it meanwhile; storage kept both, drop ours
                default_storage.delete(saved)
        except Exception as exc:  # storage refused to keep it: shown now, made again next time
            logger.warning("thumbnail %s not kept: %s", name, unreachable(exc))
        return data


def _read(name: str) -> bytes:
    """A file's bytes; FileNotFoundError when it is not there. Storage that fails otherwise
    (S3 unreachable, timing out, refusing; a local read error) is a ThumbnailError saying so,
    never a 500 nor "missing"."""
    try:
        return blobs.read(name)
    except FileNotFoundError:
        raise
    except Exception as exc:  # botocore's errors, some of them OSErrors (timeouts)
        raise ThumbnailError(unreachable(exc)) from None


def unreachable(exc: BaseException) -> str:
    """What a storage failure says in a header or a log line: its kind only (a remote
    store's message can name the endpoint and bucket; never the credentials, but keep it
    short)."""
    return f"blob storage unavailable ({type(exc).__name__})"


def render(data: bytes, size: int) -> bytes:
    """A WebP no larger than size×size: first frame, EXIF orientation applied. Decodes at most
    GATEWAY_MAX_IMAGE_PIXELS (a JPEG at 1/2..1/8 scale); past that, ThumbnailError."""
    try:
        with open_image(data) as img:
            img.seek(0)  # first frame of an animation
            img.draft("RGB", (size, size))  # JPEG: decode at 1/2..1/8 scale, much faster
            fit_for_decoding(img, settings.GATEWAY_MAX_IMAGE_PIXELS)
            img = ImageOps.exif_transpose(img) or img
            img.thumbnail((size, size), PILImage.Resampling.LANCZOS, reducing_gap=3.0)
            alpha = "A" in img.getbands() or "transparency" in img.info
            img = img.convert("RGBA" if alpha else "RGB")
            out = io.BytesIO()
            img.save(out, "WEBP", quality=80, method=4)
            return out.getvalue()
    except TooManyPixels as exc:
        raise ThumbnailError(f"no preview: the image {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError, PILImage.DecompressionBombError) as exc:
        raise ThumbnailError(f"{type(exc).__name__}: {exc}") from None


@functools.cache
def placeholder(size: int) -> bytes:
    """A neutral tile shown where a thumbnail cannot be made (the page says why)."""
    out = io.BytesIO()
    PILImage.new("RGB", (size, size), (226, 229, 236)).save(out, "WEBP")
    return out.getvalue()
