"""Bedrock's image models through InvokeModel, as OpenAI's Images API (generations, edits).

`POST {root}/model/{modelId}/invoke`, JSON both ways, signed like the chat route
(bedrock.signed_request). Each family has its own body (AWS docs, checked 2026-11-26):
- Amazon Nova Canvas (amazon.nova-canvas-v1:0):
  https://docs.aws.amazon.com/nova/latest/userguide/image-gen-req-resp-structure.html and
  https://docs.aws.amazon.com/nova/latest/userguide/image-gen-access.html
- Titan Image Generator G1 v2 (amazon.titan-image-generator-v2:0, and v1):
  https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-image.html
  Both: {"taskType", "<task>Params", "imageGenerationConfig": {numberOfImages 1–5, width,
  height, quality standard|premium, cfgScale, seed}} → {"images": [base64 PNG], "error"}.
  Nova takes any WxH with sides 320–4096 divisible by 16, aspect 1:4–4:1, ≤ 4,194,304 px;
  Titan a fixed list of sizes. Prompts: Nova 1–1024 characters, Titan 1–512.
  Masks are black (edit) and white (keep); OpenAI's are transparent where to edit, so the
  mask is redrawn. An edit without a mask is an IMAGE_VARIATION of 1–5 images.
- Stability (stability.sd3-5-large-v1:0, stability.stable-image-ultra-v1:1,
  stability.stable-image-core-v1:1): {"prompt", "aspect_ratio", "output_format", "seed"?,
  "mode"?} → {"seeds", "finish_reasons", "images"}, one image per call; a finish reason
  that is not null ("Filter reason: prompt", "Filter reason: output image", "Filter
  reason: input image", "Inference error") means no image.
  https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-diffusion-stable-ultra-text-image-request-response.html
  (and …-stable-image-core-text-image-request-response.html, …-diffusion-3-5-large.html)
Served here: text to image for all; edits for Nova and Titan only.
"""

import io
import re
from math import gcd

import pybase64
from PIL import Image as PILImage

from gateway.errors import GatewayError
from gateway.imagejob import EDITS, GENERATIONS, ImageJob
from gateway.images import Image
from gateway.providers import base, bedrock

NAME = "bedrock"
ENDPOINTS = frozenset({GENERATIONS, EDITS})
NATIVE_STREAM = False
parse_error = bedrock.parse_error

NOVA, TITAN, STABILITY = "nova-canvas", "titan-image", "stability"
FAMILIES = {
    NOVA: "Amazon Nova Canvas (amazon.nova-canvas-v1:0)",
    TITAN: "Titan Image Generator (amazon.titan-image-generator-v2:0)",
    STABILITY: "Stability (stability.sd3-5-large-v1:0, stability.stable-image-ultra-v1:1, "
    "stability.stable-image-core-v1:1)",
}
MAX_IMAGES = 5  # numberOfImages; also the most images an IMAGE_VARIATION takes
MAX_PROMPT = {NOVA: 1024, TITAN: 512, STABILITY: 10_000}
NOVA_SIDES, NOVA_MAX_PIXELS = (320, 4096), 4_194_304
TITAN_SIZES = frozenset(
    {
        *("1024x1024", "768x768", "512x512", "768x1152", "384x576", "1152x768", "576x384"),
        *("768x1280", "384x640", "1280x768", "640x384", "896x1152", "448x576", "1152x896"),
        *("576x448", "768x1408", "384x704", "1408x768", "704x384", "640x1408", "320x704"),
        *("1408x640", "704x320", "1152x640", "1173x640"),
    }
)
STABILITY_RATIOS = frozenset({"16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"})
STABILITY_FORMATS = frozenset({"png", "jpeg", "webp"})
_QUALITY = {"hd": "premium", "high": "premium", "standard": "standard", "low": "standard"}
_QUALITY |= {"medium": "standard", "auto": "standard"}
_INPUT_MIMES = frozenset({"image/png", "image/jpeg"})
_SIZE = re.compile(r"(\d{1,5})x(\d{1,5})")
_FILTERED = ("filter reason", "content_filtered")


def family(model: str) -> str:
    """The body family of a model id (a cross-region prefix such as "us." allowed)."""
    if "amazon.nova-canvas" in model:
        return NOVA
    if "amazon.titan-image-generator" in model:
        return TITAN
    if re.search(r"stability\.(sd3|stable-image-(ultra|core))", model):
        return STABILITY
    known = "; ".join(FAMILIES.values())
    raise _invalid(
        f"Iris does not know how to make images with {model!r} on Bedrock. It speaks to: {known}.",
        "model",
        "unsupported_model",
    )


def check(job: ImageJob) -> None:
    """The model's documented limits, before any round trip."""
    kind, body = family(job.model), job.body
    if len(job.prompt) > MAX_PROMPT[kind]:
        raise _invalid(
            f"{job.model} takes prompts of at most {MAX_PROMPT[kind]} characters; "
            f"this one has {len(job.prompt)}.",
            "prompt",
        )
    if body.get("response_format") == "url":
        raise _invalid(
            "Bedrock returns image bytes, not URLs: use response_format b64_json.",
            "response_format",
        )
    if body.get("background") == "transparent":
        raise _invalid(f"{job.model} does not make transparent backgrounds.", "background")
    if kind == STABILITY:
        _check_stability(job)
        return
    if not 1 <= job.n <= MAX_IMAGES:
        raise _invalid(f"{job.model} makes 1 to {MAX_IMAGES} images per request (n).", "n")
    if (quality := body.get("quality")) is not None and quality not in _QUALITY:
        offered = ", ".join(sorted(_QUALITY))
        raise _invalid(f"{job.model} does not offer quality {quality!r} ({offered}).", "quality")
    if body.get("output_format") not in (None, "png"):
        raise _invalid(f"{job.model} makes PNG images only.", "output_format")
    if job.endpoint == EDITS:
        _check_edit(job, kind)
    else:
        _dimensions(job, kind)


def _check_stability(job: ImageJob) -> None:
    body = job.body
    if job.endpoint != GENERATIONS:
        raise _invalid(
            f"{job.model} makes images from text only through Iris; to edit, use "
            f"{FAMILIES[NOVA]} or {FAMILIES[TITAN]}.",
            "model",
            "unsupported_endpoint",
        )
    if job.n != 1:
        raise _invalid(f"{job.model} makes one image per request (n=1).", "n")
    if body.get("quality") not in (None, "auto", "standard"):
        raise _invalid(f"{job.model} has no quality setting.", "quality")
    if (fmt := body.get("output_format")) is not None and fmt not in STABILITY_FORMATS:
        raise _invalid(f"{job.model} makes png, jpeg or webp images, not {fmt!r}.", "output_format")
    _aspect_ratio(job)


def _check_edit(job: ImageJob, kind: str) -> None:
    """Counts and sizes; each image's own facts once its bytes are here (an image given by
    URL is fetched after check(), so build_request checks again)."""
    inputs, mask = job.inputs, job.mask
    for img in job.images:
        if img.data is not None:
            _check_image(job.model, kind, img)
    if mask is not None and len(inputs) > 1:
        raise _invalid(f"{job.model} inpaints one image at a time (with a mask).", "image")
    if len(inputs) > MAX_IMAGES:
        raise _invalid(f"{job.model} makes variations of 1 to {MAX_IMAGES} images.", "image")
    if mask is None:
        _dimensions(job, kind)  # a variation is made at the requested size
        return
    first, size = inputs[0], job.body.get("size")
    if first.data is not None and size not in (None, "auto", f"{first.width}x{first.height}"):
        raise _invalid(
            f"Inpainting keeps the image's size ({first.width}x{first.height}); "
            f"size {size!r} cannot be made.",
            "size",
        )


def _check_image(model: str, kind: str, img: Image) -> None:
    name = "mask" if img.role == "mask" else f"image[{img.part}]"
    if img.mime not in _INPUT_MIMES:
        raise _invalid(f"{name}: {model} edits PNG or JPEG images, not {img.mime}.", name)
    if kind == NOVA and not _nova_side_ok(img.width or 0, img.height or 0):
        raise _invalid(
            f"{name}: {model} takes images with sides of 320–4096 px and at most "
            f"4,194,304 pixels; this one is {img.width}×{img.height}.",
            name,
        )


def _nova_side_ok(width: int, height: int) -> bool:
    low, high = NOVA_SIDES
    return (
        low <= min(width, height)
        and max(width, height) <= high
        and (width * height <= NOVA_MAX_PIXELS)
    )


def _dimensions(job: ImageJob, kind: str) -> tuple[int, int]:
    """(width, height) for the requested size; 1024×1024 for none or auto."""
    size = job.body.get("size")
    if size in (None, "auto"):
        return 1024, 1024
    match = _SIZE.fullmatch(str(size))
    if not match:
        raise _invalid(f"'size' must be WIDTHxHEIGHT or auto, not {size!r}.", "size")
    width, height = int(match[1]), int(match[2])
    if kind == TITAN and size not in TITAN_SIZES:
        offered = ", ".join(sorted(TITAN_SIZES, key=lambda s: [int(n) for n in s.split("x")]))
        raise _invalid(f"{job.model} does not offer size {size} (it offers: {offered}).", "size")
    if kind == NOVA and (
        width % 16
        or height % 16
        or not _nova_side_ok(width, height)
        or max(width, height) > 4 * min(width, height)
    ):
        raise _invalid(
            f"{job.model} does not offer size {size}: sides of 320–4096 px, "
            "divisible by 16, an aspect ratio from 1:4 to 4:1, and at most "
            "4,194,304 pixels.",
            "size",
        )
    return width, height


def _aspect_ratio(job: ImageJob) -> str:
    size = job.body.get("size")
    if size in (None, "auto"):
        return "1:1"
    match = _SIZE.fullmatch(str(size))
    divisor = gcd(int(match[1]), int(match[2])) if match else 0
    ratio = f"{int(match[1]) // divisor}:{int(match[2]) // divisor}" if divisor else ""
    if ratio not in STABILITY_RATIOS:
        offered = ", ".join(sorted(STABILITY_RATIOS))
        raise _invalid(
            f"{job.model} does not offer size {size}: it makes the aspect ratios "
            f"{offered} (a size such as 1024x1024 or 1536x1024).",
            "size",
        )
    return ratio


def build_request(job: ImageJob, target: base.Target) -> base.Upstream:
    kind = family(job.model)
    if job.endpoint == EDITS:
        _check_edit(job, kind)  # again: images given by URL have their bytes now
    sent = _stability_body(job) if kind == STABILITY else _amazon_body(job, kind)
    return bedrock.signed_request(target, bedrock.model_path(job.model, "invoke"), sent)


def _amazon_body(job: ImageJob, kind: str) -> dict:
    config: dict = {
        "numberOfImages": job.n,
        "quality": _QUALITY[job.body.get("quality") or "standard"],
    }
    if isinstance(seed := job.body.get("seed"), int):
        config["seed"] = seed
    if job.endpoint == GENERATIONS:
        width, height = _dimensions(job, kind)
        params = {"text": job.prompt}
        return {
            "taskType": "TEXT_IMAGE",
            "textToImageParams": params,
            "imageGenerationConfig": {**config, "width": width, "height": height},
        }
    if job.mask is None:
        width, height = _dimensions(job, kind)
        images = [img.payload_base64 for img in job.inputs]
        return {
            "taskType": "IMAGE_VARIATION",
            "imageVariationParams": {"text": job.prompt, "images": images},
            "imageGenerationConfig": {**config, "width": width, "height": height},
        }
    params = {
        "image": job.inputs[0].payload_base64,
        "text": job.prompt,
        "maskImage": black_and_white_mask(job.mask),
    }
    return {"taskType": "INPAINTING", "inPaintingParams": params, "imageGenerationConfig": config}


def _stability_body(job: ImageJob) -> dict:
    body = {
        "prompt": job.prompt,
        "mode": "text-to-image",
        "aspect_ratio": _aspect_ratio(job),
        "output_format": job.body.get("output_format") or "png",
    }
    if "sd3" not in job.model:
        del body["mode"]  # only SD3.5 Large documents a mode
    if isinstance(seed := job.body.get("seed"), int):
        body["seed"] = seed
    return body


def black_and_white_mask(mask: Image) -> str:
    """OpenAI's mask (fully transparent where to edit) as Bedrock's: black where to edit,
    white where to keep, same size, PNG in base64. Its size was checked against the image."""
    with PILImage.open(io.BytesIO(mask.data or b"")) as img:
        if img.mode not in ("RGBA", "LA", "PA") and "transparency" not in img.info:
            raise _invalid(
                "'mask' has no alpha channel: its fully transparent pixels must mark "
                "where to edit.",
                "mask",
                "invalid_mask",
            )
        alpha = img.convert("RGBA").getchannel("A")
    out = io.BytesIO()
    alpha.point([0] + [255] * 255).convert("RGB").save(out, "PNG", optimize=True)
    return pybase64.b64encode(out.getvalue()).decode("ascii")


def parse_response(data: dict, job: ImageJob) -> dict:
    """InvokeModel's answer as an ImagesResponse; a filtered answer is an error. No usage:
    Bedrock reports none for image models (they are priced per image)."""
    kind = family(job.model)
    if kind == STABILITY:
        reasons = [r for r in data.get("finish_reasons") or () if r]
        if reasons:
            raise _refused(job, str(reasons[0]))
        head = {"output_format": job.body.get("output_format") or "png"}
    else:
        if data.get("error"):
            raise _refused(job, str(data["error"]))
        first = job.inputs[0] if job.mask is not None else None
        width, height = (first.width, first.height) if first else _dimensions(job, kind)
        head = {"output_format": "png", "size": f"{width}x{height}"}
    images = [b for b in data.get("images") or () if isinstance(b, str) and b]
    if not images:
        raise GatewayError(
            502, f"Bedrock's {job.model} answered no images.", "api_error", code="no_images"
        )
    data_items = [{"b64_json": b} for b in images]
    return {"created": base.now(), "data": data_items, "background": "opaque", **head}


def _refused(job: ImageJob, reason: str) -> GatewayError:
    if reason.lower().startswith(_FILTERED) or "content filter" in reason.lower():
        return GatewayError(
            400,
            f"Bedrock's content filter blocked this request ({reason}).",
            code="content_policy_violation",
        )
    return GatewayError(
        502, f"Bedrock's {job.model} made no image: {reason}", "api_error", code="upstream_error"
    )


def _invalid(message: str, param: str, code: str = "unsupported_value") -> GatewayError:
    return GatewayError(400, message, code=code, param=param)
