"""A PDF's pages as pictures: drawn by PDFium (pypdfium2), kept in blob storage as WebP.

A document's bytes never change (blobs are named by their SHA-256), so neither do its
pictures: each page is drawn once per size and cached for good, as thumbnails are. A page
is drawn at most SIZE px on its longer side and never past GATEWAY_MAX_IMAGE_PIXELS pixels,
whatever size the PDF claims for it. PDFium is not thread-safe: every call into it holds
gateway.images.pdfium_lock.
"""

import asyncio
import io
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings

from gateway.images import PDF_MIME, pdfium_lock
from gateway.models import Blob
from logs_ui.thumbnails import ThumbnailError, cached

LIST, STRIP, LARGE = 96, 240, 1600  # a list row (shown 32 px tall), a card (120), one page
SIZES = (LIST, STRIP, LARGE)
STRIP_PAGES = 8  # pages a card shows at once
MORE_PAGES = 48  # pages each "more" adds
_RECIPE = 1  # bump when the recipe changes: new names, new ETags, old files simply unused
# Renders queue here, one at a time (they would wait for pdfium_lock anyway), rather than
# holding threads of the default executor that the gateway's own work needs.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="iris-pdf-pages")


def storage_name(sha256: str, page: int, size: int) -> str:
    return f"thumbs/{sha256[:2]}/{sha256}-p{page}-{size}-r{_RECIPE}.webp"


def etag(sha256: str, page: int, size: int) -> str:
    return f'"{sha256[:32]}-p{page}-{size}-r{_RECIPE}"'


def get_or_make(blob: Blob, page: int, size: int) -> bytes:
    """Page `page` (from 1) as a WebP, drawn and stored on first use. Blocking."""
    if blob.mime != PDF_MIME:
        raise ThumbnailError(f"not a PDF ({blob.mime or 'unknown type'})")
    limit = settings.GATEWAY_MAX_IMAGE_PIXELS
    name = storage_name(blob.sha256, page, size)
    return cached(blob, name, lambda data: render(data, page, size, limit))


async def aget_or_make(blob: Blob, page: int, size: int) -> bytes:
    return await asyncio.get_running_loop().run_in_executor(
        _executor, get_or_make, blob, page, size
    )


def problem(blob: Blob) -> str:
    """Why the document's pages cannot be shown ("" when they can): its first page is drawn
    (and so cached for the card) to find out."""
    try:
        get_or_make(blob, 1, STRIP)
    except ThumbnailError as exc:
        return str(exc)
    return ""


def scale_for(width: float, height: float, size: int, max_pixels: int) -> float:
    """PDFium's scale (pixels per point) drawing a width×height pt page at most size px on
    its longer side and max_pixels in all (PDFium rounds each side up)."""
    scale = min(size / max(width, height), math.sqrt(max_pixels / (width * height)))
    while math.ceil(width * scale) * math.ceil(height * scale) > max_pixels:
        scale *= 0.9
    return scale


def render(data: bytes, page: int, size: int, max_pixels: int) -> bytes:
    """Page `page` (from 1) of the PDF as a WebP; ThumbnailError saying why not."""
    import pypdfium2  # imported where needed, as gateway.images does

    with pdfium_lock:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            raise ThumbnailError(f"PDFium cannot open this PDF: {exc}") from None
        try:
            if not 1 <= page <= len(document):
                raise ThumbnailError(f"the PDF has no page {page} (it has {len(document)})")
            pdf_page = document[page - 1]
            try:
                width, height = pdf_page.get_size()
                if not (width > 0 and height > 0):
                    raise ThumbnailError(f"page {page} has no size ({width}×{height} pt)")
                bitmap = pdf_page.render(scale=scale_for(width, height, size, max_pixels))
                try:
                    picture = bitmap.to_pil().convert("RGB")  # a copy, apart from PDFium's
                finally:
                    bitmap.close()
            finally:
                pdf_page.close()
        except (pypdfium2.PdfiumError, ValueError, OSError) as exc:
            raise ThumbnailError(f"PDFium cannot draw page {page}: {exc}") from None
        finally:
            # Closed here, under the lock: never later by a finalizer in some other thread.
            document.close()
    out = io.BytesIO()
    picture.save(out, "WEBP", quality=85 if size >= LARGE else 80, method=4)
    return out.getvalue()


@dataclass
class Pages:
    """A run of a document's pages for a strip of thumbnails: pages start..stop (from 1)."""

    sha256: str
    count: int
    start: int = 1
    log_id: int | None = None  # the request the pages are shown for (a link back to it)
    length: int = STRIP_PAGES

    @property
    def numbers(self) -> range:
        return range(self.start, self.stop + 1)

    @property
    def stop(self) -> int:
        return min(self.count, self.start + self.length - 1)

    @property
    def rest(self) -> int:
        return max(0, self.count - self.stop)

    @property
    def size(self) -> int:
        return STRIP

    @property
    def query(self) -> str:
        return f"?log={self.log_id}" if self.log_id else ""
