"""Parse an OpenAI Images API request (generations, edits, variations) into an ImageJob, with
precise 400s before any upstream call. JSON or multipart, as the `openai` SDKs send them.

No I/O: multipart is parsed from bytes already read (Django's parser over a BytesIO).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import orjson
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.datastructures import MultiValueDict

from gateway.chat import invalid, json_depth, too_deep
from gateway.errors import GatewayError
from gateway.images import Image, ImageError, decode_data_uri

GENERATIONS = "images.generations"
EDITS = "images.edits"
VARIATIONS = "images.variations"

# Form fields sent as text that OpenAI reads as numbers or booleans.
_INTEGERS = ("n", "output_compression", "partial_images", "frame_count", "frame_duration_ms")
_BOOLEANS = ("stream",)
MAX_PROMPT_CHARS = 32_000  # OpenAI's largest (GPT image models)
MAX_INPUT_IMAGES = 16  # OpenAI's largest (GPT image models' edits)
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.\[\]-]{1,64}")


@dataclass
class ImageJob:
    """One Images API request: its parameters (files left out) and its input images, the
    edited images first (role "input") and the mask last (role "mask")."""

    endpoint: str
    body: dict
    images: list[Image] = field(default_factory=list)
    raw: bytes = b""  # the client's bytes: JSON sent on as they are to OpenAI-shaped upstreams
    multipart: bool = False

    @property
    def model(self) -> str:
        return str(self.body.get("model") or "")

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def prompt(self) -> str:
        return str(self.body.get("prompt") or "")

    @property
    def inputs(self) -> list[Image]:
        return [img for img in self.images if img.role == "input"]

    @property
    def mask(self) -> Image | None:
        return next((img for img in self.images if img.role == "mask"), None)

    @property
    def n(self) -> int:
        return self.body.get("n") or 1

    def set_model(self, model: str) -> None:
        """Rename the model (routing by `@slug/model`); JSON bytes are rewritten to match."""
        self.body["model"] = model
        if self.raw and not self.multipart:
            body = orjson.loads(self.raw)
            body["model"] = model
            self.raw = orjson.dumps(body)

    def prompt_text(self) -> str:
        return self.prompt

    def search_texts(self, response_body: dict | None) -> list[str]:
        """The prompt and the prompts the model rewrote it into."""
        data = (response_body or {}).get("data")
        return [self.prompt, *(d.get("revised_prompt") for d in data or () if isinstance(d, dict))]

    def logged_body(self) -> dict:
        """The parameters with each input image as `iris-blob:<sha256>` (or its URL)."""
        body = {k: v for k, v in self.body.items() if k not in ("image", "images", "mask")}
        refs = [_ref(img) for img in self.inputs]
        if refs:
            body["image"] = refs
        if self.mask is not None:
            body["mask"] = _ref(self.mask)
        return body


def _ref(img: Image) -> str:
    return f"iris-blob:{img.sha256}" if img.data else (img.url or "")


def parse_image_job(
    endpoint: str, raw: bytes, content_type: str, *, max_images: int = MAX_INPUT_IMAGES
) -> ImageJob:
    """The request as an ImageJob, or a 400 naming the field at fault."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        fields, files = _form(raw, content_type)
        job = ImageJob(endpoint, _typed(fields), raw=raw, multipart=True)
        if unknown := sorted(set(files) - {"image", "image[]", "mask"}):
            raise invalid(
                f"File field {unknown[0]!r} is not taken by Iris: send the images to edit as "
                "'image' (or several 'image[]') and an optional 'mask'.",
                param=unknown[0],
                code="unsupported_parameter",
            )
        for name in ("image", "image[]"):
            for upload in files.getlist(name):
                job.images.append(_file_image(upload.read(), f"image[{len(job.images)}]"))
        if mask := files.get("mask"):
            job.images.append(_file_image(mask.read(), "mask", role="mask"))
    elif kind == "application/x-www-form-urlencoded":  # what a form without files becomes
        raise invalid(
            "Send the Images API a JSON body or multipart/form-data, not a URL-encoded form.",
            code="invalid_body",
        )
    else:
        job = ImageJob(endpoint, _json_body(raw), raw=raw)
        _json_images(job)
    _validate(job, max_images)
    return job


def _form(raw: bytes, content_type: str) -> tuple[dict, MultiValueDict]:
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(raw))}
    try:
        parser = MultiPartParser(meta, io.BytesIO(raw), [_MemoryUploads()], "utf-8")
        fields, files = parser.parse()
    except RequestDataTooBig:
        raise GatewayError(
            413,
            "The multipart body's text fields are larger than DATA_UPLOAD_MAX_MEMORY_SIZE.",
            code="request_too_large",
        ) from None
    except (MultiPartParserError, SuspiciousOperation, ValueError) as exc:  # too many fields…
        raise invalid(f"The multipart body could not be read: {exc}", code="invalid_body") from None
    names = [*fields, *files]
    if bad := next((name for name in names if not _FIELD_NAME.fullmatch(name)), None):
        # Field names are written into the multipart sent upstream: no quotes, no line breaks.
        raise invalid(f"Form field name {bad[:80]!r} is not one the Images API takes.", bad[:80])
    return {k: v[-1] for k, v in fields.lists()}, files


class _MemoryUploads:
    """Django's upload handler protocol, keeping each file in memory: the body is already in
    memory, read within GATEWAY_MAX_BODY_BYTES."""

    chunk_size = 1 << 20

    def new_file(self, field_name, file_name, content_type, content_length, charset, extra):
        self._field, self._name, self._chunks = field_name, file_name, []

    def handle_raw_input(self, *args, **kwargs):
        return None

    def receive_data_chunk(self, raw_data, start):
        self._chunks.append(raw_data)

    def file_complete(self, file_size):
        from django.core.files.uploadedfile import SimpleUploadedFile

        return SimpleUploadedFile(self._name or self._field, b"".join(self._chunks))

    def upload_complete(self):
        return None

    def upload_interrupted(self):
        return None


def _typed(fields: dict) -> dict:
    body: dict = dict(fields)
    for name in _INTEGERS:
        if name in body:
            try:
                body[name] = int(body[name])
            except ValueError:
                raise invalid(f"'{name}' must be an integer.", param=name) from None
    for name in _BOOLEANS:
        if name in body:
            body[name] = str(body[name]).strip().lower() in ("true", "1")
    return body


def _json_body(raw: bytes) -> dict:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid(f"Request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise invalid("Request body must be a JSON object.", code="invalid_json")
    if json_depth(body) > 16:  # the Images API's bodies are flat
        raise too_deep(16)
    return body


def _json_images(job: ImageJob) -> None:
    """Edits sent as JSON: `images: [{"image_url": ...}]` and `mask: {"image_url": ...}`."""
    body = job.body
    if job.endpoint == GENERATIONS:
        return
    if "image" in body:  # sent on as it came, OpenAI would refuse it: say so first
        raise invalid(
            "JSON bodies name their images 'images': [{\"image_url\": ...}]; 'image' is the "
            "multipart form's file field.",
            param="image",
        )
    refs = body.get("images", [])
    if not isinstance(refs, list):
        raise invalid("'images' must be an array of {\"image_url\": ...} objects.", "images")
    for i, ref in enumerate(refs):
        job.images.append(_reference_image(ref, f"images[{i}]", len(job.images)))
    if (mask := body.get("mask")) is not None:
        job.images.append(_reference_image(mask, "mask", len(job.images), role="mask"))


def _reference_image(ref: object, param: str, index: int, role: str = "input") -> Image:
    url = ref.get("image_url") if isinstance(ref, dict) else ref
    if isinstance(ref, dict) and "file_id" in ref and url is None:
        raise invalid(
            f"{param}: file_id references are not supported by Iris; send image_url.",
            param=param,
            code="unsupported_parameter",
        )
    if not isinstance(url, str) or not url:
        raise invalid(f"{param}: expected an object with an image_url string.", param=param)
    if url.startswith("data:"):
        try:
            prefix, data = decode_data_uri(url)
        except ImageError as exc:
            raise invalid(f"{param}.image_url {exc}.", param=param) from None
        img = _file_image(data, param, role=role)
        img.origin, img.data_uri_prefix, img.part = "base64", prefix, index
        return img
    if not url.startswith(("http://", "https://")):
        raise invalid(f"{param}.image_url must be an http(s) URL or a data URI.", param=param)
    return Image(message=0, part=index, origin="url", url=url, role=role)


def _file_image(data: bytes, param: str, role: str = "input") -> Image:
    img = Image(message=0, part=0, origin="file", role=role)
    try:
        img.describe(data)
    except ImageError as exc:
        raise invalid(f"{param} {exc}.", param=param, code="invalid_image") from None
    return img


def _validate(job: ImageJob, max_images: int) -> None:
    body = job.body
    for i, img in enumerate(job.images):
        img.part = i
    if job.endpoint != VARIATIONS:
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise invalid("'prompt' is required: a text description of the image.", "prompt")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise invalid(
                f"'prompt' is {len(prompt)} characters; the longest is {MAX_PROMPT_CHARS}.",
                "prompt",
            )
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise invalid("'model' must be a string.", param="model")
    n = body.get("n", 1)
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10):
        raise invalid("'n' must be an integer from 1 to 10.", param="n")
    if not isinstance(body.get("stream", False), bool):
        raise invalid("'stream' must be a boolean.", param="stream")
    partial = body.get("partial_images")
    if partial is not None and (not isinstance(partial, int) or not 0 <= partial <= 3):
        raise invalid("'partial_images' must be an integer from 0 to 3.", "partial_images")
    if job.endpoint == GENERATIONS:
        return
    inputs = job.inputs
    if not inputs:
        name = "image" if job.multipart else "images"
        raise invalid(f"'{name}' is required: the image (or images) to edit.", param=name)
    if len(inputs) > (limit := min(max_images, MAX_INPUT_IMAGES)):
        raise invalid(f"{len(inputs)} images sent; at most {limit} are taken.", param="image")
    if job.endpoint == VARIATIONS and len(inputs) > 1:
        raise invalid("Variations take exactly one image.", param="image")
    check_mask(job)


def check_mask(job: ImageJob) -> None:
    """The mask a PNG the size of the first image: judged again once URL images are fetched."""
    mask, first = job.mask, job.inputs[0]
    if mask is None or mask.data is None:
        return
    if mask.mime != "image/png":
        raise invalid(f"'mask' must be a PNG file, not {mask.mime}.", param="mask")
    if first.data is not None and (mask.width, mask.height) != (first.width, first.height):
        raise invalid(
            f"'mask' is {mask.width}×{mask.height} px but the image it applies to is "
            f"{first.width}×{first.height} px: they must be the same size.",
            param="mask",
            code="mask_size_mismatch",
        )
