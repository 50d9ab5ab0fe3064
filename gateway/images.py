"""Images in chat requests: data-URI decoding, sniffing with Pillow, hashing. No Django, no I/O."""

import binascii
import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from functools import cached_property

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


class ImageError(ValueError):
    """The bytes or the URI are not a usable image; the message says why."""


@dataclass
class Image:
    """One image of a chat request, where it sits, and what it is."""

    message: int
    part: int
    origin: str  # "base64" | "url"
    detail: str | None = None
    url: str | None = None  # the original URL, for URL images
    data_uri_prefix: str = ""  # "data:image/png;base64," as the client wrote it
    data: bytes | None = None  # None for a URL image that was not (or could not be) fetched
    mime: str = ""
    width: int | None = None
    height: int | None = None
    frames: int = 1
    error: str = ""  # why a URL could not be fetched, or why the bytes are not an image
    exif_orientation: int | None = None
    # What is sent upstream when the provider refuses the original format (see convert()).
    converted: tuple[bytes, str] | None = None
    encoded: tuple[bytes, str] | None = None  # (payload, its base64), see payload_base64

    @property
    def payload(self) -> bytes:
        """The bytes to send upstream: the converted copy if there is one, else the original."""
        return self.converted[0] if self.converted else (self.data or b"")

    @property
    def payload_base64(self) -> str:
        """The payload as base64 text, encoded once: the log recognises it in what was sent
        upstream by identity (gateway/logrows.py), without encoding or searching again."""
        payload = self.payload
        if self.encoded is None or self.encoded[0] is not payload:
            self.encoded = (payload, pybase64.b64encode(payload).decode("ascii"))
        return self.encoded[1]

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


@dataclass
class Sniffed:
    mime: str
    width: int | None
    height: int | None
    frames: int = 1
    exif_orientation: int | None = None


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
    """What the bytes really are (never trust the declared type). Reads headers only."""
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return Sniffed(mime=_HEIF_BRANDS[data[8:12]], width=None, height=None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            img = PILImage.open(io.BytesIO(data))
        mime = img.get_format_mimetype() or PILImage.MIME.get(img.format or "", "")
        orientation = _orientation(img)
        return Sniffed(
            mime=mime or "application/octet-stream",
            width=img.width,
            height=img.height,
            frames=getattr(img, "n_frames", 1),
            exif_orientation=orientation if orientation and orientation != 1 else None,
        )
    except PILImage.DecompressionBombError as exc:
        raise ImageError(f"image is too large to decode safely ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageError("is not an image Iris can read (PNG, JPEG, GIF, WEBP, ...)") from None


def _orientation(img: PILImage.Image) -> int | None:
    if img.format not in {"JPEG", "WEBP", "PNG"}:
        return None
    if img.format == "PNG" and "exif" not in img.info:
        # Pillow's PNG getexif() decodes the whole image to look for an eXIf chunk after the
        # pixels: tens of MB and many ms for a big PNG. Only an eXIf chunk before them counts.
        return None
    return img.getexif().get(0x0112)


def to_png(data: bytes) -> bytes:
    """Re-encode any image Pillow reads (first frame of animations) as PNG."""
    try:
        with PILImage.open(io.BytesIO(data)) as img:
            img.seek(0)
            if img.mode not in {"RGB", "RGBA", "L", "LA"}:
                img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
            out = io.BytesIO()
            img.save(out, "PNG")
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"cannot be converted to PNG ({exc})") from None
