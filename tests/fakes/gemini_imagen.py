"""The fake Gemini API's Imagen method: POST /v1beta/models/imagen-…:predict.

What is checked, and where it comes from:
- Field names: the REST body google-genai built for the Gemini API (`_GenerateImagesConfig_
  to_mldev` and `_GenerateImagesParameters_to_mldev`, google-genai before commit 43ef621 of
  2026-08-21, when the SDK stopped calling Imagen on the Gemini API): `instances[0].prompt`
  and `parameters` {sampleCount, aspectRatio, guidanceScale, safetySetting,
  personGeneration, includeSafetyAttributes, includeRaiReason, language, outputOptions
  {mimeType, compressionQuality}, sampleImageSize}. Any other name is refused.
- Types and enums: each parameter is mapped back to its GenerateImagesConfig field and
  validated by google-genai's own pydantic model (extra fields forbidden); the enum values the
  SDK refused for the Gemini API (personGeneration ALLOW_ALL, safetySetting BLOCK_NONE) too.
- Ranges from Google's Imagen docs (ai.google.dev/gemini-api/docs/imagen), not from a type:
  sampleCount 1–4, the five aspect ratios, sampleImageSize 1K|2K only on Imagen 4 standard
  and ultra, png or jpeg output, compressionQuality 0–100 for jpeg.
Answers `predictions[]` of {bytesBase64Encoded, mimeType}: real PNG (or JPEG) images made with
Pillow, 64 px high in the asked ratio, one colour each. Models named `imagen-filter-all` and
`imagen-filter-some` answer with every (or the last) image withheld by the safety filter.
"""

import base64
import io
import json

import pydantic
from google.genai import types
from PIL import Image as PILImage

from tests.fakes.server import Received, Reply

PARAMETERS = {
    "sampleCount": "number_of_images",
    "aspectRatio": "aspect_ratio",
    "guidanceScale": "guidance_scale",
    "safetySetting": "safety_filter_level",
    "personGeneration": "person_generation",
    "includeSafetyAttributes": "include_safety_attributes",
    "includeRaiReason": "include_rai_reason",
    "language": "language",
    "sampleImageSize": "image_size",
}
OUTPUT_OPTIONS = {
    "mimeType": "output_mime_type",
    "compressionQuality": "output_compression_quality",
}
RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
MIMES = {"image/png": "PNG", "image/jpeg": "JPEG"}
VERTEX_ONLY = {"person_generation": "ALLOW_ALL", "safety_filter_level": "BLOCK_NONE"}
COLOURS = [(220, 40, 40), (40, 160, 60), (40, 60, 200), (230, 200, 40)]
FILTERED = (
    "Unable to show generated images. All images were filtered out because they violated "
    "the usage guidelines. Support codes: 58061214"
)


class Invalid(ValueError):
    pass


def handle(request: Received, model: str) -> Reply:
    try:
        prompt, parameters = validate(request.json(), model)
    except (ValueError, Invalid) as exc:
        return error(400, f"Invalid JSON payload received. {exc}", "INVALID_ARGUMENT")
    count = parameters.get("sampleCount", 4)  # Imagen's default on the Gemini API
    mime = (parameters.get("outputOptions") or {}).get("mimeType", "image/png")
    w, h = (int(x) for x in parameters.get("aspectRatio", "1:1").split(":"))
    predictions: list[dict] = []
    for i in range(count):
        data = png(round(64 * w / h), 64, COLOURS[i % len(COLOURS)], MIMES[mime])
        predictions.append(
            {"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": mime}
        )
    if model == "imagen-filter-all" or (model == "imagen-filter-some" and count > 1):
        keep = 0 if model == "imagen-filter-all" else count - 1
        predictions = predictions[:keep] + [{"raiFilteredReason": FILTERED}] * (count - keep)
    return Reply.json(200, {"predictions": predictions})


def validate(body: object, model: str) -> tuple[str, dict]:
    if not isinstance(body, dict) or set(body) - {"instances", "parameters"}:
        raise Invalid(f"Unknown name(s): {sorted(set(body) - {'instances', 'parameters'})}.")
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1:
        raise Invalid("instances: exactly one instance is taken.")
    instance = instances[0]
    if not isinstance(instance, dict) or set(instance) != {"prompt"}:
        raise Invalid("instances[0]: an object with a prompt, and nothing else.")
    if not isinstance(instance["prompt"], str) or not instance["prompt"].strip():
        raise Invalid("instances[0].prompt: must be a non-empty string.")
    parameters = body.get("parameters") or {}
    config: dict = {}
    for key, value in parameters.items():
        if key == "outputOptions" and isinstance(value, dict):
            for option, item in value.items():
                if option not in OUTPUT_OPTIONS:
                    raise Invalid(f'parameters.outputOptions: Unknown name "{option}".')
                config[OUTPUT_OPTIONS[option]] = item
        elif key in PARAMETERS:
            config[PARAMETERS[key]] = value
        else:
            raise Invalid(f'parameters: Unknown name "{key}": Cannot find field.')
    try:
        types.GenerateImagesConfig.model_validate_json(json.dumps(config))
    except pydantic.ValidationError as exc:
        raise Invalid(f"parameters: {exc}") from None
    for field, refused in VERTEX_ONLY.items():
        if str(config.get(field, "")).upper() == refused:
            raise Invalid(f"{field}: {refused} is not supported in the Gemini API.")
    check_ranges(config, model)
    return instance["prompt"], parameters


def check_ranges(config: dict, model: str) -> None:
    count = config.get("number_of_images")
    if count is not None and (not isinstance(count, int) or not 1 <= count <= 4):
        raise Invalid("parameters.sampleCount: must be an integer from 1 to 4.")
    if config.get("aspect_ratio", "1:1") not in RATIOS:
        raise Invalid(f"parameters.aspectRatio: {config['aspect_ratio']!r} is not supported.")
    size = config.get("image_size")
    if size is not None:
        if size not in ("1K", "2K"):
            raise Invalid(f"parameters.sampleImageSize: {size!r} is not supported.")
        if not model.startswith(("imagen-4.0-generate", "imagen-4.0-ultra")):
            raise Invalid(f"parameters.sampleImageSize is not supported by {model}.")
    mime = config.get("output_mime_type", "image/png")
    if mime not in MIMES:
        raise Invalid(f"parameters.outputOptions.mimeType: {mime!r} is not supported.")
    quality = config.get("output_compression_quality")
    if quality is not None and (mime != "image/jpeg" or not 0 <= quality <= 100):
        raise Invalid("parameters.outputOptions.compressionQuality: jpeg only, 0 to 100.")


def png(width: int, height: int, colour: tuple[int, int, int], fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(out, fmt)
    return out.getvalue()


def error(status: int, message: str, name: str) -> Reply:
    return Reply.json(status, {"error": {"code": status, "message": message, "status": name}})
