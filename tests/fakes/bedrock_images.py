"""Bedrock's image models behind InvokeModel (`POST /model/{modelId}/invoke`), for the fake
Bedrock in tests/fakes/bedrock.py (which checks the SigV4 signature first).

Bodies are checked against the schemas AWS documents, written here as TypedDicts (walked by
tests/fakes/schema.py: unknown and missing fields refused) plus the documented ranges:
- Nova Canvas: https://docs.aws.amazon.com/nova/latest/userguide/image-gen-req-resp-structure.html
  and …/image-gen-access.html (sizes, numberOfImages, cfgScale, seed; read 2026-11-26)
- Titan Image Generator G1 v1/v2:
  https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-image.html
- Stability (Stable Image Ultra / Core, SD3.5 Large):
  https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-diffusion-stable-ultra-text-image-request-response.html
  …/model-parameters-diffusion-stable-image-core-text-image-request-response.html,
  …/model-parameters-diffusion-3-5-large.html
Answers are real images made with Pillow: Nova/Titan {"images": [PNG base64]}, Stability
{"seeds", "finish_reasons", "images"} in the asked format. A prompt containing FILTERED is
blocked as each family does: Nova with a 400 ValidationException, Titan with an `error` in a
200 answer, Stability with a finish reason "Filter reason: prompt".
"""

import base64
import binascii
import hashlib
import io
from typing import Literal, Required, TypedDict

from PIL import Image as PILImage

from tests.fakes.schema import SchemaError, check

FILTERED = "[blocked-by-filter]"
NOVA_MODELS = ("amazon.nova-canvas-v1:0",)
TITAN_MODELS = ("amazon.titan-image-generator-v2:0", "amazon.titan-image-generator-v1")
STABILITY_MODELS = (
    "stability.sd3-5-large-v1:0",
    "stability.stable-image-ultra-v1:1",
    "stability.stable-image-core-v1:1",
)
MODELS = frozenset((*NOVA_MODELS, *TITAN_MODELS, *STABILITY_MODELS))
TITAN_SIZES = {
    (1024, 1024), (768, 768), (512, 512), (768, 1152), (384, 576), (1152, 768), (576, 384),
    (768, 1280), (384, 640), (1280, 768), (640, 384), (896, 1152), (448, 576), (1152, 896),
    (576, 448), (768, 1408), (384, 704), (1408, 768), (704, 384), (640, 1408), (320, 704),
    (1408, 640), (704, 320), (1152, 640), (1173, 640),
}  # fmt: skip
RATIOS = {
    "16:9": (1344, 768), "1:1": (1024, 1024), "21:9": (1536, 640), "2:3": (832, 1248),
    "3:2": (1216, 832), "4:5": (896, 1120), "5:4": (1120, 896), "9:16": (768, 1344),
    "9:21": (640, 1536),
}  # fmt: skip


class ImageGenerationConfig(TypedDict, total=False):
    numberOfImages: int  # 1–5
    width: int
    height: int
    quality: Literal["standard", "premium"]
    cfgScale: float  # 1.1–10
    seed: int  # Nova 0–858,993,459; Titan 0–2,147,483,646


class TextToImageParams(TypedDict, total=False):
    text: Required[str]
    negativeText: str
    style: str  # Nova only
    conditionImage: str
    controlMode: Literal["CANNY_EDGE", "SEGMENTATION"]
    controlStrength: float


class InPaintingParams(TypedDict, total=False):
    image: Required[str]
    text: str
    negativeText: str
    maskPrompt: str
    maskImage: str
    returnMask: bool


class ImageVariationParams(TypedDict, total=False):
    images: Required[list[str]]
    text: str
    negativeText: str
    similarityStrength: float  # 0.2–1.0


class TextImageBody(TypedDict, total=False):
    taskType: Required[Literal["TEXT_IMAGE"]]
    textToImageParams: Required[TextToImageParams]
    imageGenerationConfig: ImageGenerationConfig


class InpaintingBody(TypedDict, total=False):
    taskType: Required[Literal["INPAINTING"]]
    inPaintingParams: Required[InPaintingParams]
    imageGenerationConfig: ImageGenerationConfig


class VariationBody(TypedDict, total=False):
    taskType: Required[Literal["IMAGE_VARIATION"]]
    imageVariationParams: Required[ImageVariationParams]
    imageGenerationConfig: ImageGenerationConfig


class StabilityBody(TypedDict, total=False):
    prompt: Required[str]  # up to 10,000 characters
    negative_prompt: str
    aspect_ratio: Literal["16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"]
    output_format: Literal["jpeg", "png", "webp"]
    seed: int  # 0–4,294,967,294
    mode: Literal["text-to-image", "image-to-image"]  # SD3.5 Large
    image: str
    strength: float


_AMAZON_BODIES = {"TEXT_IMAGE": TextImageBody, "INPAINTING": InpaintingBody}
_AMAZON_BODIES["IMAGE_VARIATION"] = VariationBody


class Refused(ValueError):
    """What Bedrock says of a body it will not run: a ValidationException's message."""


def invoke(model: str, body: object) -> tuple[int, dict]:
    """(status, answer) for an InvokeModel call on an image model; Refused for a bad body."""
    if not isinstance(body, dict):
        raise Refused("Malformed input request: the body must be a JSON object.")
    try:
        if model in NOVA_MODELS or model in TITAN_MODELS:
            return _amazon(model, body)
        if model in STABILITY_MODELS:
            return _stability(model, body)
    except SchemaError as exc:
        raise Refused(f"Malformed input request: {exc}, please reformat your input.") from None
    raise Refused(f"The provided model identifier is invalid: {model}.")


def _amazon(model: str, body: dict) -> tuple[int, dict]:
    nova = model in NOVA_MODELS
    task = body.get("taskType")
    if task not in _AMAZON_BODIES:
        raise Refused(f"taskType {task!r} is not one of {sorted(_AMAZON_BODIES)}.")
    check(body, _AMAZON_BODIES[task])
    params = body[
        {"TEXT_IMAGE": "textToImageParams", "INPAINTING": "inPaintingParams"}.get(
            task, "imageVariationParams"
        )
    ]
    config = body.get("imageGenerationConfig") or {}
    _check_config(config, nova)
    text = params.get("text", "")
    if text and not 1 <= len(text) <= (1024 if nova else 512):
        raise Refused(f"text must be 1-{1024 if nova else 512} characters.")
    if task == "TEXT_IMAGE" and not text:
        raise Refused("textToImageParams.text is required.")
    size = (config.get("width", 1024), config.get("height", 1024))
    if task == "INPAINTING":
        picture = decode_image(params["image"], "inPaintingParams.image")
        if ("maskImage" in params) == ("maskPrompt" in params):
            raise Refused("Exactly one of maskPrompt or maskImage is required.")
        if "maskImage" in params:
            _check_mask(decode_image(params["maskImage"], "maskImage"), picture)
        if "width" in config or "height" in config:
            raise Refused("INPAINTING keeps the input image's size: no width or height.")
        size = picture.size
    if task == "IMAGE_VARIATION":
        if not 1 <= len(params["images"]) <= (5 if nova or "v2" in model else 1):
            raise Refused("imageVariationParams.images takes 1 to 5 images (1 on v1).")
        for i, data in enumerate(params["images"]):
            decode_image(data, f"imageVariationParams.images[{i}]")
        strength = params.get("similarityStrength", 0.7)
        if not 0.2 <= strength <= 1.0:
            raise Refused("similarityStrength must be between 0.2 and 1.0.")
    if FILTERED in text:
        if nova:
            return 400, {"message": "This request has been blocked by our content filters."}
        return 200, {"images": [], "error": "This request has been blocked by our content filters."}
    count = config.get("numberOfImages", 1)
    images = [_b64(make_image(size, "png", f"{model}:{text}:{i}")) for i in range(count)]
    return 200, {"images": images}


def _check_config(config: dict, nova: bool) -> None:
    if not 1 <= config.get("numberOfImages", 1) <= 5:
        raise Refused("numberOfImages must be between 1 and 5.")
    if not 1.1 <= config.get("cfgScale", 6.5) <= 10:
        raise Refused("cfgScale must be between 1.1 and 10.")
    if not 0 <= config.get("seed", 0) <= (858_993_459 if nova else 2_147_483_646):
        raise Refused("seed is out of range.")
    if "width" not in config and "height" not in config:
        return
    width, height = config.get("width", 1024), config.get("height", 1024)
    if nova:
        if width % 16 or height % 16 or not 320 <= min(width, height) <= max(width, height) <= 4096:
            raise Refused("width and height must be 320-4096 and divisible by 16.")
        if max(width, height) > 4 * min(width, height) or width * height > 4_194_304:
            raise Refused("The aspect ratio must be 1:4 to 4:1, at most 4,194,304 pixels.")
    elif (width, height) not in TITAN_SIZES:
        raise Refused(f"{width}x{height} is not a supported Titan image size.")


def _check_mask(mask: PILImage.Image, picture: PILImage.Image) -> None:
    if mask.size != picture.size:
        raise Refused("The mask image must have the same dimensions as the input image.")
    colours = {c for _, c in mask.convert("RGB").getcolors(maxcolors=1 << 24) or ()}
    if not colours <= {(0, 0, 0), (255, 255, 255)}:
        raise Refused("The mask image must contain only pure black and pure white pixels.")


def _stability(model: str, body: dict) -> tuple[int, dict]:
    check(body, StabilityBody)
    if "mode" in body and "sd3" not in model:
        raise Refused(f"{model} takes no mode.")
    if not 0 <= len(body["prompt"]) <= 10_000:
        raise Refused("prompt must be at most 10,000 characters.")
    if not 0 <= body.get("seed", 0) <= 4_294_967_294:
        raise Refused("seed must be between 0 and 4294967294.")
    if body.get("mode") == "image-to-image" or "image" in body:
        raise Refused("This fake serves text-to-image only.")
    if FILTERED in body["prompt"]:
        return 200, {"finish_reasons": ["Filter reason: prompt"]}
    fmt = body.get("output_format", "png")
    picture = make_image(RATIOS[body.get("aspect_ratio", "1:1")], fmt, f"{model}:{body['prompt']}")
    return 200, {
        "seeds": [body.get("seed", 2130420379)],
        "finish_reasons": [None],
        "images": [_b64(picture)],
    }


def decode_image(data: object, where: str) -> PILImage.Image:
    """A base64 PNG or JPEG, as Nova and Titan take them."""
    try:
        raw = base64.b64decode(str(data), validate=True)
        picture = PILImage.open(io.BytesIO(raw))
        picture.load()
    except (binascii.Error, OSError, ValueError):
        raise Refused(f"{where}: unable to decode the image (base64 PNG or JPEG).") from None
    if picture.format not in ("PNG", "JPEG"):
        raise Refused(f"{where}: the image must be PNG or JPEG, not {picture.format}.")
    return picture


def make_image(size: tuple[int, int], fmt: str, seed: str) -> bytes:
    """A real image of that size and format, its colours from the seed."""
    digest = hashlib.sha256(seed.encode()).digest()
    picture = PILImage.new("RGB", size, tuple(digest[:3]))
    picture.paste(tuple(digest[3:6]), (0, 0, max(1, size[0] // 3), max(1, size[1] // 3)))
    out = io.BytesIO()
    picture.save(out, {"jpeg": "JPEG", "webp": "WEBP"}.get(fmt, "PNG"))
    return out.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
