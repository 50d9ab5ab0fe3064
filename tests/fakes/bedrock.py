"""A fake Bedrock Runtime (Converse, ConverseStream, InvokeModel on image models) that checks
requests the way AWS does.

Each request must carry a valid SigV4 signature: it is recomputed with botocore from what
arrived (method, raw path, the signed headers, the body bytes) and the test credentials below;
a Bedrock API key (Authorization: Bearer API_KEY) is accepted too. The body is validated with
botocore's ParamValidator against the bedrock-runtime service model's Converse input shape,
after decoding base64 blobs, plus the enum values ParamValidator does not check, plus the
conversation rules Bedrock enforces (user first, alternating roles, image and document limits),
plus structured outputs (tests/fakes/bedrock_structured.py: outputConfig, strict, toolChoice)
and Claude's thinking (tests/fakes/bedrock_thinking.py).
InvokeModel bodies are checked by tests/fakes/bedrock_images.py against the image models'
documented schemas. Failures answer Bedrock's error shape: {"message": ...} with an
x-amzn-ErrorType header.

Behaviour by model id: "fail-429" answers a ThrottlingException, "slow" sleeps 3 s, "die"
breaks the stream after two frames, "stream-error" ends the stream with a
modelStreamErrorException, "tools" calls the first tool (until a tool result comes back);
outputConfig or a forced toolChoice get JSON matching the schema; anything else answers
with how many images (and documents) it saw and the last user text.
"""

import base64
import binascii
import hmac
import io
import json
import re
import struct
import time
import uuid
import zlib
from datetime import UTC, datetime
from urllib.parse import unquote

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.validate import ParamValidator
from PIL import Image as PILImage

from tests.fakes import bedrock_images as images
from tests.fakes import bedrock_structured as structured
from tests.fakes import bedrock_thinking as thinking
from tests.fakes import documents
from tests.fakes.server import Received, Reply

# AWS's documented example credentials: https://docs.aws.amazon.com/IAM/latest/UserGuide/
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//session+token="
REGION = "us-east-1"
API_KEY = "ABSKQmVkcm9ja0FQSUtleS1FWEFNUExF"
MAX_IMAGE_BYTES = int(3.75 * 1024 * 1024)

_SERVICE = botocore.session.get_session().get_service_model("bedrock-runtime")
_PATH = re.compile(
    r"^(?P<base>.*)/model/(?P<model>[^/?]+)/(?P<action>converse|converse-stream|invoke)$"
)
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)
_PILLOW_FORMATS = {"PNG": "png", "JPEG": "jpeg", "GIF": "gif", "WEBP": "webp"}
# Bedrock pads event payloads with a "p" field of varying length (against size side channels).
_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class Invalid(ValueError):
    """A request Bedrock would refuse: (HTTP status, exception name, message)."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message


def handle(request: Received) -> Reply:
    match = _PATH.match(request.path)
    if request.method != "POST" or not match or not _served(match):
        return error(404, "UnknownOperationException", f"Unknown operation {request.path}")
    operation = "ConverseStream" if match["action"] == "converse-stream" else "Converse"
    try:
        check_auth(request)
        if match["action"] == "invoke":
            return _invoke(request, unquote(match["model"]))
        body = validate_body(request.body, model_id=unquote(match["model"]), operation=operation)
    except Invalid as exc:
        return error(exc.status, exc.name, exc.message)
    model = body["modelId"]
    if "fail-429" in model:
        message = "Too many requests, please wait before trying again."
        return error(429, "ThrottlingException", message)
    if "slow" in model:
        time.sleep(3)
    reply = answer(body)
    if operation == "Converse":
        return Reply.json(200, reply, **{"x-amzn-RequestId": str(uuid.uuid4())})
    frames = list(stream_frames(reply, error="stream-error" in model))
    if "die" in model:
        frames = frames[:2]
    # Split the first frame across two writes: a client must buffer partial frames.
    chunks = [frames[0][:7], frames[0][7:], *frames[1:]]
    headers = {"content-type": "application/vnd.amazon.eventstream"}
    return Reply(
        200,
        headers={**headers, "x-amzn-RequestId": str(uuid.uuid4())},
        chunks=chunks,
        die="die" in model,
    )


def _served(match: re.Match) -> bool:
    """InvokeModel is served for the image models only (chat goes through Converse)."""
    return match["action"] != "invoke" or unquote(match["model"]) in images.MODELS


def _invoke(request: Received, model: str) -> Reply:
    """InvokeModel on an image model (tests/fakes/bedrock_images.py checks the body)."""
    if request.headers.get("content-type") != "application/json":
        raise Invalid(415, "UnsupportedMediaTypeException", "Expected application/json.")
    try:
        body = json.loads(request.body)
    except ValueError as exc:
        raise Invalid(400, "SerializationException", f"Malformed JSON: {exc}") from None
    try:
        status, answer = images.invoke(model, body)
    except images.Refused as exc:
        raise _validation(str(exc)) from None
    if status != 200:
        return error(status, "ValidationException", answer["message"])
    return Reply.json(200, answer, **{"x-amzn-RequestId": str(uuid.uuid4())})


def error(status: int, name: str, message: str) -> Reply:
    """Bedrock's error shape: the exception name in a header, the message in the body."""
    return Reply.json(status, {"message": message}, **{"x-amzn-ErrorType": name})


# --- authentication ---------------------------------------------------------------------


def check_auth(request: Received) -> None:
    """Accept the test API key, or a SigV4 signature recomputed from what arrived."""
    auth = request.headers.get("authorization", "")
    if auth.startswith("Bearer "):
        if not hmac.compare_digest(auth.removeprefix("Bearer "), API_KEY):
            raise Invalid(403, "AccessDeniedException", "Invalid API Key format or value.")
        return
    match = _AUTH.fullmatch(auth)
    if not match:
        raise Invalid(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    if match["key"] != ACCESS_KEY_ID:
        raise Invalid(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    if match["service"] != "bedrock" or match["region"] != REGION:
        raise Invalid(
            403,
            "InvalidSignatureException",
            "Credential should be scoped to a valid region and to service 'bedrock'.",
        )
    signed = match["signed"].split(";")
    amz_date = request.headers.get("x-amz-date", "")
    if "host" not in signed or "x-amz-date" not in signed or amz_date[:8] != match["date"]:
        raise Invalid(
            403,
            "IncompleteSignatureException",
            "Authorization must sign host and x-amz-date, dated as the credential.",
        )
    when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if abs((datetime.now(UTC) - when).total_seconds()) > 300:
        raise Invalid(403, "InvalidSignatureException", "Signature expired.")
    token = request.headers.get("x-amz-security-token")
    if token is not None and (token != SESSION_TOKEN or "x-amz-security-token" not in signed):
        raise Invalid(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    if not hmac.compare_digest(expected_signature(request, signed, amz_date), match["signature"]):
        raise Invalid(
            403,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
        )


def expected_signature(request: Received, signed: list[str], amz_date: str) -> str:
    """What botocore computes for the request exactly as received, with the test secret."""
    headers = {name: request.headers.get(name, "") for name in signed}
    url = f"http://{request.headers.get('host', '')}{request.path}"
    aws = AWSRequest(method=request.method, url=url, data=request.body, headers=headers)
    aws.context["timestamp"] = amz_date
    token = request.headers.get("x-amz-security-token")
    signer = SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY, token), "bedrock", REGION)
    return signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)), aws)


# --- request validation -----------------------------------------------------------------


def validate_body(raw: bytes, *, model_id: str, operation: str = "Converse") -> dict:
    """The parsed body (blobs decoded), or Invalid with Bedrock's ValidationException."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise Invalid(400, "SerializationException", f"Malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Invalid(400, "SerializationException", "Body must be a JSON object.")
    if "modelId" in body:
        raise _validation("modelId belongs in the path, not in the body.")
    shape = _SERVICE.operation_model(operation).input_shape
    params = {**_decode(body, shape, ""), "modelId": model_id}
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise _validation(report.generate_report())
    _check_conversation(params)
    if refused := structured.problem(params) or thinking.problem(params):
        raise _validation(refused)
    return params


def _decode(value: object, shape, path: str) -> object:
    """Walk value along its shape: base64 blobs → bytes, enums checked (ParamValidator skips)."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict) and not shape.metadata.get("document"):
        return {
            k: _decode(v, shape.members[k], f"{path}.{k}".lstrip(".")) if k in shape.members else v
            for k, v in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [_decode(v, shape.member, f"{path}.{i + 1}.member") for i, v in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {k: _decode(v, shape.value, f"{path}.{k}") for k, v in value.items()}
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise _validation(f"Value at '{path}' is not valid base64.") from None
    if kind == "string" and shape.enum and value not in shape.enum:
        raise _validation(
            f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(shape.enum)}]"
        )
    return value


def _check_conversation(params: dict) -> None:
    """Rules the service enforces beyond the shape."""
    messages, images, tool_ids = params["messages"], 0, set()
    if not messages or messages[0]["role"] != "user":
        raise _validation("A conversation must start with a user message.")
    for n, message in enumerate(messages):
        if message["role"] not in ("user", "assistant"):
            raise _validation(f"messages.{n}.role must be user or assistant.")
        if n and message["role"] == messages[n - 1]["role"]:
            raise _validation("A conversation must alternate between user and assistant roles.")
        if not message["content"]:
            raise _validation(f"The content field in messages.{n} is empty.")
        for block in message["content"]:
            if "text" in block and not block["text"].strip():
                raise _validation("The text field in the ContentBlock object is blank.")
            if "toolUse" in block:
                tool_ids.add(block["toolUse"]["toolUseId"])
            if "toolResult" in block and block["toolResult"]["toolUseId"] not in tool_ids:
                raise _validation("A toolResult block's toolUseId matches no previous toolUse.")
            if ("toolUse" in block or "toolResult" in block) and "toolConfig" not in params:
                raise _validation(
                    "The toolConfig field must be defined when using toolUse "
                    "and toolResult content blocks."
                )
            if "image" in block:
                images += 1
                _check_image(block["image"])
    if images > 20:
        raise _validation(f"Too many images: {images}; the limit is 20.")
    if problem := documents.bedrock_problem(messages):
        raise _validation(problem)


def _check_image(image: dict) -> None:
    data = image["source"].get("bytes", b"")
    if len(data) > MAX_IMAGE_BYTES:
        raise _validation("The image exceeds the maximum size of 3.75 MB.")
    try:
        with PILImage.open(io.BytesIO(data)) as img:
            actual, size = _PILLOW_FORMATS.get(img.format or ""), img.size
    except Exception:  # noqa: BLE001 - anything Pillow cannot open is not an image
        raise _validation("Unable to process the provided image bytes.") from None
    if actual != image["format"]:
        raise _validation(
            f"The image format {image['format']} does not match the bytes ({actual})."
        )
    if max(size) > 8000:
        raise _validation("The image dimensions exceed 8000 px.")


def _validation(message: str) -> Invalid:
    return Invalid(400, "ValidationException", message)


# --- answers ----------------------------------------------------------------------------


def answer(body: dict) -> dict:
    """A Converse response: says what arrived, or calls a tool for "tools" models."""
    images, docs, last_text, tool_result = 0, 0, "", None
    for message in body["messages"]:
        for block in message["content"]:
            images, docs = images + ("image" in block), docs + ("document" in block)
            if message["role"] == "user" and "text" in block:
                last_text = block["text"]
            if "toolResult" in block:
                tool_result = " ".join(c.get("text", "") for c in block["toolResult"]["content"])
    last = body["messages"][-1]["content"]
    tools = (body.get("toolConfig") or {}).get("tools") or []
    content: list[dict]
    if forced := structured.reply(body, last_text):
        content, stop = forced
    elif "tools" in body["modelId"] and tools and not any("toolResult" in b for b in last):
        spec = tools[0]["toolSpec"]
        properties = spec["inputSchema"]["json"].get("properties") or {}
        tool_input = {name: _sample(prop) for name, prop in properties.items()}
        tool_use = {
            "toolUseId": f"tooluse_{uuid.uuid4().hex[:22]}",
            "name": spec["name"],
            "input": tool_input,
        }
        content, stop = [{"text": "Let me check that."}, {"toolUse": tool_use}], "tool_use"
    elif tool_result is not None and any("toolResult" in b for b in last):
        content, stop = [{"text": f"The tool said: {tool_result}"}], "end_turn"
    else:
        seen = f"{images} image(s)" + (f" and {docs} document(s)" if docs else "")
        content = [{"text": f"I see {seen}. You said: {last_text}"}]
        stop = "end_turn"
    if thinking.thinking_on(body):
        content = [thinking.reasoning_block(last_text), *content]
    words = sum(len(b.get("text", "").split()) for b in content) + 5 * (stop == "tool_use")
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 11, "outputTokens": words, "totalTokens": 11 + words},
        "metrics": {"latencyMs": 412},
    }


def _sample(prop: dict) -> object:
    return {"string": "Paris", "integer": 1, "number": 1.5, "boolean": True}.get(prop.get("type"))


def stream_frames(reply: dict, *, error: bool = False):
    """The ConverseStream events for a Converse reply, as event-stream frames."""
    yield event("messageStart", {"role": "assistant"})
    for index, block in enumerate(reply["output"]["message"]["content"]):
        if "reasoningContent" in block:
            for delta in thinking.stream_deltas(block):
                yield event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta})
        elif "text" in block:
            words = block["text"].split(" ")
            for i, word in enumerate(words):
                piece = word if i == 0 else " " + word
                yield event(
                    "contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}}
                )
                if error and i == 1:
                    yield exception("modelStreamErrorException", "The model stopped unexpectedly.")
                    return
        else:
            use = block["toolUse"]
            start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
            yield event("contentBlockStart", {"contentBlockIndex": index, "start": start})
            arguments = json.dumps(use["input"])
            for piece in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]):
                delta = {"toolUse": {"input": piece}}
                yield event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta})
        yield event("contentBlockStop", {"contentBlockIndex": index})
    yield event("messageStop", {"stopReason": reply["stopReason"]})
    yield event("metadata", {"usage": reply["usage"], "metrics": reply["metrics"]})


def event(name: str, data: dict) -> bytes:
    padded = {**data, "p": _PADDING[: 1 + len(_json(data)) % len(_PADDING)]}
    headers = {":event-type": name, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, _json(padded))


def exception(name: str, message: str) -> bytes:
    headers = {
        ":exception-type": name,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return frame(headers, _json({"message": message}))


def _json(data: dict) -> bytes:
    """Compact UTF-8 JSON, as AWS writes it."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (lengths + CRC), string headers, payload, CRC."""
    head = b""
    for name, value in headers.items():
        raw = value.encode()
        head += struct.pack(">B", len(name)) + name.encode() + b"\x07"  # 7 = string header
        head += struct.pack(">H", len(raw)) + raw
    prelude = struct.pack(">II", 12 + len(head) + len(payload) + 4, len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return message + struct.pack(">I", zlib.crc32(message))
