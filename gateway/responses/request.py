"""A Responses API body parsed once, with precise 400s: its images and PDFs decoded (for the
log's blobs and for providers that take bytes), what the log keeps of it. No Django, no I/O."""

from dataclasses import dataclass, field

import orjson

from gateway.chat import (
    DECODED_FILE,
    DECODED_IMAGE,
    JsonRequest,
    image_at,
    invalid,
    json_depth,
    too_deep,
)
from gateway.images import Image, ImageError, decode_data_uri

# The ids of responses Iris made itself (translated routes): "resp_iris_" + the request id of
# the log record that holds them. Any other id is the provider's own (openai, azure-openai).
IRIS_ID = "resp_iris_"


def iris_id(request_id: str) -> str:
    return IRIS_ID + request_id


def request_id_of(response_id: str) -> str | None:
    """The log's request id behind an id Iris made, or None for a provider's id."""
    rest = response_id.removeprefix(IRIS_ID)
    ok = rest != response_id and len(rest) == 32 and all(c in "0123456789abcdef" for c in rest)
    return rest if ok else None


@dataclass
class ResponsesRequest(JsonRequest):
    """A parsed Responses request. `body` is the client's, each decoded data URI replaced by a
    marker (the bytes live in `images`/`documents`; `raw` keeps the text as sent). An image's
    `message` is its input item's index, `part` its index in that item's content."""

    raw: bytes
    body: dict
    images: list[Image] = field(default_factory=list)
    documents: list[Image] = field(default_factory=list)  # PDFs (see gateway/images.py)
    # The conversation before this request, rebuilt from the log for previous_response_id:
    # items as a client would send them (data URIs inline), parsed like `input`.
    history: list[dict] = field(default_factory=list)
    history_images: list[Image] = field(default_factory=list)
    history_documents: list[Image] = field(default_factory=list)
    history_logged: list[dict] = field(default_factory=list)  # as the log keeps them

    @property
    def store(self) -> bool:
        return self.body.get("store") is not False  # OpenAI's default: stored

    @property
    def previous_response_id(self) -> str | None:
        value = self.body.get("previous_response_id")
        return value if isinstance(value, str) and value else None

    def input_items(self) -> list[dict]:
        return as_items(self.body.get("input"))

    # What the log keeps (the Logged protocol of gateway/log/rows.py).

    def logged_body(self) -> dict:
        """The body, each base64 image and PDF as `iris-blob:<sha256>`."""
        body = dict(self.body)
        if not isinstance(body.get("input"), list):
            return body
        items = body["input"] = list(body["input"])
        for img in [*self.images, *self.documents]:
            if img.origin != "base64":
                continue
            item = items[img.message] = dict(items[img.message])
            content = item["content"] = list(item["content"])
            key = "file_data" if img.is_document else "image_url"
            content[img.part] = {**content[img.part], key: f"iris-blob:{img.sha256}"}
        return body

    def prompt_text(self) -> str:
        for item in reversed(self.input_items()):
            if isinstance(item, dict) and item.get("role") == "user":
                return _text(item.get("content"))
        instructions = self.body.get("instructions")
        return instructions if isinstance(instructions, str) else ""

    def search_texts(self, response_body: dict | None) -> list[str]:
        texts = [self.body.get("instructions")]
        texts += [_item_text(item) for item in self.input_items()]
        output = (response_body or {}).get("output")
        texts += [_item_text(item) for item in (output if isinstance(output, list) else ())]
        return [t for t in texts if isinstance(t, str) and t]


def as_items(value: object) -> list[dict]:
    """`input` as a list of items: a string is one user message."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return value if isinstance(value, list) else []


def parse_request(raw: bytes, *, max_depth: int = 64, max_images: int = 500) -> ResponsesRequest:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise too_deep(max_depth) from None
        raise invalid(f"Request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise invalid("Request body must be a JSON object.", code="invalid_json")
    if json_depth(body) > max_depth:
        raise too_deep(max_depth)
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    value = body.get("input")
    if value is None and not body.get("previous_response_id"):
        raise invalid(
            "Missing required parameter: 'input' (a string or an array of input items).",
            "input",
            "missing_required_parameter",
        )
    if value is not None and not isinstance(value, str | list):
        raise invalid("'input' must be a string or an array of input items.", "input")
    for name in ("tools", "metadata", "text", "reasoning"):
        if body.get(name) is not None and not isinstance(
            body[name], list if name == "tools" else dict
        ):
            kind = "an array" if name == "tools" else "an object"
            raise invalid(f"'{name}' must be {kind}.", name)
    request = ResponsesRequest(raw=raw, body=body)
    if isinstance(value, list):
        request.images, request.documents = decode_items(value, "input")
        if len(request.images) + len(request.documents) > max_images:
            raise invalid(
                f"Too many images and files in the request: more than {max_images} "
                "(GATEWAY_MAX_IMAGES_PER_REQUEST).",
                "input",
                "too_many_images",
            )
    return request


def decode_items(items: list, where: str) -> tuple[list[Image], list[Image]]:
    """The images and PDFs of input items, each data URI decoded and replaced by a marker in
    its item (the items are changed in place); 400s name `where[k].content[j]`."""
    images: list[Image] = []
    documents: list[Image] = []
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            raise invalid(f"{where}[{k}] must be an object (an input item).", f"{where}.{k}")
        content = item.get("content")
        if item.get("type", "message") != "message" or not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            if not isinstance(part, dict):
                raise invalid(
                    f"{where}[{k}].content[{j}] must be a content part object.",
                    f"{where}.{k}.content.{j}",
                )
            kind = part.get("type")
            if kind == "input_image" and (img := _image(part, k, j, where)):
                images.append(img)
            elif kind == "input_file" and (doc := _document(part, k, j, where)):
                documents.append(doc)
    return images, documents


def _image(part: dict, k: int, j: int, where: str) -> Image | None:
    url, detail = part.get("image_url"), part.get("detail")
    param = f"{where}.{k}.content.{j}.image_url"
    if detail is not None and not isinstance(detail, str):
        raise invalid(f"{where}[{k}].content[{j}]: detail must be a string.", param)
    if url is None:
        if part.get("file_id"):
            return None  # a file stored at OpenAI: passed on to OpenAI, refused elsewhere
        raise invalid(f"{where}[{k}].content[{j}]: image_url (or file_id) is missing.", param)
    if not isinstance(url, str):
        raise invalid(f"{where}[{k}].content[{j}]: image_url must be a string.", param)
    img = image_at(url, k, j, detail, f"{where}[{k}].content[{j}]: image_url", param)
    if img.origin == "base64":
        part["image_url"] = DECODED_IMAGE  # the bytes are in img.data, the text in raw
    return img


def _document(part: dict, k: int, j: int, where: str) -> Image | None:
    data_uri, param = part.get("file_data"), f"{where}.{k}.content.{j}.file_data"
    if data_uri is None:
        return None  # a file_id or a file_url: OpenAI's to fetch, refused on other routes
    if not isinstance(data_uri, str) or not data_uri.startswith("data:"):
        raise invalid(
            f"{where}[{k}].content[{j}]: file_data must be a base64 data URI "
            "(data:application/pdf;base64,...).",
            param,
            "invalid_file",
        )
    doc = Image(message=k, part=j, origin="base64")
    try:
        doc.data_uri_prefix, data = decode_data_uri(data_uri)
        doc.describe_document(data)
    except ImageError as exc:
        raise invalid(
            f"{where}[{k}].content[{j}]: the file {exc}.", param, "invalid_file"
        ) from None
    part["file_data"] = DECODED_FILE
    return doc


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    texts = (
        [p.get("text") for p in content if isinstance(p, dict)] if isinstance(content, list) else []
    )
    return " ".join(t for t in texts if isinstance(t, str) and t)


def _item_text(item: object) -> str:
    if not isinstance(item, dict):
        return ""
    if item.get("type") == "function_call":
        return f"{item.get('name', '')} {item.get('arguments', '')}"
    if item.get("type") == "function_call_output":
        return _text(item.get("output"))
    return _text(item.get("content"))
