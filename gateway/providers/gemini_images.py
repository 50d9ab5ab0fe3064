"""Google's image models through the Images API: Imagen (`:predict`) and Gemini's image models
(`:generateContent` with image output), both answered as an OpenAI ImagesResponse.

Facts (checked 2026-11-25; google-genai 3.6.1 and its history, ai.google.dev/gemini-api/docs/
imagen and /image-generation, cloud.google.com Imagen 4 model pages):
- Imagen: `POST {base}/v1beta/models/{model}:predict` with `{"instances": [{"prompt"}],
  "parameters": {sampleCount 1–4 (default 4: always sent), aspectRatio 1:1|3:4|4:3|9:16|16:9,
  sampleImageSize 1K|2K (Imagen 4 standard and ultra only), personGeneration dont_allow|
  allow_adult (allow_all is Vertex-only), includeRaiReason, outputOptions{mimeType image/png|
  image/jpeg, compressionQuality}}}` (google-genai's `_GenerateImagesConfig_to_mldev`, before
  commit 43ef621 of 2026-08-21). Answer: `predictions[]` of `{bytesBase64Encoded, mimeType}`,
  or `{raiFilteredReason}` for an image the safety filter withheld. Imagen edits are
  Vertex-only. Google deprecated Imagen on the Gemini API (google-genai 3.x no longer calls
  it; Imagen 4 shut down in 2026): requests still go out, Google's 404 comes back as is.
- Gemini image models (gemini-2.5-flash-image, gemini-3-pro-image-preview, …): contents with
  the input images as inlineData parts before the prompt, generationConfig.responseModalities
  [TEXT, IMAGE] and imageConfig {aspectRatio 1:1|2:3|3:2|3:4|4:3|4:5|5:4|9:16|16:9|21:9,
  imageSize 1K|2K|4K (Gemini 3 image models)}. One image per call (no candidateCount for
  image output), no mask, no output format choice (outputMimeType is Vertex-only); Gemini 3
  image models take up to 14 reference images.
Answers: `data[].b64_json` from the image parts; the text Gemini writes beside its images
goes in `revised_prompt` (each image gets the text before it, the last one also the text
after): OpenAI's only text field beside an image, so clients and the log keep it. Usage
from usageMetadata: input_tokens_details by modality, output_tokens_details image/text.
"""

import math
import re
import time

from gateway.errors import GatewayError
from gateway.imagejob import EDITS, GENERATIONS, ImageJob
from gateway.providers import gemini, gemini_media
from gateway.providers.base import Target, Upstream

NAME = "google"
ENDPOINTS = frozenset({GENERATIONS, EDITS})
NATIVE_STREAM = False  # Iris makes the stream from the whole answer
parse_error = gemini.parse_error

IMAGEN_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
GEMINI_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
# The longest side each resolution tier makes (Imagen 4: 1408x768 at 1K; Gemini: 1536x672).
IMAGEN_TIERS = {"1K": 1408, "2K": 2816}
GEMINI_TIERS = {"1K": 1536, "2K": 3168, "4K": 6336}
# A size's ratio may differ this much (in log) from the ratio it maps to: the models' own
# sizes are near their ratios (896x1280 is "3:4"), OpenAI's 1536x1024 is not 4:3.
RATIO_TOLERANCE = 0.08
GEMINI_3_MAX_INPUTS = 14
_SIZE = re.compile(r"(\d{1,5})x(\d{1,5})")
_IMAGEN_FORMATS = {"png": "image/png", "jpeg": "image/jpeg"}
_PERSONS = ("dont_allow", "allow_adult")
_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp"}


def is_imagen(model: str) -> bool:
    return model.removeprefix("models/").startswith("imagen-")


def _name(job: ImageJob) -> str:
    return job.model.removeprefix("models/")


def check(job: ImageJob) -> None:
    """What Google's models cannot do, refused before a round trip."""
    model, body = _name(job), job.body
    if not model:
        raise _invalid("Name a Google image model: imagen-… or a Gemini image model.", "model")
    if body.get("response_format") not in (None, "b64_json"):
        raise _invalid(
            "Google's image models answer with image bytes only (b64_json).", "response_format"
        )
    if body.get("quality") not in (None, "auto"):
        raise _invalid(
            f"{model} has no quality setting; choose the resolution with size.", "quality"
        )
    if body.get("background") not in (None, "auto", "opaque"):
        raise _invalid(f"{model} makes no transparent backgrounds.", "background")
    if is_imagen(model):
        _check_imagen(job)
    else:
        _check_gemini(job)


def _check_imagen(job: ImageJob) -> None:
    model, body = _name(job), job.body
    if job.endpoint == EDITS:
        raise _invalid(
            "Imagen edits images on Vertex AI only; edit with a Gemini image model "
            "(e.g. gemini-2.5-flash-image).",
            "model",
        )
    if job.n > 4:
        raise _invalid(f"{model} makes 1 to 4 images per request (n={job.n}).", "n")
    fmt = body.get("output_format")
    if fmt is not None and fmt not in _IMAGEN_FORMATS:
        raise _invalid(f"{model} makes png or jpeg images, not {fmt!r}.", "output_format")
    quality = body.get("output_compression")
    if quality is not None and (fmt != "jpeg" or not 0 <= quality <= 100):
        raise _invalid(
            "output_compression (0–100) applies to jpeg output only.", "output_compression"
        )
    person = body.get("person_generation")
    if person is not None and person not in _PERSONS:
        raise _invalid(f"person_generation is one of {', '.join(_PERSONS)}.", "person_generation")
    imagen_config(job)


def _check_gemini(job: ImageJob) -> None:
    model, body = _name(job), job.body
    if model.startswith("gemini-") and "image" not in model:
        raise _invalid(
            f"{model} makes no images; use a Gemini image model such as "
            "gemini-2.5-flash-image, or an Imagen model.",
            "model",
        )
    if job.n != 1:
        raise _invalid(
            f"n must be 1 for Gemini image models: {model} makes one image per request.", "n"
        )
    if job.mask is not None:
        raise _invalid(
            "Gemini image models take no mask: say in the prompt what to change.", "mask"
        )
    for name in ("output_format", "output_compression"):
        if body.get(name) is not None:
            raise _invalid(f"{model} chooses its output format itself; leave {name} out.", name)
    limit = GEMINI_3_MAX_INPUTS if model.startswith("gemini-3") else None
    if limit and len(job.inputs) > limit:
        raise _invalid(f"{model} takes at most {limit} images ({len(job.inputs)} sent).", "image")
    gemini_config(job)


def _check_inputs(job: ImageJob) -> None:
    """The images to edit, once the core has fetched those given by URL."""
    for i, img in enumerate(job.inputs):
        if img.mime not in gemini.IMAGE_MIME_TYPES:
            accepted = ", ".join(sorted(gemini.IMAGE_MIME_TYPES))
            raise _invalid(f"image[{i}] is {img.mime}; Gemini takes {accepted}.", "image")
    inline = sum(len(img.payload) * 4 // 3 for img in job.inputs)  # base64, as sent
    if inline > gemini.MAX_INLINE_BYTES:
        limit_mb = gemini.MAX_INLINE_BYTES // 1_000_000
        raise _invalid(f"the images exceed Gemini's {limit_mb} MB inline limit.", "image")


def imagen_config(job: ImageJob) -> dict:
    """Imagen's `parameters` besides sampleCount and output options."""
    ratio, tier = _aspect(job, IMAGEN_RATIOS, IMAGEN_TIERS, _IMAGEN_SIZES)
    if tier and not _name(job).startswith(("imagen-4.0-generate", "imagen-4.0-ultra")):
        raise _invalid(f"{_name(job)} makes 1K images only; 2K needs Imagen 4 or Ultra.", "size")
    out = {"aspectRatio": ratio, "sampleImageSize": tier}
    if person := job.body.get("person_generation"):
        out["personGeneration"] = person
    return {k: v for k, v in out.items() if v}


def gemini_config(job: ImageJob) -> dict:
    """Gemini's generationConfig.imageConfig."""
    ratio, tier = _aspect(job, GEMINI_RATIOS, GEMINI_TIERS, _GEMINI_SIZES)
    if tier and not _name(job).startswith("gemini-3"):
        raise _invalid(f"{_name(job)} makes 1K images only; 2K and 4K need Gemini 3.", "size")
    return {k: v for k, v in {"aspectRatio": ratio, "imageSize": tier}.items() if v}


# Each model family's own 1K sizes, named when a size maps to none of its ratios.
_IMAGEN_SIZES = "1024x1024, 896x1280, 1280x896, 768x1408, 1408x768"
_GEMINI_SIZES = (
    "1024x1024, 832x1248, 1248x832, 864x1184, 1184x864, 896x1152, 1152x896, 768x1344, "
    "1344x768, 1536x672"
)


def _aspect(
    job: ImageJob, ratios: tuple[str, ...], tiers: dict[str, int], examples: str
) -> tuple[str | None, str | None]:
    """(aspect ratio, resolution tier beyond 1K) for the job's size, or Google's own names
    `aspect_ratio` and `image_size` sent beside it."""
    body, model = job.body, _name(job)
    ratio, tier = body.get("aspect_ratio"), body.get("image_size")
    if ratio is not None and ratio not in ratios:
        raise _invalid(f"{model} makes aspect ratios {', '.join(ratios)}.", "aspect_ratio")
    if tier is not None and tier not in tiers:
        raise _invalid(f"{model} makes image sizes {', '.join(tiers)}.", "image_size")
    size = body.get("size")
    if size not in (None, "auto"):
        match = _SIZE.fullmatch(str(size))
        w, h = (int(match[1]), int(match[2])) if match else (0, 0)
        nearest = min(ratios, key=lambda r: abs(_log_ratio(r) - math.log(w / h))) if w and h else ""
        fits = nearest and abs(_log_ratio(nearest) - math.log(w / h)) <= RATIO_TOLERANCE
        tier_of = next((t for t, side in tiers.items() if max(w, h) <= side), None)
        if not fits or tier_of is None:
            raise _invalid(
                f"{model} does not offer size {size!r}. It makes aspect ratios "
                f"{', '.join(ratios)} at {', '.join(tiers)} (e.g. {examples}, or 'auto').",
                "size",
            )
        ratio, tier = ratio or nearest, tier or tier_of
    return ratio, (tier if tier != "1K" else None)


def _log_ratio(ratio: str) -> float:
    w, h = ratio.split(":")
    return math.log(int(w) / int(h))


def build_request(job: ImageJob, target: Target) -> Upstream:
    if is_imagen(job.model):
        parameters: dict = {"sampleCount": job.n, "includeRaiReason": True}
        parameters |= imagen_config(job)
        if fmt := job.body.get("output_format"):
            options = {"mimeType": _IMAGEN_FORMATS[fmt]}
            if (quality := job.body.get("output_compression")) is not None:
                options["compressionQuality"] = quality
            parameters["outputOptions"] = options
        body = {"instances": [{"prompt": job.prompt}], "parameters": parameters}
        return gemini.request(target, job.model, "predict", body)
    _check_inputs(job)
    parts: list[dict] = [
        {"inline_data": {"mime_type": img.payload_mime, "data": img.payload_base64}}
        for img in job.inputs
    ]
    parts.append({"text": job.prompt})
    config: dict = {"responseModalities": ["TEXT", "IMAGE"]}
    if image_config := gemini_config(job):
        config["imageConfig"] = image_config
    body = {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}
    return gemini.request(target, job.model, "generateContent", body)


def parse_response(data: dict, job: ImageJob) -> dict:
    if is_imagen(job.model):
        return _imagen_answer(data, job)
    return _gemini_answer(data, job)


def _imagen_answer(data: dict, job: ImageJob) -> dict:
    images, filtered = [], []
    for prediction in data.get("predictions") or ():
        if not isinstance(prediction, dict):
            continue
        if isinstance(b64 := prediction.get("bytesBase64Encoded"), str) and b64:
            images.append((str(prediction.get("mimeType") or "image/png"), b64))
        elif reason := prediction.get("raiFilteredReason"):
            filtered.append(str(reason))
    if not images:
        if filtered:
            raise _filtered(f"Imagen made no image: {'; '.join(filtered)}")
        raise _no_image("Imagen answered without any image.")
    answer = _answer([{"b64_json": b64} for _, b64 in images], [m for m, _ in images])
    if filtered:  # some of the n images were withheld: say why, in Google's own words
        answer["rai_filtered_reasons"] = filtered
    return answer


def _gemini_answer(data: dict, job: ImageJob) -> dict:
    candidates = data.get("candidates") or []
    if not candidates:
        raise gemini.blocked(data) or GatewayError(502, "Gemini answered without any candidate.")
    items: list[dict] = []
    mimes: list[str] = []
    texts: list[str] = []
    for part in (candidates[0].get("content") or {}).get("parts") or []:
        if part.get("thought"):
            continue
        if image := gemini_media.inline_image(part):
            item = {"b64_json": image[1]}
            if text := "".join(texts).strip():
                item["revised_prompt"] = text
            items.append(item)
            mimes.append(image[0])
            texts = []
        elif isinstance(part.get("text"), str):
            texts.append(part["text"])
    if not items:
        reason = candidates[0].get("finishReason") or "no reason given"
        said = "".join(texts).strip()[:300]
        message = f"Gemini made no image (finishReason: {reason})."
        message += f" It said: {said}" if said else ""
        raise _filtered(message) if reason in _SAFETY else _no_image(message)
    if tail := "".join(texts).strip():
        before = items[-1].get("revised_prompt")
        items[-1]["revised_prompt"] = f"{before}\n\n{tail}" if before else tail
    answer = _answer(items, mimes)
    if usage := _usage(data.get("usageMetadata") or {}):
        answer["usage"] = usage
    return answer


_SAFETY = {"SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION"}


def _answer(items: list[dict], mimes: list[str]) -> dict:
    answer: dict = {"created": int(time.time()), "data": items}
    if len(set(mimes)) == 1 and mimes[0] in _FORMATS:
        answer["output_format"] = _FORMATS[mimes[0]]
    return answer


def _usage(meta: dict) -> dict | None:
    """usageMetadata as the Images API's usage (gpt-image's shape); thoughts count as output
    text, as Google bills them."""
    if not meta:
        return None
    prompt = _by_modality(meta.get("promptTokensDetails"))
    made = _by_modality(meta.get("candidatesTokensDetails"))
    thoughts = meta.get("thoughtsTokenCount") or 0
    output = (meta.get("candidatesTokenCount") or 0) + thoughts
    usage = {
        "input_tokens": meta.get("promptTokenCount") or 0,
        "input_tokens_details": {
            "text_tokens": prompt.get("TEXT", 0),
            "image_tokens": prompt.get("IMAGE", 0),
        },
        "output_tokens": output,
        "total_tokens": meta.get("totalTokenCount") or 0,
    }
    if made or thoughts:
        usage["output_tokens_details"] = {
            "text_tokens": made.get("TEXT", 0) + thoughts,
            "image_tokens": made.get("IMAGE", 0),
        }
    return usage


def _by_modality(details: object) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in details if isinstance(details, list) else ():
        if isinstance(item, dict) and isinstance(item.get("tokenCount"), int):
            modality = str(item.get("modality"))
            out[modality] = out.get(modality, 0) + item["tokenCount"]
    return out


def _invalid(message: str, param: str) -> GatewayError:
    return GatewayError(
        400, message, "invalid_request_error", code="unsupported_value", param=param
    )


def _filtered(message: str) -> GatewayError:
    return GatewayError(400, message, "invalid_request_error", code="content_filter")


def _no_image(message: str) -> GatewayError:
    return GatewayError(502, message, code="no_image")
