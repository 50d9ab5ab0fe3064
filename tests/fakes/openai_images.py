"""A fake OpenAI Images API: checks what it receives against the `openai` SDK's own types
(ImageGenerateParams, ImageEditParams, ImageCreateVariationParams; for JSON edits, OpenAI's
EditImageBodyJsonParam: `images: [{image_url}]`, `mask: {image_url}`), and answers as OpenAI
does: an ImagesResponse of real images made with Pillow at the requested size and format,
usage for GPT image models, URLs (served by this fake) for dall-e models asked for them, and
for `stream: true` the typed SSE events (`event: image_generation.partial_image`, …) with no
`[DONE]`.

Behaviour by prompt: "[fail-429]" answers a rate-limit error, "[die]" breaks a stream after
its first event, "[hold]" holds a stream's completed event until a test sets RELEASE. Each
image's colour comes from the prompt and its index, so tests can tell images apart.
"""

import base64
import hashlib
import io
import json
import threading
import time
import typing
import urllib.request
from collections import OrderedDict
from email import policy
from email.parser import BytesParser
from typing import Required

from openai.types import image_create_variation_params as variation_params
from openai.types import image_edit_params as edit_params
from openai.types import image_generate_params as generate_params
from openai.types.image_input_reference_param import ImageInputReferenceParam
from PIL import Image as PILImage
from typing_extensions import TypedDict

from tests.fakes.schema import SchemaError, check
from tests.fakes.server import Received, Reply

GPT_PREFIXES = ("gpt-image-", "chatgpt-image-")
FILE_FIELDS = ("image", "image[]", "mask", "markup")
GENERATED: "OrderedDict[str, tuple[bytes, str]]" = OrderedDict()  # /generated/<id> → (bytes, mime)
MAX_GENERATED = 64
RELEASE = threading.Event()  # "[hold]": lets a stream finish


class Invalid(ValueError):
    """A 400 as OpenAI words it."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def _json_edit_params() -> type:
    """OpenAI's JSON edits body (EditImageBodyJsonParam): the multipart fields, with `images`
    and `mask` as image references instead of files."""
    hints = typing.get_type_hints(edit_params.ImageEditParamsBase, include_extras=True)
    fields = {k: v for k, v in hints.items() if k not in ("image", "mask", "markup")}
    fields |= {
        "images": Required[list[ImageInputReferenceParam]],
        "mask": ImageInputReferenceParam,
        "stream": bool | None,
    }
    return TypedDict("EditImageBodyJsonParam", fields, total=False)


EditImageBodyJsonParam = _json_edit_params()


def handle(request: Received, base_url: str) -> Reply:
    if request.method == "GET":
        return serve_generated(request.path)
    try:
        if request.path.endswith("/images/generations"):
            return _generations(request, base_url)
        if request.path.endswith("/images/edits"):
            return _edits(request, base_url)
        return _variations(request, base_url)
    except Invalid as exc:
        return error(400, str(exc), "invalid_request_error", exc.param)
    except SchemaError as exc:
        return error(400, f"Invalid request: {exc}", "invalid_request_error")


def _generations(request: Received, base_url: str) -> Reply:
    body = _json(request)
    stream = bool(body.get("stream"))
    check(
        body,
        generate_params.ImageGenerateParamsStreaming
        if stream
        else generate_params.ImageGenerateParamsNonStreaming,
    )
    _model_rules(body, request.path)
    return _answer(body, "image_generation", [], base_url)


def _edits(request: Received, base_url: str) -> Reply:
    if request.headers.get("content-type", "").startswith("application/json"):
        body = _json(request)
        check(body, EditImageBodyJsonParam)
        if not str(body.get("model") or "").startswith(GPT_PREFIXES):
            raise Invalid("JSON edits support GPT image models only.", "model")
        images = [_reference(ref, f"images[{i}]") for i, ref in enumerate(body["images"])]
        mask = _reference(body["mask"], "mask") if "mask" in body else None
    else:
        body, files = parse_multipart(request)
        schema = (
            edit_params.ImageEditParamsStreaming
            if body.get("stream")
            else edit_params.ImageEditParamsNonStreaming
        )
        images = files.get("image", []) + files.get("image[]", [])
        mask = files["mask"][0] if "mask" in files else None
        check({**body, "image": images, **({"mask": mask} if mask else {})}, schema)
    _model_rules(body, request.path)
    model = str(body.get("model") or "dall-e-2")
    if len(images) > (16 if model.startswith(GPT_PREFIXES) else 1):
        raise Invalid(f"Too many images ({len(images)}) for {model}.", "image")
    pictures = [_picture(data, f"image[{i}]") for i, data in enumerate(images)]
    if mask is not None:
        shape = _picture(mask, "mask")
        if shape.format != "PNG":
            raise Invalid("Invalid mask: must be a PNG file.", "mask")
        if shape.size != pictures[0].size:
            raise Invalid("Invalid mask: the mask and image must have the same size.", "mask")
    return _answer(body, "image_edit", pictures, base_url)


def _variations(request: Received, base_url: str) -> Reply:
    body, files = parse_multipart(request)
    if set(files) != {"image"} or len(files["image"]) != 1:
        raise Invalid("Variations take exactly one `image` file.", "image")
    check({**body, "image": files["image"][0]}, variation_params.ImageCreateVariationParams)
    if body.get("model", "dall-e-2") != "dall-e-2":
        raise Invalid(f"Invalid value for 'model': {body['model']}. Use dall-e-2.", "model")
    picture = _picture(files["image"][0], "image")
    if picture.format != "PNG" or picture.size[0] != picture.size[1]:
        raise Invalid("Invalid image: must be a square PNG.", "image")
    return _answer({**body, "model": "dall-e-2"}, "image_variation", [picture], base_url)


def _model_rules(body: dict, path: str) -> None:
    """What OpenAI refuses by model, so a test sees Iris pass requests it would take."""
    model = str(body.get("model") or ("dall-e-2" if not path.endswith("generations") else ""))
    if model.startswith(GPT_PREFIXES):
        if body.get("response_format") is not None:
            raise Invalid(f"Unknown parameter: 'response_format' for {model}.", "response_format")
    elif model in ("dall-e-2", "dall-e-3"):
        for name in ("stream", "partial_images", "output_format", "background"):
            if body.get(name):
                raise Invalid(f"{name} is only supported for GPT image models.", name)
    else:
        raise Invalid(f"Invalid value for 'model' = {model}.", "model")


def _answer(body: dict, kind: str, inputs: list, base_url: str) -> Reply:
    prompt, model = str(body.get("prompt") or ""), str(body.get("model") or "dall-e-2")
    if "[fail-429]" in prompt:
        return error(429, "Rate limit reached for images", "requests", code="rate_limit_exceeded")
    size = _size(body.get("size"), inputs)
    fmt = str(body.get("output_format") or "png")
    n = int(body.get("n") or 1)
    images = [make_image(size, fmt, f"{kind}:{prompt}:{i}") for i in range(n)]
    created = int(time.time())
    if not model.startswith(GPT_PREFIXES):
        data = [_legacy_item(img, body, base_url) for img in images]
        return Reply.json(200, {"created": created, "data": data}, **{"x-request-id": "req_img"})
    head = {
        "background": body.get("background") or "opaque",
        "output_format": fmt,
        "quality": body.get("quality") if body.get("quality") not in (None, "auto") else "medium",
        "size": f"{size[0]}x{size[1]}",
    }
    use = usage(prompt, len(inputs), n)
    if not body.get("stream"):
        data = [{"b64_json": base64.b64encode(img).decode()} for img in images]
        answer = {"created": created, "data": data, **head, "usage": use}
        return Reply.json(200, answer, **{"x-request-id": "req_img"})
    partials = int(body.get("partial_images") or 0)
    return Reply(
        200,
        headers={"content-type": "text/event-stream", "x-request-id": "req_img"},
        chunks=_events(kind, images, partials, head, use, size, fmt, prompt),
        die="[die]" in prompt,
    )


def _events(kind, images, partials, head, use, size, fmt, prompt):
    created = int(time.time())
    for i, final in enumerate(images):
        for p in range(partials):
            partial = make_image(size, fmt, f"{kind}:{prompt}:{i}:partial:{p}")
            yield sse(
                {
                    "type": f"{kind}.partial_image",
                    "b64_json": base64.b64encode(partial).decode(),
                    "created_at": created,
                    "partial_image_index": p,
                    **head,
                }
            )
            if "[die]" in prompt:
                return
        if "[hold]" in prompt and not RELEASE.wait(timeout=10):
            return  # never released: a client that got nothing yet was sent nothing
        completed = {"type": f"{kind}.completed", "b64_json": base64.b64encode(final).decode()}
        yield sse({**completed, "created_at": created, **head, "usage": use})


def sse(event: dict) -> bytes:
    """An event as OpenAI's Images API sends it: named, then its JSON."""
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def usage(prompt: str, input_images: int, n: int) -> dict:
    text, image = len(prompt.split()), 194 * input_images
    output = 272 * n
    return {
        "input_tokens": text + image,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image},
        "output_tokens": output,
        "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
        "total_tokens": text + image + output,
    }


def _legacy_item(image: bytes, body: dict, base_url: str) -> dict:
    item: dict = {}
    if body.get("response_format", "url") == "b64_json":
        item["b64_json"] = base64.b64encode(image).decode()
    else:
        name = hashlib.sha256(image).hexdigest()[:16] + ".png"
        GENERATED[name] = (image, "image/png")
        while len(GENERATED) > MAX_GENERATED:
            GENERATED.popitem(last=False)
        item["url"] = f"{base_url}/generated/{name}?se=2099-01-01&sig=fake"
    if body.get("model") == "dall-e-3":
        item["revised_prompt"] = f"A detailed picture: {body.get('prompt')}"
    return item


def make_image(size: tuple[int, int], fmt: str, seed: str) -> bytes:
    """A real image of that size and format, its colour from the seed."""
    digest = hashlib.sha256(seed.encode()).digest()
    picture = PILImage.new("RGB", size, tuple(digest[:3]))
    picture.paste(tuple(digest[3:6]), (0, 0, max(1, size[0] // 4), max(1, size[1] // 4)))
    out = io.BytesIO()
    picture.save(out, {"jpeg": "JPEG", "webp": "WEBP"}.get(fmt, "PNG"))
    return out.getvalue()


def serve_generated(path: str) -> Reply:
    name = path.removeprefix("/generated/").split("?")[0]
    if not path.startswith("/generated/") or name not in GENERATED:
        return Reply(404, b"not found", {"content-type": "text/plain"})
    data, mime = GENERATED[name]
    return Reply(200, data, {"content-type": mime})


def parse_multipart(request: Received) -> tuple[dict, dict[str, list[bytes]]]:
    """The text fields (typed as the SDK's params declare them) and the files of a
    multipart/form-data body, read with the email package (not Iris's parser)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise Invalid(f"Expected multipart/form-data, got {content_type!r}.")
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + request.body)
    if not message.is_multipart():
        raise Invalid("The multipart body has no parts.")
    hints = typing.get_type_hints(edit_params.ImageEditParamsBase, include_extras=True)
    hints |= typing.get_type_hints(variation_params.ImageCreateVariationParams)
    fields: dict = {}
    files: dict[str, list[bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            if name not in FILE_FIELDS:
                raise Invalid(f"Unexpected file field {name!r}.", name)
            files.setdefault(name, []).append(data)
            continue
        if name in fields or name in FILE_FIELDS:
            raise Invalid(f"Field {name!r} sent twice or as text.", name)
        fields[name] = _typed(name, data.decode(), hints.get(name))
    if len(files.get("image", [])) > 1 or ("image" in files and "image[]" in files):
        raise Invalid("Several images are sent as `image[]` fields, one `image` otherwise.")
    if len(files.get("mask", [])) > 1:
        raise Invalid("One mask only.", "mask")
    return fields, files


def _typed(name: str, text: str, hint: object) -> object:
    """A form field's text as the type the params declare (httpx writes true/false, 2)."""
    if name == "stream":
        if text not in ("true", "false"):
            raise Invalid(f"Invalid value for 'stream': {text!r}.", name)
        return text == "true"
    if int in typing.get_args(hint) or hint is int:
        try:
            return int(text)
        except ValueError:
            raise Invalid(f"Invalid integer for {name!r}: {text!r}.", name) from None
    return text


def _reference(ref: dict, param: str) -> bytes:
    url = ref.get("image_url") or ""
    if url.startswith("data:"):
        return base64.b64decode(url.partition(",")[2])
    if url.startswith("http://127.0.0.1"):
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            return response.read()
    raise Invalid(f"{param}: the fake fetches data URIs and 127.0.0.1 URLs only.", param)


def _picture(data: bytes, param: str) -> PILImage.Image:
    try:
        picture = PILImage.open(io.BytesIO(data))
        picture.load()
    except Exception:  # noqa: BLE001  (any decode failure is OpenAI's "invalid image")
        raise Invalid(f"Invalid image file for {param}.", param) from None
    return picture


def _size(size: object, inputs: list) -> tuple[int, int]:
    if isinstance(size, str) and "x" in size:
        w, _, h = size.partition("x")
        return int(w), int(h)
    return inputs[0].size if inputs else (1024, 1024)


def _json(request: Received) -> dict:
    try:
        body = request.json()
    except ValueError:
        raise Invalid("We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise Invalid("The body must be a JSON object.")
    return body


def error(status: int, message: str, type_: str, param=None, code=None) -> Reply:
    return Reply.json(
        status, {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )
