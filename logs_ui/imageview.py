"""One logged image or PDF as the log pages show it (ImageView, DocumentView): its URLs, its
box, why it cannot be shown, where else it was sent."""

from dataclasses import dataclass
from functools import cached_property

from django.conf import settings
from django.urls import reverse

from gateway.models import Blob, LogImage
from logs_ui import pdfpages

# Shown only through <img> (where scripts never run); the bytes themselves are served as a
# sandboxed download. Pillow cannot read it, so it is its own thumbnail.
SVG = "image/svg+xml"
ORIENTATIONS = {
    2: "mirrored",
    3: "rotated 180°",
    4: "flipped vertically",
    5: "mirrored and rotated 90° clockwise",
    6: "rotated 90° clockwise",
    7: "mirrored and rotated 90° anticlockwise",
    8: "rotated 90° anticlockwise",
}


@dataclass
class ImageView:
    """A LogImage with what the page needs: URLs, why it cannot be shown, where else it was sent."""

    image: LogImage
    other_uses: int = 0
    in_chat: bool = True  # a chat request's (images sit in messages), or an Images API one's

    @property
    def blob(self) -> Blob | None:
        return self.image.blob

    @property
    def role(self) -> str:
        return self.image.role

    @property
    def svg(self) -> bool:
        return self.blob is not None and self.blob.mime == SVG

    @property
    def label(self) -> str:
        """What the image is, in a few words (its alt text)."""
        img = self.image
        if img.role == "mask":
            return "Mask"
        if img.role == "partial":
            return f"Partial image {img.partial_index} of output {img.part_index}"
        if img.role == "output":
            return f"Output image {img.part_index}" + (
                f" of choice {img.message_index}" if img.message_index else ""
            )
        if not self.in_chat:
            return f"Image {img.part_index}"
        return f"Image {img.part_index} of message {img.message_index}"

    @property
    def problem(self) -> str:
        """Why there is no picture to show ("" when there is one)."""
        if self.image.error:
            return self.image.error
        if self.svg:
            return ""
        if self.blob is None:
            return "" if self.image.url else "The image bytes were not kept."
        if self.blob.width is None:
            return f"Pillow cannot decode these bytes ({self.blob.mime or 'unknown type'})."
        w, h, limit = self.blob.width, self.blob.height or 0, settings.GATEWAY_MAX_IMAGE_PIXELS
        if w * h > limit and self.blob.mime not in {"image/jpeg", "image/mpo"}:  # JPEG: draft
            return f"No preview: {w}×{h} px is more than the {limit:,} pixels Iris decodes."
        return ""

    @property
    def live(self) -> bool:
        """No copy was kept at request time: the page shows the URL, fetched now (guarded)."""
        return self.blob is None and not self.problem

    @property
    def thumb_url(self) -> str:
        if self.svg:
            return self.full_url
        return reverse("logs_ui:thumbnail", args=[self.blob.sha256, 480]) if self.blob else ""

    @property
    def small_url(self) -> str:
        """A thumbnail for a strip of small images."""
        if self.svg or self.blob is None:
            return self.thumb_url
        return reverse("logs_ui:thumbnail", args=[self.blob.sha256, 96])

    @property
    def full_url(self) -> str:
        if self.blob is None:
            return reverse("logs_ui:live-image", args=[self.image.id])
        return reverse("logs_ui:image", args=[self.blob.sha256])

    @property
    def box(self) -> tuple[int, int]:
        """The thumbnail's displayed width and height (EXIF rotation swaps them)."""
        if self.svg:  # no size known without parsing it: a square box, drawn to fit
            return 240, 240
        w, h = (self.blob.width or 1, self.blob.height or 1) if self.blob else (4, 3)
        if self.blob and (self.blob.exif_orientation or 0) >= 5:
            w, h = h, w
        scale = min(1.0, 240 / max(w, h))
        return max(1, round(w * scale)), max(1, round(h * scale))

    @property
    def upright(self) -> tuple[int | None, int | None]:
        """Width and height as shown, once the EXIF orientation is applied."""
        if self.blob is None:
            return None, None
        w, h = self.blob.width, self.blob.height
        return (h, w) if (self.blob.exif_orientation or 0) >= 5 else (w, h)

    @property
    def orientation(self) -> str:
        value = self.blob.exif_orientation if self.blob else None
        return ORIENTATIONS.get(value or 1, "")

    @property
    def safe_url(self) -> str:
        """The original URL, only if it is a web URL (never a javascript: link)."""
        url = self.image.url
        return url if url.startswith(("https://", "http://")) else ""


@dataclass
class DocumentView:
    """A PDF sent in a message: its row and blob (as an image's), its filename, its pages."""

    view: ImageView
    filename: str = ""

    @property
    def image(self) -> LogImage:
        return self.view.image

    @property
    def blob(self) -> Blob | None:
        return self.view.blob

    @property
    def label(self) -> str:
        return f"Document {self.image.part_index} of message {self.image.message_index}"

    @cached_property
    def problem(self) -> str:
        """Why the pages cannot be shown ("" when they can); the first page is drawn to know."""
        if self.image.error:
            return self.image.error
        if self.blob is None:
            return "The document's bytes were not kept."
        return pdfpages.problem(self.blob)

    @property
    def pages(self) -> pdfpages.Pages:
        """The first pages, for the card's strip."""
        return pdfpages.Pages(self.blob.sha256, self.blob.frames, log_id=self.image.log_id)
