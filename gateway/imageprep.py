"""Images made ready for a provider before its request is built (gateway/proxy.py's forward,
the Responses API's translated path, /v1/estimate): the image URLs it cannot take fetched,
auto-fit, the formats it refuses converted to PNG, then its limits checked (gateway/
preflight.py). What cannot be sent is a 400, naming the image where one is at fault."""

from types import ModuleType

from django.conf import settings

from gateway import fetching, http, preflight
from gateway.chat import Chat
from gateway.errors import GatewayError
from gateway.images import Image, ImageError, TooManyPixels, decodes, to_png
from gateway.providers.base import Target


async def prepare_images(
    chat: Chat, provider: ModuleType, target: Target, *, check: bool = True
) -> preflight.FitReport | None:
    """Give the provider images it can take: fetch URLs it cannot (each URL once), downsize
    them to what the model sees when auto-fit is on, convert formats it refuses (the same
    bytes once, never decoding past GATEWAY_MAX_IMAGE_PIXELS), then check them against its
    limits (a 400 naming the image and the limit; /v1/estimate lists them instead: check
    False). Returns what auto-fit did, if it was on."""
    if not chat.images:
        return None
    inline: dict[str, bool] = {}  # by URL: one DNS look-up for a URL named 250 times
    for img in chat.images:
        if img.origin == "url" and img.data is None and (url := img.url or "") not in inline:
            inline[url] = not provider.ACCEPTS_IMAGE_URLS or await _must_inline(url, target)
    pending = [img for img in chat.images if inline.get(img.url or "") and img.data is None]
    await fetching.fetch_images(pending)
    for img in pending:
        if img.error:
            raise _image_error(
                img, f"could not use the image URL: {img.error}", "image_fetch_failed"
            )
    accepted = getattr(provider, "IMAGE_MIME_TYPES", None)
    report = None
    if preflight.wanted(target):
        report = await preflight.fit(chat.images, target, chat.model, chat.body, accepted)
    converted: dict[int, tuple[bytes, str]] = {}  # by id(img.data): shared bytes convert once
    for img in chat.images:
        if img.data is None or accepted is None or img.payload_mime in accepted:
            continue  # (a fitted copy is in a format the provider takes)
        if not settings.GATEWAY_CONVERT_IMAGES:
            raise _image_error(
                img,
                f"{img.mime} images are not accepted by {provider.NAME} "
                f"(accepted: {', '.join(sorted(accepted))})",
                "unsupported_image_format",
            )
        _check_convertible(img, provider, accepted)
        if (key := id(img.data)) not in converted:
            converted[key] = (await _to_png(img), "image/png")
        img.converted = converted[key]
    _check_inline_bytes(chat)
    if check:
        preflight.check(chat.images, target, chat.model, report.sizes if report else None)
    return report.finish(chat.images) if report else None


async def _to_png(img: Image) -> bytes:
    try:  # Pillow, in a thread: a big image takes a while
        data = img.data or b""
        return await decodes.run(to_png, data, max_pixels=settings.GATEWAY_MAX_IMAGE_PIXELS)
    except TooManyPixels as exc:
        raise _image_error(img, f"the image {exc}", "image_too_large") from None
    except ImageError as exc:
        raise _image_error(img, f"the image {exc}", "unsupported_image_format") from None


def _check_convertible(img: Image, provider: ModuleType, accepted: frozenset[str]) -> None:
    """From the header alone, before any decoding: the provider's own size limit (where it
    has one), then ours (a JPEG can be decoded at a smaller scale: to_png judges it)."""
    w, h = img.width or 0, img.height or 0
    side = getattr(provider, "MAX_IMAGE_SIDE", None)
    if side and max(w, h) > side:
        reason = f"the image is {w}×{h} px, over {provider.NAME}'s {side}×{side} px limit"
        raise _image_error(img, reason, "image_too_large")
    limit = settings.GATEWAY_MAX_IMAGE_PIXELS
    if w * h > limit and img.mime not in {"image/jpeg", "image/mpo"}:
        reason = (
            f"the image is {w}×{h} px, more than the {limit:,} pixels Iris converts "
            f"(GATEWAY_MAX_IMAGE_PIXELS) to a format {provider.NAME} takes "
            f"({', '.join(sorted(accepted))})"
        )
        raise _image_error(img, reason, "image_too_large")


def _check_inline_bytes(chat: Chat) -> None:
    """An upstream body is never larger than the largest body Iris accepts: a URL named 250
    times is fetched once, but goes upstream 250 times in base64 if the provider takes bytes.
    (Here, an image has bytes only when they go upstream: a URL passed on was not fetched.)"""
    total = sum(4 * -(-len(img.payload) // 3) for img in chat.images if img.data is not None)
    if total > (limit := settings.GATEWAY_MAX_BODY_BYTES):
        raise GatewayError(
            400,
            f"The request's images would take {total} bytes of base64 upstream, more than "
            f"{limit} (GATEWAY_MAX_BODY_BYTES); the same image URL counts each time it appears.",
            code="images_too_large",
            param="messages",
        )


async def _must_inline(url: str, target: Target) -> bool:
    """Inline when the operator asks to, or when the URL is private (but allowed) and the
    upstream is public: it could not reach the URL. A private upstream (a local vLLM) can."""
    if settings.GATEWAY_INLINE_IMAGE_URLS:
        return True
    if not settings.GATEWAY_ALLOW_PRIVATE_NETWORKS or not await http.is_private_url(url):
        return False
    return not (target.base_url and await http.is_private_url(target.base_url))


def _image_error(img: Image, reason: str, code: str) -> GatewayError:
    return GatewayError(
        400,
        f"messages[{img.message}].content[{img.part}]: {reason}.",
        code=code,
        param=f"messages.{img.message}.content.{img.part}.image_url",
    )
