"""A fake Azure OpenAI upstream that checks each request the way Azure does.

Requests must use /openai/deployments/{deployment}/chat/completions (so a custom host is
FakeServer.url + "/openai") with a published `api-version` query parameter, or the v1 API's
/openai/v1/chat/completions with none (the body's model names the deployment), and either the
`api-key` header (API_KEY) or `Authorization: Bearer ENTRA_TOKEN`. The body is OpenAI's, so it
is checked with tests/fakes/schema.py against the openai SDK's CompletionCreateParams
TypedDicts, and every data-URI image must really be a PNG, JPEG, GIF or WEBP. Failures answer
Azure's own shapes: {"error": {"code", "message"}} for 401/404, OpenAI's for invalid bodies,
API Management's {"statusCode", "message"} for a bad bearer token.

Behaviour: DEPLOYMENTS maps deployment names to models; any other name is DeploymentNotFound.
A prompt containing FILTER_PROMPT gets the content filter's 400; one containing FILTER_OUTPUT
ends with finish_reason "content_filter"; a request with tools calls the first tool (until a
tool result comes back); anything else answers how many images it saw and the last user text.
Answers carry prompt_filter_results and per-choice content_filter_results, and streams open
with Azure's filter-only chunk (id, model and object all "").
Structured outputs are answered and refused as tests/fakes/openai.py does (JSON text that
matches the schema); json_schema needs api-version 2024-08-01-preview or later (or the v1
API), else Azure's 400 "response_format value as json_schema is enabled only for api versions
2024-08-01-preview and later" (code BadRequest, as reported in langgenius/dify#8994).

Images: /openai/deployments/{deployment}/images/generations|edits?api-version=… (edits and GPT
image models need 2025-04-01-preview) or /openai/v1/images/… (the body's model names the
deployment). IMAGE_DEPLOYMENTS serve images; a chat deployment answers OperationNotSupported.
Bodies (JSON, or multipart for edits, read with the email package) are checked and answered by
tests/fakes/openai_images.py against the SDK's ImageGenerateParams / ImageEditParams; Azure
adds content_filter_results to each image. FILTER_PROMPT in a prompt gets the filter's 400.
"""

import base64
import binascii
import io
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from openai.types.chat import completion_create_params as params
from PIL import Image as PILImage

from tests.fakes import openai_images
from tests.fakes.openai import (
    completion,
    reply_text,
    response_format_problem,
    serve_image,
    stream_chunks,
    structured_reply,
)
from tests.fakes.schema import SchemaError, check
from tests.fakes.server import Received, Reply

API_KEY = "0123456789abcdef0123456789abcdef"  # Azure keys are 32 hex digits
ENTRA_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake-entra-token.signature"
DEPLOYMENTS = {"gpt-4o": "gpt-4o-2024-08-06", "vision-prod": "gpt-4o-mini-2024-07-18"}
API_VERSIONS = {"2024-02-01", "2024-06-01", "2024-10-21", "2025-04-01-preview"}
JSON_SCHEMA_VERSIONS = {"2024-10-21", "2025-04-01-preview", "v1"}  # 2024-08-01-preview on
# Image deployments, named after their models as Azure's portal suggests. Edits and GPT image
# models need a preview API version (2025-04-01-preview or later); dall-e-3 generations are
# served from the GA versions on.
IMAGE_DEPLOYMENTS = {"gpt-image-1": "gpt-image-1", "dall-e-3": "dall-e-3"}
IMAGE_PREVIEW_VERSIONS = {"2025-04-01-preview"}
FILTER_PROMPT = "trigger-the-prompt-filter"
FILTER_OUTPUT = "trigger-the-output-filter"

ERRORS = json.loads((Path(__file__).parents[1] / "data" / "azure" / "errors.json").read_text())
_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/chat/completions$")
_IMAGE_PATH = re.compile(
    r"^/openai/(?:deployments/(?P<deployment>[^/]+)|v1)/images/(?P<operation>generations|edits)$"
)
_DATA_URI = re.compile(r"^data:image/(?P<kind>png|jpeg|gif|webp);base64,(?P<data>.*)$", re.S)
_SAFE = {"filtered": False, "severity": "safe"}
PROMPT_FILTER = [
    {
        "prompt_index": 0,
        "content_filter_results": {
            "hate": _SAFE,
            "jailbreak": {"filtered": False, "detected": False},
            "self_harm": _SAFE,
            "sexual": _SAFE,
            "violence": _SAFE,
        },
    }
]
CHOICE_FILTER = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
OUTPUT_FILTERED = {**CHOICE_FILTER, "violence": {"filtered": True, "severity": "high"}}


class Refused(Exception):
    """A request Azure would refuse, with the reply it would send."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply


def handle(request: Received) -> Reply:
    if request.method == "GET":
        if request.path.startswith("/generated/"):
            return openai_images.serve_generated(request.path)
        return serve_image(request.path)
    if "/images/" in urlsplit(request.path).path:
        return images(request)
    try:
        model, body = validate(request)
    except Refused as refused:
        return refused.reply
    if refused := _structured_refusal(request, body):
        return refused
    text = structured_reply(body) or reply_text(body)
    if FILTER_PROMPT in text:
        return _canned("content_filter")
    stream = bool(body.get("stream"))
    finish = "content_filter" if FILTER_OUTPUT in text else "stop"
    tool = _tool_to_call(body)
    if not stream:
        return Reply.json(200, answer(model, text, finish=finish, tool=tool))
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    chunks = stream_events(model, text, include_usage, finish=finish, tool=tool)
    return Reply(200, headers={"content-type": "text/event-stream"}, chunks=chunks)


def validate(request: Received) -> tuple[str, dict]:
    """(the deployment's model, the body), or Refused with Azure's answer."""
    url = urlsplit(request.path)
    match = _PATH.match(url.path)
    versions = parse_qs(url.query).get("api-version", [])
    v1 = url.path == "/openai/v1/chat/completions"
    if v1 and versions:  # the v1 API takes no dated version (only "preview")
        raise Refused(_canned("resource_not_found"))
    if not v1 and (not match or len(versions) != 1 or versions[0] not in API_VERSIONS):
        raise Refused(_canned("resource_not_found"))
    authorization = request.headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        if authorization != f"Bearer {ENTRA_TOKEN}":
            raise Refused(_canned("invalid_token"))
    elif request.headers.get("api-key") != API_KEY:
        raise Refused(_canned("invalid_key"))
    if not v1 and match["deployment"] not in DEPLOYMENTS:
        raise Refused(_canned("deployment_not_found"))
    try:
        body = json.loads(request.body)
        check(
            body,
            params.CompletionCreateParamsStreaming
            if body.get("stream")
            else params.CompletionCreateParamsNonStreaming,
        )
        _check_images(body)
    except (ValueError, SchemaError) as exc:
        raise Refused(_invalid(f"Invalid request: {exc}")) from None
    deployment = body["model"] if v1 else match["deployment"]
    if v1 and deployment not in DEPLOYMENTS:
        raise Refused(_canned("deployment_not_found"))
    return DEPLOYMENTS[deployment], body


def _structured_refusal(request: Received, body: dict) -> Reply | None:
    fmt = body.get("response_format") or {}
    version = (parse_qs(urlsplit(request.path).query).get("api-version") or ["v1"])[0]
    if fmt.get("type") == "json_schema" and version not in JSON_SCHEMA_VERSIONS:
        message = (
            "response_format value as json_schema is enabled only for api versions "
            "2024-08-01-preview and later"
        )
        error = {"message": message, "type": "", "param": "", "code": "BadRequest"}
        return Reply.json(400, {"error": error})
    if problem := response_format_problem(body):
        return _invalid(*problem)
    return None


def _check_images(body: dict) -> None:
    for i, message in enumerate(body["messages"]):
        content = message.get("content")
        for j, part in enumerate(content if isinstance(content, list) else []):
            url = part["image_url"]["url"] if part.get("type") == "image_url" else None
            if url is None or url.startswith(("https://", "http://")):
                continue
            where = f"messages[{i}].content[{j}].image_url.url"
            if not (match := _DATA_URI.match(url)):
                raise ValueError(f"{where} is not an http(s) URL or a png/jpeg/gif/webp data URI")
            try:
                data = base64.b64decode(match["data"], validate=True)
                kind = PILImage.open(io.BytesIO(data)).format
            except (binascii.Error, OSError):
                raise ValueError(f"{where}: the data URI is not a readable image") from None
            if kind.lower() != match["kind"]:
                raise ValueError(f"{where}: declared image/{match['kind']}, bytes are {kind}")


def _tool_to_call(body: dict) -> dict | None:
    if not body.get("tools") or body["messages"][-1].get("role") == "tool":
        return None
    return body["tools"][0]["function"]


def answer(model: str, text: str, *, finish: str = "stop", tool: dict | None = None) -> dict:
    """An Azure chat.completion: OpenAI's, plus the content filter's results."""
    out = completion(model, text)
    out.update(
        id="chatcmpl-AXazure", system_fingerprint="fp_azure", prompt_filter_results=(PROMPT_FILTER)
    )
    choice = out["choices"][0]
    choice["content_filter_results"] = OUTPUT_FILTERED if finish != "stop" else CHOICE_FILTER
    choice["finish_reason"] = finish
    if finish == "content_filter":
        choice["message"]["content"] = None
    if tool:
        choice.update(finish_reason="tool_calls", content_filter_results={})
        choice["message"].update(content=None, tool_calls=[_call(tool["name"])])
    return out


def _call(name: str) -> dict:
    return {
        "id": "call_fakeazure1",
        "type": "function",
        "function": {"name": name, "arguments": ARGS},
    }


ARGS = json.dumps({"label": "cat", "box": [40, 110, 300, 420]})


def stream_events(
    model: str, text: str, include_usage: bool, *, finish: str = "stop", tool: dict | None = None
):
    """Azure's SSE: the filter-only opening chunk, then OpenAI's chunks with filter results."""
    yield _event(
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": PROMPT_FILTER,
        }
    )
    for raw in stream_chunks(model, ARGS if tool else text, include_usage):
        if not raw.startswith(b"data: {"):
            yield raw  # data: [DONE]
            continue
        chunk = json.loads(raw.removeprefix(b"data: "))
        chunk.update(id="chatcmpl-AXazure", system_fingerprint="fp_azure", usage=chunk.get("usage"))
        for choice in chunk["choices"]:
            delta = choice["delta"]
            choice["content_filter_results"] = CHOICE_FILTER if delta.get("content") else {}
            if tool and delta.get("role"):
                call = {**_call(tool["name"]), "index": 0}
                delta.update(
                    content=None,
                    tool_calls=[{**call, "function": {"name": tool["name"], "arguments": ""}}],
                )
            elif tool and "content" in delta:
                arguments = delta.pop("content")
                delta["tool_calls"] = [{"index": 0, "function": {"arguments": arguments}}]
            if choice["finish_reason"]:
                choice["finish_reason"] = "tool_calls" if tool else finish
                if finish == "content_filter":
                    choice["content_filter_results"] = OUTPUT_FILTERED
        yield _event(chunk)


def _event(data: dict) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def _canned(name: str) -> Reply:
    return Reply.json(ERRORS[name]["status"], ERRORS[name]["body"], **{"apim-request-id": "fake"})


def _invalid(message: str, param: str | None = None) -> Reply:
    return Reply.json(
        400,
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": None,
            }
        },
    )


def images(request: Received) -> Reply:
    """The Images API at a deployment (or the v1 API): Azure's routing, versions and keys,
    then OpenAI's own checks and answers (tests/fakes/openai_images.py), plus the content
    filter's results on each image, as Azure adds them."""
    url = urlsplit(request.path)
    match = _IMAGE_PATH.match(url.path)
    versions = parse_qs(url.query).get("api-version", [])
    if not match or (match["deployment"] is None) == bool(versions) or len(versions) > 1:
        return _canned("resource_not_found")  # v1 takes no version; deployments need one
    version = versions[0] if versions else "v1"
    if version != "v1" and version not in API_VERSIONS:
        return _canned("resource_not_found")
    if match["operation"] == "edits" and version not in IMAGE_PREVIEW_VERSIONS | {"v1"}:
        return _canned("resource_not_found")  # edits arrived with 2025-04-01-preview
    if refused := _auth_refusal(request):
        return refused
    try:
        fields = _image_fields(request)
    except openai_images.Invalid as exc:
        return _invalid(str(exc))
    deployment = match["deployment"] or str(fields.get("model") or "")
    model = IMAGE_DEPLOYMENTS.get(deployment) or DEPLOYMENTS.get(deployment)
    if model is None:
        return _canned("deployment_not_found")
    if deployment not in IMAGE_DEPLOYMENTS:
        operation = "imagesGenerations" if match["operation"] == "generations" else "imagesEdits"
        message = f"The {operation} operation does not work with the specified model, {model}."
        return Reply.json(400, {"error": {"code": "OperationNotSupported", "message": message}})
    if model.startswith("gpt-image") and version not in IMAGE_PREVIEW_VERSIONS | {"v1"}:
        return _invalid(
            f"Model {model} is enabled only for api versions 2025-04-01-preview and later"
        )
    if FILTER_PROMPT in str(fields.get("prompt") or ""):
        return _canned("content_filter")
    # OpenAI's checks see the path as OpenAI would (no api-version query).
    bare = Received(request.method, url.path, request.headers, request.body)
    reply = openai_images.handle(bare, f"http://{request.headers.get('host', '127.0.0.1')}")
    if reply.status != 200 or reply.chunks is not None:
        return reply
    answer = json.loads(reply.body)
    for item in answer.get("data") or ():
        item["content_filter_results"] = CHOICE_FILTER
    answer["prompt_filter_results"] = PROMPT_FILTER  # not in OpenAI's ImagesResponse
    return Reply.json(200, answer, **{"apim-request-id": "fake"})


def _auth_refusal(request: Received) -> Reply | None:
    authorization = request.headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        return None if authorization == f"Bearer {ENTRA_TOKEN}" else _canned("invalid_token")
    return None if request.headers.get("api-key") == API_KEY else _canned("invalid_key")


def _image_fields(request: Received) -> dict:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return openai_images.parse_multipart(request)[0]
    try:
        body = json.loads(request.body)
    except ValueError:
        raise openai_images.Invalid("We could not parse the JSON body of your request.") from None
    return body if isinstance(body, dict) else {}
