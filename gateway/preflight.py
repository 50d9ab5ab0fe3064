"""Before images go upstream: auto-fit, and one preflight for every provider.

The provider's documented rules (gateway/estimate.py, gateway/providers/*_vision.py) say what
a model sees of each image and what the provider accepts. On the request path:
- fit(): with auto-fit on, each image larger than what the model would see is downsized to
  that (gateway/imagefit.py, in a thread) and set as the image's `converted` copy, so every
  provider sends it and the log keeps it beside the original;
- check(): each image as it will be sent is judged against the provider's limits; a problem
  is a 400 naming the image and the limit, before any upstream call.
A request without images costs one list check here; with images, arithmetic on the facts
its parser already read from their headers (nothing decoded) unless they are resized.
"""

import copy
import logging
from dataclasses import dataclass, field

from django.conf import settings

from gateway import estimate, imagefit, vision
from gateway.errors import GatewayError
from gateway.images import Image, ImageError, decodes
from gateway.providers.base import Target
from gateway.vision import Problem

log = logging.getLogger(__name__)

HEADER = "x-iris-image-fit"  # auto | off, on the request; what was done, on the response
OPTION = "image-fit"  # in Target.options: the decision, made once (gateway/service.py)

# Each kind of limit (vision.Limits' field names, as estimate.preflight names them) as the
# error code of its 400.
_CODES = {
    "max_images": "too_many_images",
    "max_image_bytes": "image_too_large",
    "max_side": "image_too_large",
    "max_pixels": "image_too_large",
    "formats": "unsupported_image_format",
    "max_request_bytes": "request_too_large",
    "readable": "invalid_image",
}


def wanted(target: Target) -> bool:
    return target.options.get(OPTION) == "auto"


@dataclass
class FitReport:
    """What auto-fit did to one request: told the client in the x-iris-image-fit header."""

    images: int = 0  # images with bytes going upstream
    fitted: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    sizes: dict[int, tuple[int, int]] = field(default_factory=dict)  # id(img) -> size sent

    def finish(self, images: list[Image]) -> "FitReport":
        """The bytes sent, counted once every copy is made (format conversions too)."""
        self.bytes_after = sum(len(img.payload) for img in _inline(images))
        return self

    def header(self) -> str:
        moved = f"bytes={self.bytes_before}->{self.bytes_after}"
        return f"auto; fitted={self.fitted}/{self.images}; {moved}"


def _inline(images: list[Image]) -> list[Image]:
    return [img for img in images if img.data is not None and not img.is_document]


async def fit(
    images: list[Image],
    target: Target,
    model: str,
    body: dict | None,
    accepted: frozenset[str] | None = None,
) -> FitReport:
    """Downsize each image that goes upstream as bytes to what `model` would see of it.
    Unknown rule, animation, a failed decode, or a copy no smaller: the image goes as it is
    (a format the provider refuses takes the fitted copy whatever its size)."""
    report = FitReport()
    vision_rules = estimate.vision_rules(target.provider)
    todo: list[tuple[Image, tuple[int, int]]] = []
    for img in _inline(images):
        report.images += 1
        report.bytes_before += img.size
        refused = bool(accepted) and img.mime not in accepted
        if vision_rules is None or img.error or (refused and not settings.GATEWAY_CONVERT_IMAGES):
            continue
        seen = estimate.seen(target.provider, model, img, body)
        size = imagefit.target_size(
            img.width, img.height, seen.width, seen.height, mime=img.mime, frames=img.frames
        )
        if size and img.converted is not None and img.converted_size == size:
            report.sizes[id(img)] = size  # fitted so already (a retry of the same target)
            report.fitted += 1
        elif size:
            todo.append((img, size))
    if not todo:
        return report
    limit = settings.GATEWAY_MAX_IMAGE_PIXELS
    results = await decodes.run(_fit_all, todo, accepted, limit)  # the decode pool
    for (img, _), result in zip(todo, results, strict=True):
        refused = bool(accepted) and img.mime not in accepted
        if result is not None and (refused or len(result.data) < img.size):
            img.converted = (result.data, result.mime)
            img.converted_size = report.sizes[id(img)] = (result.width, result.height)
            report.fitted += 1
    return report


def _fit_all(
    todo: list[tuple[Image, tuple[int, int]]], accepted: frozenset[str] | None, max_pixels: int
) -> list[imagefit.Fitted | None]:
    """In a thread, one image after another (one decode in memory at a time per request);
    the same bytes at the same size (a URL named twice) resized once."""
    done: dict[tuple[int, tuple[int, int]], imagefit.Fitted | None] = {}
    out = []
    for img, size in todo:
        key = (id(img.data), size)
        if key not in done:
            try:
                done[key] = imagefit.fit(
                    img.data or b"", size, mime=img.mime, accepted=accepted, max_pixels=max_pixels
                )
            except ImageError as exc:  # sent as it is; the provider judges it
                log.info("auto-fit left an image as it was: the image %s", exc)
                done[key] = None
        out.append(done[key])
    return out


def problems(
    images: list[Image], provider: str, model: str, sizes: dict[int, tuple[int, int]] | None = None
) -> list[tuple[Problem, Image | None]]:
    """Why the provider would refuse these images as they will be sent, each problem with the
    image it names (None: the request as a whole). Empty where it has no rules."""
    vision_rules = estimate.vision_rules(provider)
    pictures = [img for img in images if not img.is_document]
    if vision_rules is None or not pictures:
        return []
    limits = vision_rules.limits(model)
    sent = [estimate.ImageEstimate(_as_sent(img, sizes or {}), _UNSEEN, []) for img in pictures]
    found = []
    for problem in estimate.preflight(sent, limits):
        if problem.image is not None:
            img = pictures[problem.image]
        elif problem.limit.startswith("max_images=") and limits.max_images is not None:
            img = pictures[limits.max_images]  # the first image past the limit
        else:
            img = None
        found.append((problem, img))
    return found


_UNSEEN = vision.unknown("not needed by the preflight")


def _as_sent(img: Image, sizes: dict[int, tuple[int, int]]) -> Image:
    """The image as it goes upstream: its converted (fitted) copy, if it has one."""
    if not img.converted:
        return img
    view = copy.copy(img)
    view.__dict__.pop("sha256", None)  # the original's, cached
    view.width, view.height = sizes.get(id(img), (img.width, img.height))
    view.data, view.mime = img.converted
    view.converted = view.encoded = None
    return view


def check(
    images: list[Image],
    target: Target,
    model: str,
    sizes: dict[int, tuple[int, int]] | None = None,
    *,
    root: str = "messages",
) -> None:
    """A 400 for the first problem preflight finds (its message counts the others)."""
    if not images:
        return
    found = problems(images, target.provider, model, sizes)
    if found:
        raise error(found, target.provider, root)


def describe(problem: Problem, img: Image | None, provider: str, root: str) -> tuple[str, str]:
    """(message, param) of one problem, in the client's terms: messages[i].content[j]."""
    label = f"{provider} limit: {problem.limit}" if "=" in problem.limit else provider
    if img is None:
        text = problem.message
        return f"{text[:1].upper()}{text[1:]} ({label}).", root
    where = f"{root}[{img.message}].content[{img.part}]"
    param = f"{root}.{img.message}.content.{img.part}.image_url"
    if problem.limit == "readable":
        return f"{where}: {problem.message}.", param
    if problem.image is None:  # a count, named at the first image past it
        return f"{where}: the request has {problem.message} ({label}).", param
    return f"{where}: the image {problem.message} ({label}).", param


def code(problem: Problem) -> str:
    return _CODES.get(problem.limit.partition("=")[0], "image_rejected")


def error(found: list[tuple[Problem, Image | None]], provider: str, root: str) -> GatewayError:
    problem, img = found[0]
    message, param = describe(problem, img, provider, root)
    if len(found) > 1:
        message += f" {len(found) - 1} more problem(s): POST /v1/estimate lists them all."
    return GatewayError(400, message, "invalid_request_error", code=code(problem), param=param)
