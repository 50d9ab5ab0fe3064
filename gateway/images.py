"""Images in chat requests: data-URI decoding, sniffing with Pillow, hashing. No Django, no I/O."""

import asyncio
import binascii
import functools
import hashlib
import io
import re
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import pybase64
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

_DATA_URI = re.compile(
    r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[^;,]*)*)(?P<b64>;base64)?,"
)
_DATA_URI_BYTES = re.compile(_DATA_URI.pattern.encode())

# ISO-BMFF brands Pillow cannot open without plug-ins; recognised so they get a precise error.
_HEIF_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"avis": "image/avif",
}


# A PNG ends with an empty IEND chunk: length 0, "IEND", its CRC.
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_TAIL = 4096  # where an end marker is looked for, allowing for bytes appended after it

# Serialises the rare open of an image past Pillow's own limit (see open_image).
_unchecked = threading.Lock()
# PDFium is not thread-safe: one call into it at a time, whichever thread makes it.
pdfium_lock = threading.Lock()


T = TypeVar("T")


class _Decodes:
    """The threads the request path decodes images on (auto-fit, format conversion): a pool
    of their own, GATEWAY_MAX_CONCURRENT_DECODES threads. Each decode may hold
    GATEWAY_MAX_IMAGE_PIXELS × 4 bytes, so the pool bounds their memory together; and decodes
    waiting their turn wait in its queue, holding none of the default pool's threads."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self.size = 0

    def set(self, size: int) -> None:
        old, self.size = self._pool, max(1, size)
        self._pool = ThreadPoolExecutor(self.size, thread_name_prefix="iris-decode")
        if old is not None:
            old.shutdown(wait=False)

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        if self._pool is None:
            self.set(2)
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)


decodes = _Decodes()  # sized at start-up (gateway/apps.py)

PDF_MIME = "application/pdf"


class ImageError(ValueError):
    """The bytes or the URI are not a usable image; the message says why."""


class TooManyPixels(ImageError):
    """Decoding the image would take more pixels than the limit allows."""


@dataclass
class Image:
    """One image of a chat request, where it sits, and what it is."""

    message: int
    part: int
    origin: str  # "base64" | "url" | "file" (a multipart upload)
    detail: str | None = None
    url: str | None = None  # the original URL, for URL images
    data_uri_prefix: str = ""  # "data:image/png;base64," as the client wrote it
    data: bytes | None = None  # None for a URL image that was not (or could not be) fetched
    mime: str = ""
    width: int | None = None
    height: int | None = None
    frames: int = 1
    error: str = ""  # why a URL could not be fetched, or why the bytes are not an image
    # A defect that does not stop the bytes going upstream (the provider decides): truncated.
    problem: str = ""
    exif_orientation: int | None = None
    fetch_ms: float | None = None  # a URL image: how long its fetch took (failed ones too)
    # What is sent upstream when the provider refuses the original format (see convert()).
    converted: tuple[bytes, str] | None = None
    converted_size: tuple[int, int] | None = None  # its pixels, when auto-fit resized it
    encoded: tuple[bytes, str] | None = None  # (payload, its base64), see payload_base64
    # "input" (a chat image, an image to edit), "mask" (an edit's mask), "output" (an image
    # the model made) or "partial" (one streamed while it was made).
    role: str = "input"
    partial_index: int | None = None  # a partial image: which one, while output `part` was made

    @property
    def payload(self) -> bytes:
        """The bytes to send upstream: the converted copy if there is one, else the original."""
        return self.converted[0] if self.converted else (self.data or b"")

    @property
    def payload_base64(self) -> str:
        """The payload as base64 text, encoded once: the log recognises it in what was sent
        upstream by identity (gateway/log/rows.py), without encoding or searching again."""
        payload = self.payload
        if self.encoded is None or self.encoded[0] is not payload:
            self.encoded = (payload, pybase64.b64encode(payload).decode("ascii"))
        return self.encoded[1]

    @property
    def payload_size(self) -> tuple[int | None, int | None]:
        """The pixels sent upstream: the fitted copy's, else the image's own."""
        return self.converted_size or (self.width, self.height)

    @property
    def payload_mime(self) -> str:
        return self.converted[1] if self.converted else self.mime

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data or b"").hexdigest()

    @property
    def size(self) -> int:
        return len(self.data or b"")

    def describe(self, data: bytes) -> None:
        """Fill mime, size and dimensions from the bytes; raise ImageError if they are no image."""
        info = sniff(data)
        self.data = data
        self.mime, self.width, self.height = info.mime, info.width, info.height
        self.frames, self.exif_orientation = info.frames, info.exif_orientation
        self.problem = info.problem

    @property
    def is_document(self) -> bool:
        return self.mime == PDF_MIME

    def describe_document(self, data: bytes) -> None:
        """Fill mime and page count (in `frames`) from a PDF's bytes; ImageError if they are
        no PDF PDFium can open (encrypted ones included)."""
        if b"%PDF-" not in data[:1024]:
            raise ImageError("is not a PDF (documents are taken as PDF only)")
        self.data, self.mime, self.width, self.height = data, PDF_MIME, None, None
        self.frames = pdf_pages(data)

    def adopt(self, source: "Image") -> None:
        """Take the bytes and facts of an image fetched from the same URL: one bytes object
        shared, not a copy, and hashed once."""
        self.data, self.mime, self.error, self.problem = (
            source.data,
            source.mime,
            source.error,
            source.problem,
        )
        self.width, self.height, self.frames = source.width, source.height, source.frames
        self.exif_orientation, self.fetch_ms = source.exif_orientation, source.fetch_ms
        self.__dict__["sha256"] = source.sha256  # functools.cached_property's own slot


@dataclass
class Sniffed:
    mime: str
    width: int | None
    height: int | None
    frames: int = 1
    exif_orientation: int | None = None
    problem: str = ""  # see Image.problem


def decode_data_uri(uri: str | memoryview, *, tolerant: bool = True) -> tuple[str, bytes]:
    """Split a base64 data URI into its prefix and its bytes; ImageError if it is malformed.
    A memoryview (over the raw request, see gateway/chat.py) is decoded without a copy.
    Tolerant: line breaks and missing padding are forgiven, as browsers and OpenAI do."""
    is_text = isinstance(uri, str)
    match = (_DATA_URI if is_text else _DATA_URI_BYTES).match(uri)
    if not match:
        raise ImageError("is not a valid data URI (expected data:image/...;base64,...)")
    if not match["b64"]:
        raise ImageError("data URI is not base64-encoded (missing ';base64')")
    payload = uri[match.end() :]
    try:
        data = _b64decode(payload)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        if not tolerant:
            raise ImageError(f"data URI is not valid base64 ({exc})") from None
        try:
            cleaned = "".join((payload if is_text else str(payload, "latin-1")).split())
            data = binascii.a2b_base64(cleaned + "=" * (-len(cleaned) % 4), strict_mode=True)
        except ValueError:
            raise ImageError(f"data URI is not valid base64 ({exc})") from None
    if not data:
        raise ImageError("data URI holds no data")
    prefix = uri[: match.end()]
    return prefix if is_text else bytes(prefix).decode("utf-8", "replace"), data


def _b64decode(payload: str | memoryview) -> bytes:
    """binascii's strict decoding, fast: pybase64 is SIMD and lets go of the GIL (20 MB in 2 ms,
    not 63 ms of a held GIL). It refuses a little more; binascii then has the last word."""
    try:
        return pybase64.b64decode(payload, validate=True)
    except ValueError:
        return binascii.a2b_base64(payload, strict_mode=True)


def sniff(data: bytes) -> Sniffed:
    """What the bytes really are (never trust the declared type). Reads headers only: any
    pixel count is fine here, as nothing is decoded."""
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return Sniffed(mime=_HEIF_BRANDS[data[8:12]], width=None, height=None)
    try:
        img = open_image(data)
        problem = _cut_short(img, data)  # first: it reads where the header left the file
        mime = img.get_format_mimetype() or PILImage.MIME.get(img.format or "", "")
        orientation = _orientation(img)
        return Sniffed(
            mime=mime or "application/octet-stream",
            width=img.width,
            height=img.height,
            frames=_frames(img),
            exif_orientation=orientation if orientation and orientation != 1 else None,
            problem=f"the image looks truncated: {problem}" if problem else "",
        )
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise ImageError("is not an image Iris can read (PNG, JPEG, GIF, WEBP, ...)") from None


def pdf_pages(data: bytes) -> int:
    """How many pages a PDF has: PDFium reads its cross-reference table, no page is drawn."""
    import pypdfium2  # imported where needed: most processes never see a PDF

    with pdfium_lock:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            raise ImageError(f"is not a PDF Iris can read ({exc})") from None
        try:
            return len(document)
        finally:
            document.close()


def limit_pixels(max_pixels: int) -> None:
    """Set Pillow's own decompression-bomb limit on purpose (gateway/apps.py does, from
    GATEWAY_MAX_IMAGE_PIXELS): past it Pillow warns (silenced: Iris checks before every decode,
    see fit_for_decoding), past twice it refuses even to open an image."""
    PILImage.MAX_IMAGE_PIXELS = max_pixels
    warnings.filterwarnings("ignore", category=PILImage.DecompressionBombWarning)


def open_image(data: bytes) -> PILImage.Image:
    """The image with its header read and nothing decoded, whatever its pixel count. Past
    twice MAX_IMAGE_PIXELS Pillow refuses to open it at all; then it is opened again with that
    check lifted for the header read alone (decoders call fit_for_decoding before load)."""
    try:
        return PILImage.open(io.BytesIO(data))
    except PILImage.DecompressionBombError:
        pass
    with _unchecked:
        limit, PILImage.MAX_IMAGE_PIXELS = PILImage.MAX_IMAGE_PIXELS, None
        try:
            return PILImage.open(io.BytesIO(data))
        finally:
            PILImage.MAX_IMAGE_PIXELS = limit


def fit_for_decoding(img: PILImage.Image, max_pixels: int) -> None:
    """Before load(): make decoding img cost at most max_pixels, or raise TooManyPixels.
    A JPEG decodes at 1/2, 1/4 or 1/8 scale (draft) when that is enough; other formats can
    only decode whole."""
    w, h = img.size
    if w * h > max_pixels and img.format in {"JPEG", "MPO"}:
        scale = next((s for s in (2, 4, 8) if -(-w // s) * -(-h // s) <= max_pixels), 8)
        img.draft(None, (max(1, w // scale), max(1, h // scale)))
    if img.width * img.height > max_pixels:
        raise TooManyPixels(
            f"is {w}×{h} px, more than the {max_pixels:,} pixels Iris decodes "
            "(GATEWAY_MAX_IMAGE_PIXELS)"
        )


def _frames(img: PILImage.Image) -> int:
    try:
        return getattr(img, "n_frames", 1)
    except PILImage.DecompressionBombError:  # a GIF frame that grows the canvas past the limit
        return 1


def _cut_short(img: PILImage.Image, data: bytes) -> str:
    """Why the bytes look cut short, judged by their end marker alone (no decoding), or ""
    where the format has none that is cheap to check. (Pillow opens no truncated WebP.)"""
    fmt, tail = img.format, max(0, len(data) - _TAIL)
    if fmt == "PNG" and data.rfind(_PNG_END, tail) == -1:
        return "the PNG has no IEND chunk at its end"
    # Bytes may follow a JPEG's end (a motion photo's video): look for it after the scan start,
    # where Pillow's header read stopped (an EXIF thumbnail's own FFD9 comes before). From the
    # end backwards: the marker sits near it, where a forward search reads the whole megabyte
    # of scan data first (0.9 ms per MB).
    scan = img.fp.tell() if img.fp else 0
    if fmt == "JPEG" and not data.endswith(b"\xff\xd9") and data.rfind(b"\xff\xd9", scan) < 0:
        return "the JPEG has no end-of-image marker (FFD9)"
    if fmt == "GIF" and not data[-64:].rstrip(b"\x00").endswith(b";"):
        return "the GIF has no trailer (0x3B) at its end"
    if fmt == "BMP" and (declared := int.from_bytes(data[2:6], "little")) > len(data):
        return f"the BMP holds {len(data)} of the {declared} bytes its header declares"
    return ""


def _orientation(img: PILImage.Image) -> int | None:
    if img.format not in {"JPEG", "WEBP", "PNG"}:
        return None
    if img.format == "PNG" and "exif" not in img.info:
        # Pillow's PNG getexif() decodes the whole image to look for an eXIf chunk after the
        # pixels: tens of MB and many ms for a big PNG. Only an eXIf chunk before them counts.
        return None
    return img.getexif().get(0x0112)


def to_png(data: bytes, *, max_pixels: int) -> bytes:
    """Re-encode any image Pillow reads (first frame of animations) as PNG, decoding at most
    max_pixels (TooManyPixels past it; a big JPEG is decoded at a reduced scale instead)."""
    try:
        with open_image(data) as img:
            img.seek(0)
            fit_for_decoding(img, max_pixels)
            if img.mode not in {"RGB", "RGBA", "L", "LA"}:
                img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
            out = io.BytesIO()
            img.save(out, "PNG")
            return out.getvalue()
    except ImageError:
        raise
    except PILImage.DecompressionBombError as exc:  # a later frame or tile, found decoding
        raise TooManyPixels(f"is too large to decode ({exc})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(f"cannot be converted to PNG ({exc})") from None
