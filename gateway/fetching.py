"""Fetching a request's image URLs into its Images (guarded: see gateway/http.py).

Each distinct URL is fetched once per request, however many images name it: they all share
the one bytes object (a 20 KB request naming a 4 MB URL 250 times fetched it 250 times), and
the request's fetches together stay within GATEWAY_MAX_FETCH_BYTES_PER_REQUEST."""

import asyncio
import time

from django.conf import settings

from gateway import http, offload
from gateway.images import Image, ImageError


async def fetch_images(
    images: list[Image], shared: http.ByteBudget | None = None, *, timed: bool = True
) -> int:
    """Fetch the URL images not fetched yet (each URL once, within the request's byte budget,
    and within `shared` too when given); a failure is recorded in img.error, never raised.
    Returns the bytes drawn from `shared`, for the caller to give back once it lets them go.
    timed: note each fetch's time on its image (fetch_ms), as the request waited for it; the
    log's own snapshot after the answer is not."""
    by_url: dict[str, list[Image]] = {}
    for img in images:
        if img.origin == "url" and img.data is None and not img.error:
            by_url.setdefault(img.url or "", []).append(img)
    budget = http.ByteBudget(settings.GATEWAY_MAX_FETCH_BYTES_PER_REQUEST)
    if shared is not None:
        budget = _Both(budget, shared)
    try:
        await asyncio.gather(*(_fetch_shared(same, budget, timed) for same in by_url.values()))
    except BaseException:  # a bug or a cancellation: nothing is kept, so nothing stays drawn
        if isinstance(budget, _Both):
            shared.give_back(budget.drawn)
        raise
    return budget.drawn if isinstance(budget, _Both) else 0


class _Both(http.ByteBudget):
    """A request's budget and a process-wide one, drawn from together."""

    def __init__(self, own: http.ByteBudget, shared: http.ByteBudget) -> None:
        super().__init__(own.limit)
        self.own, self.shared, self.drawn = own, shared, 0

    def take(self, n: int) -> None:
        self.own.take(n)
        try:
            self.shared.take(n)
        except http.FetchError:
            self.own.give_back(n)
            raise
        self.drawn += n

    def give_back(self, n: int) -> None:
        self.own.give_back(n)
        self.shared.give_back(n)
        self.drawn -= n


async def _fetch_shared(same: list[Image], budget: http.ByteBudget, timed: bool) -> None:
    first = same[0]
    await fetch_image(first, budget=budget, timed=timed)
    if len(same) > 1:
        await asyncio.to_thread(lambda: first.sha256)  # hashed once, off the event loop
        for img in same[1:]:
            img.adopt(first)


async def fetch_image(
    img: Image, *, budget: http.ByteBudget | None = None, timed: bool = True
) -> None:
    """Fetch a URL image (guarded) into img; on failure, record why in img.error. Prefer
    fetch_images for a request's images: it fetches a URL named twice only once."""
    started = time.perf_counter()
    try:
        fetched = await http.fetch_guarded(img.url or "", budget=budget)
    except http.FetchError as exc:
        img.error = f"fetch failed: {exc}"
        return
    finally:  # the wait for a fetch slot included: what the request waited for the image
        if timed:
            img.fetch_ms = round((time.perf_counter() - started) * 1000, 1)
    try:
        # Pillow's header reads grow with some formats (a GIF's frames are counted).
        await offload.by_size(len(fetched.data), img.describe, fetched.data)
    except ImageError as exc:
        # Keep the bytes anyway: the logs UI offers them for download.
        img.data, img.mime = fetched.data, "application/octet-stream"
        img.error = f"the URL's content {exc}"
