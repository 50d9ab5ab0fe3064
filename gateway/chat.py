"""Parse an OpenAI chat-completions body into a Chat, with precise 400s. No Django, no I/O."""

import secrets
from dataclasses import dataclass, field

import orjson

from gateway.errors import GatewayError
from gateway.images import Image, ImageError, decode_data_uri

# Stands in chat.body for a data URI that was decoded into chat.images (or chat.documents).
DECODED_IMAGE = "iris:decoded-image"
DECODED_FILE = "iris:decoded-file"
# Stands, while parsing, for a data URI cut out of the raw body (see _lift_data_uris). The
# nonce keeps a client from writing one.
_LIFTED = f"iris:lifted-{secrets.token_hex(8)}:"


class JsonRequest:
    """What a parsed JSON request (a Chat, a Responses request) has in its `raw` bytes and
    `body`: its model, whether it streams, and a way to rename the model."""

    raw: bytes
    body: dict

    @property
    def model(self) -> str:
        return self.body["model"]

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    def set_model(self, model: str) -> None:
        """Rename the model in the parsed body and in the bytes (OpenAI-shaped providers send
        `raw` as is): the raw body is parsed again, so its images stay exactly as sent."""
        body = orjson.loads(self.raw)
        body["model"] = self.body["model"] = model
        self.raw = orjson.dumps(body)


@dataclass
class Chat(JsonRequest):
    """A parsed chat request: the raw bytes, the JSON body, and every image, resolved once."""

    raw: bytes
    body: dict
    images: list[Image] = field(default_factory=list)
    # `file` content parts: PDFs, as Images whose mime is application/pdf (see images.py).
    documents: list[Image] = field(default_factory=list)

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options") or {}
        return bool(isinstance(options, dict) and options.get("include_usage"))

    def image(self, message: int, part: int) -> Image:
        for img in self.images:
            if img.message == message and img.part == part:
                return img
        raise KeyError((message, part))

    def document(self, message: int, part: int) -> Image:
        """The PDF of a `file` part; a 400 for one that is not (a file_id, another type):
        OpenAI-shaped upstreams take those as sent, translating providers cannot."""
        for doc in self.documents:
            if doc.message == message and doc.part == part:
                return doc
        raise invalid(
            f"messages[{message}].content[{part}]: this provider takes documents as PDF "
            "file_data only (a file_id or another file type goes to OpenAI as sent).",
            f"messages.{message}.content.{part}.file",
            "unsupported_file",
        )


def invalid(message: str, param: str | None = None, code: str | None = None) -> GatewayError:
    return GatewayError(400, message, "invalid_request_error", code=code, param=param)


def parse_chat(raw: bytes, *, max_depth: int = 64, max_images: int = 500) -> Chat:
    """Validate the body enough to route and log it; the upstream validates the rest. JSON
    nested deeper than max_depth is refused: every later step (the log's rows, the logs UI,
    a provider's translation) may walk it recursively. So are more than max_images images
    (OpenAI's limit is 500): each may be fetched, converted and stored."""
    skeleton, lifted = _lift_data_uris(raw)
    if lifted:
        try:
            return _parse(raw, skeleton, lifted, max_depth, max_images)
        except _NotLiftable:
            pass  # parse it whole: same result, or the same error, as without lifting
    return _parse(raw, raw, [], max_depth, max_images)


def json_depth(value: object) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (iteratively: no recursion
    limit to hit, and work in proportion to the number of arrays and objects)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return deepest


def deeper_than(max_depth: int, body: object, text: bytes) -> bool:
    """Does the parsed body nest deeper than max_depth? Each level opens with a bracket, so
    a text with no more brackets than that cannot (two C-speed counts instead of a walk of
    every array and object, for the usual small body)."""
    if text.count(b"[") + text.count(b"{") <= max_depth:
        return False
    return json_depth(body) > max_depth


def too_deep(max_depth: int) -> GatewayError:
    return invalid(
        f"Request body nests arrays and objects more than {max_depth} levels deep "
        "(GATEWAY_MAX_JSON_DEPTH).",
        code="json_too_deep",
    )


class _NotLiftable(Exception):
    """A lifted data URI was not where an image goes, or did not decode: parse the raw body."""


def _lift_data_uris(raw: bytes) -> tuple[bytes, list[memoryview]]:
    """Cut every base64 data URI string out of the raw JSON, leaving a numbered stand-in.

    Parsing the whole body would copy each URI into a str (as big as the image, again), and
    cutting off its prefix a third time. The stand-ins are decoded straight from the raw bytes
    instead. In valid JSON an unescaped quote followed by `data:` opens a string; a string
    with a backslash in it (escapes) is left for the parser."""
    view = memoryview(raw)
    pieces: list[bytes | memoryview] = []
    lifted: list[memoryview] = []
    done = 0
    start = raw.find(b'"data:')
    while start != -1:
        end = raw.find(b'"', start + 1)
        if end == -1:
            break
        if _escaped(raw, start) or raw.find(b"\\", start, end) != -1:
            start = raw.find(b'"data:', start + 1)
            continue
        pieces += (view[done : start + 1], f"{_LIFTED}{len(lifted)}".encode())
        lifted.append(view[start + 1 : end])
        done = end
        start = raw.find(b'"data:', end + 1)
    if not lifted:
        return raw, []
    pieces.append(view[done:])
    return b"".join(pieces), lifted


def _escaped(raw: bytes, quote: int) -> bool:
    backslashes = 0
    while quote - backslashes > 0 and raw[quote - backslashes - 1] == 0x5C:
        backslashes += 1
    return backslashes % 2 == 1


def _parse(
    raw: bytes, text: bytes, lifted: list[memoryview], max_depth: int, max_images: int = 500
) -> Chat:
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if lifted:
            raise _NotLiftable from None
        if "depth limit" in str(exc):  # orjson's own limit (1024 levels)
            raise too_deep(max_depth) from None
        raise invalid(f"Request body is not valid JSON: {exc}", code="invalid_json") from None
    if deeper_than(max_depth, body, text):
        raise too_deep(max_depth)
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
    used: set[int] = set()  # the lifted data URIs found where images go
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise invalid(f"messages[{i}] must be an object with a 'role'.", f"messages.{i}")
        content = message.get("content")
        if isinstance(content, list):
            chat.images.extend(_images_in(content, i, lifted, used))
            chat.documents.extend(_documents_in(content, i, lifted, used))
            if len(chat.images) + len(chat.documents) > max_images:
                raise invalid(
                    f"Too many images in the request: more than {max_images} "
                    "(GATEWAY_MAX_IMAGES_PER_REQUEST).",
                    "messages",
                    "too_many_images",
                )
        elif content is not None and not isinstance(content, str):
            raise invalid(
                f"messages[{i}].content must be a string or an array of content parts.",
                f"messages.{i}.content",
            )
    tools = body.get("tools")
    if tools is not None and (
        not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools)
    ):
        raise invalid("'tools' must be an array of objects.", "tools")
    if len(used) != len(lifted):
        raise _NotLiftable  # a stand-in sits elsewhere: in a text, a key, another field
    return chat


def _images_in(parts: list, i: int, lifted: list[memoryview], used: set[int]) -> list[Image]:
    images = []
    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            raise invalid(
                f"messages[{i}].content[{j}] must be a content part object.",
                f"messages.{i}.content.{j}",
            )
        if part.get("type") != "image_url":
            continue
        param = f"messages.{i}.content.{j}.image_url"
        spec = part.get("image_url")
        if isinstance(spec, str):  # a bare URL string, as some clients send: OpenAI's shape
            spec = part["image_url"] = {"url": spec}
        url = spec.get("url") if isinstance(spec, dict) else None
        detail = spec.get("detail") if isinstance(spec, dict) else None
        if not isinstance(url, str) or not url:
            raise invalid(f"messages[{i}].content[{j}]: image_url.url is missing.", param)
        if detail is not None and not isinstance(detail, str):
            raise invalid(f"messages[{i}].content[{j}]: image_url.detail must be a string.", param)
        if lifted and url.startswith(_LIFTED):
            image = Image(message=i, part=j, origin="base64", detail=detail)
            try:
                index = int(url[len(_LIFTED) :])
                # Strict: a line break that decoding would forgive may be a JSON error.
                image.data_uri_prefix, data = decode_data_uri(lifted[index], tolerant=False)
                if not (image.data_uri_prefix.isascii() and image.data_uri_prefix.isprintable()):
                    raise ValueError  # a control character: invalid JSON, for the parser to say
                image.describe(data)
                used.add(index)
            except (ImageError, ValueError, IndexError):
                raise _NotLiftable from None  # the whole-body parse words the error
            spec["url"] = DECODED_IMAGE
        else:
            where = f"messages[{i}].content[{j}]"
            image = image_at(url, i, j, detail, f"{where}: image_url.url", param)
            if image.origin == "base64":
                # The bytes now live in Image.data and the original text in chat.raw: drop a
                # third copy (base64 of a big image is tens of MB) from the parsed body.
                spec["url"] = DECODED_IMAGE
        images.append(image)
    return images


def image_at(url: str, message: int, part: int, detail, field: str, param: str) -> Image:
    """The Image an image URL names: a data URI decoded and sniffed (a 400 if it is no
    image), or an http(s) URL, fetched later if need be; a 400 for anything else. `field`
    names it in the errors ("messages[0].content[1]: image_url.url")."""
    if url.startswith("data:"):
        image = Image(message=message, part=part, origin="base64", detail=detail)
        try:
            image.data_uri_prefix, data = decode_data_uri(url)
            image.describe(data)
        except ImageError as exc:
            where = field.rpartition(":")[0]
            raise invalid(f"{where}: the image {exc}.", param, "invalid_image") from None
        return image
    if url.startswith(("https://", "http://")):
        return Image(message=message, part=part, origin="url", detail=detail, url=url)
    raise invalid(
        f"{field} must be an http(s) URL or a base64 data URI.", param, "invalid_image_url"
    )


def _documents_in(parts: list, i: int, lifted: list[memoryview], used: set[int]) -> list[Image]:
    """The PDFs of `file` parts (OpenAI's shape: file.file_data as a base64 data URI, and a
    filename); a file_id names a file stored at OpenAI, which Iris cannot see."""
    documents = []
    for j, part in enumerate(parts):
        if part.get("type") != "file":
            continue
        param = f"messages.{i}.content.{j}.file"
        spec, where = part.get("file"), f"messages[{i}].content[{j}]"
        if not isinstance(spec, dict):
            raise invalid(f"{where}: 'file' must be an object with file_data.", param)
        uri = spec.get("file_data")
        if uri is None and "file_id" in spec:
            continue  # a file stored at OpenAI: sent on as it is (see Chat.document)
        if not isinstance(uri, str) or not uri:
            raise invalid(f"{where}: file.file_data (a base64 data URI) is missing.", param)
        doc = Image(message=i, part=j, origin="base64")
        try:
            if lifted and uri.startswith(_LIFTED):
                index = int(uri[len(_LIFTED) :])
                doc.data_uri_prefix, data = decode_data_uri(lifted[index], tolerant=False)
                used.add(index)
            else:
                doc.data_uri_prefix, data = decode_data_uri(uri)
        except (ValueError, IndexError) as exc:  # ImageError is a ValueError
            if uri.startswith(_LIFTED):
                raise _NotLiftable from None  # the whole-body parse words the error
            raise invalid(f"{where}: file_data {exc}.", param, "invalid_file") from None
        if b"%PDF-" not in data[:1024]:  # not a PDF: OpenAI-shaped upstreams take it as sent
            if uri.startswith(_LIFTED):
                raise _NotLiftable  # parsed whole, so the body keeps its data URI
            continue
        try:
            doc.describe_document(data)
        except ImageError as exc:
            raise invalid(f"{where}: the file {exc}.", param, "invalid_file") from None
        spec["file_data"] = DECODED_FILE
        documents.append(doc)
    return documents
