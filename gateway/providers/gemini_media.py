"""Pictures Gemini makes: its image output parts, as chat replies and the Images API show them.

A Gemini image model (gemini-2.5-flash-image, gemini-3-pro-image-preview, …) answers
generateContent with `inlineData` parts between its text parts. In a chat reply they become
`message.images` (in a stream, `delta.images`): a list of
`{"type": "image_url", "image_url": {"url": "data:<mime>;base64,<data>"}, "index": k}`.
Why this shape: it is the one OpenRouter documents (openrouter.ai/docs/features/multimodal/
image-generation), and Vercel's AI Gateway and LiteLLM answer the same, so clients written
for any of them read Iris's replies; the `openai` SDK keeps the field (model_extra), and
each item is the content part OpenAI clients already send back as an input image. Portkey
puts pictures in `content_blocks` only outside its strict OpenAI mode, mixed with thinking
and text blocks, which no other gateway reads. The request side follows the same gateways:
`modalities: ["text", "image"]` → generationConfig.responseModalities, and OpenRouter's
`image_config: {aspect_ratio, image_size}` → generationConfig.imageConfig.
Thought parts (Gemini 3 image models draft images while thinking) are not shown.

Documents going the other way: a chat `file` part's PDF is sent as an inline_data part
(application/pdf). Google's limits (ai.google.dev/gemini-api/docs/document-processing and
/file-input-methods, read 2026-11): at most 1000 pages per document, each page billed as an
image (258 tokens); inline PDFs up to 50 MB, within the request's inline-data limit.

An input image's OpenAI `detail` becomes a media_resolution (which level, and where, is
gemini_vision's decision, so the estimate follows what is sent): on a Gemini 3 part
`"media_resolution": {"level": "MEDIA_RESOLUTION_LOW"}` beside `inline_data` (snake_case as
that part and Google's REST example spell it), on earlier models generationConfig's
`mediaResolution` (camelCase as the rest of generationConfig).
https://ai.google.dev/gemini-api/docs/media-resolution (read 2026-11-26).
"""

from gateway.errors import GatewayError
from gateway.images import Image
from gateway.providers import gemini_vision

MAX_DOCUMENT_PAGES = 1000
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
_MODALITIES = {"text": "TEXT", "image": "IMAGE"}
_IMAGE_CONFIG = {"aspect_ratio": "aspectRatio", "image_size": "imageSize"}


def inline_image(part: dict) -> tuple[str, str] | None:
    """(mime, base64) of an image part the model made; None for any other part."""
    blob = part.get("inlineData") or part.get("inline_data")
    if not isinstance(blob, dict) or part.get("thought"):
        return None
    mime = str(blob.get("mimeType") or blob.get("mime_type") or "")
    data = blob.get("data")
    if not mime.startswith("image/") or not isinstance(data, str) or not data:
        return None
    return mime, data


def picture(mime: str, data: str, index: int) -> dict:
    """One picture of a chat reply, in OpenRouter's shape (see the module docstring)."""
    url = f"data:{mime};base64,{data}"
    return {"type": "image_url", "image_url": {"url": url}, "index": index}


def document_problem(doc: Image) -> str | None:
    """Why Gemini would refuse this PDF inline, or None."""
    if doc.frames > MAX_DOCUMENT_PAGES:
        return f"the PDF has {doc.frames} pages; Gemini reads at most {MAX_DOCUMENT_PAGES}."
    if doc.size > MAX_DOCUMENT_BYTES:
        return f"the PDF is {doc.size / 2**20:.1f} MB; Gemini takes inline PDFs up to 50 MB."
    return None


def part_resolution(model: str, detail: str | None) -> dict:
    """The media_resolution field of an input image's part ({} when none is sent)."""
    level = gemini_vision.part_resolution(model, detail)
    return {"media_resolution": {"level": f"MEDIA_RESOLUTION_{level}"}} if level else {}


def config_resolution(model: str, body: dict) -> dict:
    """generationConfig's mediaResolution for the request's images ({} when none is sent)."""
    level = gemini_vision.config_resolution(model, body)
    return {"mediaResolution": f"MEDIA_RESOLUTION_{level}"} if level else {}


def output_config(body: dict) -> dict:
    """generationConfig fields for a chat body's `modalities` and `image_config`."""
    config: dict = {}
    modalities = body.get("modalities")
    if modalities is not None:
        if not isinstance(modalities, list) or not modalities:
            raise _invalid('must be a list such as ["text", "image"].', "modalities")
        unknown = [m for m in modalities if m not in _MODALITIES]
        if unknown:
            message = f"{unknown[0]!r} is not an output Gemini gives here (text, image)."
            raise _invalid(message, "modalities")
        config["responseModalities"] = [_MODALITIES[m] for m in dict.fromkeys(modalities)]
    image_config = body.get("image_config")
    if image_config is not None:
        if not isinstance(image_config, dict):
            raise _invalid("must be an object with aspect_ratio and image_size.", "image_config")
        for key, value in image_config.items():
            if key not in _IMAGE_CONFIG or not isinstance(value, str):
                message = f"{key!r}: only aspect_ratio and image_size (strings) are taken."
                raise _invalid(message, "image_config")
        config["imageConfig"] = {_IMAGE_CONFIG[k]: v for k, v in image_config.items()}
    return config


def _invalid(message: str, param: str) -> GatewayError:
    return GatewayError(
        400, f"{param}: {message}", "invalid_request_error", code="invalid_request", param=param
    )
