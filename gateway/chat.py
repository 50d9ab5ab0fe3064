"""Parse an OpenAI chat-completions body into a Chat, with precise 400s. No Django, no I/O."""

from dataclasses import dataclass, field

import orjson

from gateway.errors import GatewayError
from gateway.images import Image, ImageError, decode_data_uri

# Stands in chat.body for a data URI that was decoded into chat.images.
DECODED_IMAGE = "iris:decoded-image"


@dataclass
class Chat:
    """A parsed chat request: the raw bytes, the JSON body, and every image, resolved once."""

    raw: bytes
    body: dict
    images: list[Image] = field(default_factory=list)

    @property
    def model(self) -> str:
        return self.body["model"]

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options") or {}
        return bool(isinstance(options, dict) and options.get("include_usage"))

    def image(self, message: int, part: int) -> Image:
        for img in self.images:
            if img.message == message and img.part == part:
                return img
        raise KeyError((message, part))


def invalid(message: str, param: str | None = None, code: str | None = None) -> GatewayError:
    return GatewayError(400, message, "invalid_request_error", code=code, param=param)


def parse_chat(raw: bytes) -> Chat:
    """Validate the body enough to route and log it; the upstream validates the rest."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid(f"Request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise invalid("Request body must be a JSON object.", code="invalid_json")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid(
            "Missing required parameter: 'messages' (a non-empty array).",
            "messages",
            "missing_required_parameter",
        )
    chat = Chat(raw=raw, body=body)
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise invalid(f"messages[{i}] must be an object with a 'role'.", f"messages.{i}")
        content = message.get("content")
        if isinstance(content, list):
            chat.images.extend(_images_in(content, i))
    return chat


def _images_in(parts: list, i: int) -> list[Image]:
    images = []
    for j, part in enumerate(parts):
        if not isinstance(part, dict) or part.get("type") != "image_url":
            continue
        param = f"messages.{i}.content.{j}.image_url"
        spec = part.get("image_url")
        url = spec.get("url") if isinstance(spec, dict) else spec
        detail = spec.get("detail") if isinstance(spec, dict) else None
        if not isinstance(url, str) or not url:
            raise invalid(f"messages[{i}].content[{j}]: image_url.url is missing.", param)
        if url.startswith("data:"):
            image = Image(message=i, part=j, origin="base64", detail=detail)
            try:
                image.data_uri_prefix, data = decode_data_uri(url)
                image.describe(data)
            except ImageError as exc:
                raise invalid(
                    f"messages[{i}].content[{j}]: the image {exc}.", param, "invalid_image"
                ) from None
            if isinstance(spec, dict):
                # The bytes now live in Image.data and the original text in chat.raw: drop a
                # third copy (base64 of a big image is tens of MB) from the parsed body.
                spec["url"] = DECODED_IMAGE
        elif url.startswith(("https://", "http://")):
            image = Image(message=i, part=j, origin="url", detail=detail, url=url)
        else:
            raise invalid(
                f"messages[{i}].content[{j}]: image_url.url must be an http(s) URL or a "
                "base64 data URI.",
                param,
                "invalid_image_url",
            )
        images.append(image)
    return images
