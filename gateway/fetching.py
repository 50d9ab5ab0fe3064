"""Fetching a client's image URL into its Image (guarded: see gateway/http.py)."""

from gateway import http
from gateway.images import Image, ImageError


async def fetch_image(img: Image) -> None:
    """Fetch a URL image (guarded) into img; on failure, record why in img.error."""
    try:
        fetched = await http.fetch_guarded(img.url or "")
    except http.FetchError as exc:
        img.error = f"fetch failed: {exc}"
        return
    try:
        img.describe(fetched.data)
    except ImageError as exc:
        # Keep the bytes anyway: the logs UI offers them for download.
        img.data, img.mime = fetched.data, "application/octet-stream"
        img.error = f"the URL's content {exc}"
