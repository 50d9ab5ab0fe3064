"""A fake Gemini API upstream: checks each body against `google-genai`'s strict pydantic models.

POST /v1beta/models/{model}:generateContent, and :streamGenerateContent?alt=sse (CRLF-framed
SSE, as Google sends it). The key must come in `x-goog-api-key`; "bad-key" is refused the way
Google refuses an invalid key. Failures answer Google's own {"error": {code, message, status}}.

Behaviour by model name: "fail-429" answers RESOURCE_EXHAUSTED, "blocked" a prompt blocked for
SAFETY, "die" breaks the stream after two fragments, "slow" sleeps 3 s (past Iris's test
timeout), "thinking" adds a thought part (so does thinkingConfig.includeThoughts, checked in
tests/fakes/gemini_thinking.py), and
"gemini-3-*" refuses a replayed functionCall without its thoughtSignature (as Gemini 3 does).
A part's own media_resolution is taken on "gemini-3*" models only ("exclusive to Gemini 3
models", https://ai.google.dev/gemini-api/docs/media-resolution, read 2026-11-26); its level,
and generationConfig.mediaResolution, must be google-genai's enum values (no ULTRA_HIGH in
generationConfig: "per part only").
When tools are declared and the last turn is no function response, the model calls the first
function; otherwise it answers with how many images it saw (and PDFs, when there are some:
application/pdf inline data, checked to be a PDF of at most 1000 pages) and the last user text.
Under generationConfig.responseMimeType application/json it answers JSON text instead: a
value of responseJsonSchema (or the OpenAPI-style responseSchema), else {"answer": ...}.

Image output: a model named `*image*` (gemini-2.5-flash-image…) answers a text part and a
real PNG made with Pillow (its shape from imageConfig.aspectRatio), unless responseModalities
asks for text only; a text model asked for IMAGE output is refused, as Google does.
responseLogprobs adds each candidate's logprobsResult (tests/fakes/gemini_params.py).
`imagen-*` models answer POST …:predict (see tests/fakes/gemini_imagen.py).
"""

import base64
import enum
import json
import re
import time
import types as pytypes
import typing
from urllib.parse import unquote

import pydantic
from google.genai import types

from tests.fakes import documents
from tests.fakes import gemini_imagen as imagen
from tests.fakes import gemini_params as params
from tests.fakes import gemini_thinking as thinking
from tests.fakes.json_schema import instance, ref_problem
from tests.fakes.server import Received, Reply

PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:?]+):(?P<method>\w+)(?:\?(?P<query>.*))?$")
IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}
PDF = "application/pdf"
MAX_PDF_PAGES = 1000  # https://ai.google.dev/gemini-api/docs/document-processing
SIGNATURE = "ZmFrZS10aG91Z2h0LXNpZ25hdHVyZQ=="  # base64, like Google's opaque signatures
# The REST GenerateContentRequest fields besides the model (which is in the path).
FIELDS = {
    "contents": list[types.Content],
    "systemInstruction": types.Content,
    "generationConfig": types.GenerationConfig,
    "tools": list[types.Tool],
    "toolConfig": types.ToolConfig,
    "safetySettings": list[types.SafetySetting],
    "cachedContent": str,
    "serviceTier": types.ServiceTier,
}
# Part fields that hold data: the API takes exactly one of them per part (a proto oneof).
DATA_FIELDS = (
    "text",
    "inline_data",
    "file_data",
    "function_call",
    "function_response",
    "executable_code",
    "code_execution_result",
)


class Invalid(ValueError):
    pass


def handle(request: Received) -> Reply:
    match = PATH.match(request.path)
    if request.method != "POST" or not match:
        return error(404, f"Unknown path {request.path}", "NOT_FOUND")
    model, method, query = unquote(match["model"]), match["method"], match["query"] or ""
    if method == "predict" and model.startswith("imagen-"):
        if denied := key_refused(request):
            return denied
        return imagen.handle(request, model)
    if method not in ("generateContent", "streamGenerateContent"):
        return error(404, f"Method {method} is not found.", "NOT_FOUND")
    stream = method == "streamGenerateContent"
    if stream and "alt=sse" not in query.split("&"):
        return error(400, "This fake streams only with alt=sse.", "INVALID_ARGUMENT")
    if denied := key_refused(request):
        return denied
    try:
        body = validate(request.json(), model)
    except (ValueError, Invalid) as exc:
        return error(400, f"Invalid JSON payload received. {exc}", "INVALID_ARGUMENT")
    if model == "slow":
        time.sleep(3)
    if model == "fail-429":
        return error(429, "You exceeded your current quota.", "RESOURCE_EXHAUSTED")
    if model == "blocked":
        data = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage(body, "")}
        if stream:
            return Reply(200, headers=SSE, chunks=[event(data)])
        return Reply.json(200, data)
    count = (body.get("generationConfig") or {}).get("candidateCount") or 1
    if not stream:
        return Reply.json(200, response(model, body, count))
    return Reply(200, headers=SSE, chunks=fragments(model, body, count), die=model == "die")


SSE = {"content-type": "text/event-stream"}


def key_refused(request: Received) -> Reply | None:
    key = request.headers.get("x-goog-api-key")
    if not key:
        return error(
            403,
            "Method doesn't allow unregistered callers (callers without established identity)."
            " Please use API Key or other form of API consumer identity to call this API.",
            "PERMISSION_DENIED",
        )
    if key == "bad-key":
        return error(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT")
    return None


def validate(body: object, model: str) -> dict:
    """Refuse what the Gemini API refuses: unknown fields, wrong types, bad enums and roles."""
    if not isinstance(body, dict):
        raise Invalid("The body must be a JSON object.")
    for key in body:
        if _camel(key) not in FIELDS:
            raise Invalid(f'Unknown name "{key}": Cannot find field.')
    values = {_camel(key): value for key, value in body.items()}
    config = dict(values.get("generationConfig") or {})
    image_config = config.pop("imageConfig", config.pop("image_config", None))
    if "generationConfig" in values:
        values["generationConfig"] = config
    for name, value in values.items():
        try:
            pydantic.TypeAdapter(FIELDS[name]).validate_json(json.dumps(value))
        except pydantic.ValidationError as exc:
            raise Invalid(f"{name}: {exc}") from None
        check_enums(value, FIELDS[name], name)
    if not values.get("contents"):
        raise Invalid("* GenerateContentRequest.contents: contents is not specified")
    for i, content in enumerate(values["contents"]):
        check_content(content, f"contents[{i}]", model)
    system = values.get("systemInstruction")
    if system and not all(set(part) == {"text"} for part in system.get("parts") or [{}]):
        raise Invalid("systemInstruction: parts must be text.")
    check_config(values.get("generationConfig") or {})
    config_values = values.get("generationConfig") or {}
    if refused := thinking.problem(model, config_values) or params.problem(config_values):
        raise Invalid(refused)
    check_image_output(model, config, image_config)
    if image_config is not None:
        values["generationConfig"]["imageConfig"] = image_config
    for i, tool in enumerate(values.get("tools") or []):
        for j, declaration in enumerate(_get(tool, "functionDeclarations") or []):
            where = f"tools[{i}].functionDeclarations[{j}]"
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}", declaration.get("name", "")):
                raise Invalid(f"{where}.name: invalid function name.")
            if "parameters" in declaration and _get(declaration, "parametersJsonSchema"):
                raise Invalid(f"{where}: parameters and parametersJsonSchema are exclusive.")
    return values


def check_content(content: dict, where: str, model: str) -> None:
    role = content.get("role")
    if role not in ("user", "model"):
        raise Invalid(f"{where}.role: Please use a valid role: user, model.")
    parts = content.get("parts") or []
    if not parts:
        raise Invalid(f"{where}.parts: must not be empty.")
    for j, raw in enumerate(parts):
        part = types.Part.model_validate_json(json.dumps(raw))
        held = [name for name in DATA_FIELDS if getattr(part, name) is not None]
        if len(held) != 1:
            raise Invalid(f"{where}.parts[{j}]: a part holds exactly one kind of data: {held}")
        if part.inline_data and part.inline_data.mime_type not in IMAGE_TYPES | {PDF}:
            raise Invalid(f"Unsupported MIME type: {part.inline_data.mime_type}")
        if part.media_resolution and not model.startswith("gemini-3"):
            raise Invalid(f"{where}.parts[{j}].media_resolution: only Gemini 3 takes it per part.")
        if part.inline_data and not part.inline_data.data:
            raise Invalid(f"{where}.parts[{j}].inline_data.data: must not be empty.")
        pdf = part.inline_data and part.inline_data.mime_type == PDF
        if pdf and (problem := documents.pdf_problem(part.inline_data.data, MAX_PDF_PAGES)):
            raise Invalid(f"{where}.parts[{j}]: {problem}")
        if part.function_call and role != "model":
            raise Invalid(f"{where}.parts[{j}]: functionCall parts belong to the model role.")
        if part.function_response and role != "user":
            raise Invalid(f"{where}.parts[{j}]: functionResponse parts belong to the user role.")
        if part.function_response and not isinstance(part.function_response.response, dict):
            raise Invalid(f"{where}.parts[{j}].functionResponse.response: must be an object.")
        missing = part.function_call and not part.thought_signature
        if missing and model.startswith("gemini-3") and j == _first_call(parts):
            raise Invalid(
                "Function call is missing a thought_signature in functionCall parts. "
                f"Additional data, function call `{part.function_call.name}`, position {j}."
            )


def check_config(config: dict) -> None:
    if _get(config, "responseSchema") is not None and _get(config, "responseJsonSchema"):
        raise Invalid("generationConfig: responseSchema and responseJsonSchema are exclusive.")
    schema = _get(config, "responseJsonSchema") or _get(config, "responseSchema")
    if schema and _get(config, "responseMimeType") != "application/json":
        raise Invalid("generationConfig: a response schema needs responseMimeType JSON.")
    if problem := ref_problem(_get(config, "responseJsonSchema")):
        raise Invalid(f"generationConfig.responseJsonSchema: {problem}")


def answer_text(body: dict) -> str:
    """What the model says: JSON when asked for it (see the module docstring), else text."""
    text, config = reply_text(body), body.get("generationConfig") or {}
    if _get(config, "responseMimeType") != "application/json":
        return text
    said = text.split("You said: ", 1)[1]
    schema = _get(config, "responseJsonSchema") or _get(config, "responseSchema")
    return json.dumps(instance(schema, said) if schema else {"answer": said})


# ImageConfig fields the Gemini API refuses (google-genai's _ImageConfig_to_mldev raises for
# them: "only supported in Gemini Enterprise Agent Platform mode").
VERTEX_ONLY_IMAGE_CONFIG = (
    "personGeneration",
    "prominentPeople",
    "outputMimeType",
    "outputCompressionQuality",
    "imageOutputOptions",
)
IMAGE_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


def check_image_output(model: str, config: dict, image_config: dict | None) -> None:
    modalities = _get(config, "responseModalities") or []
    if "IMAGE" in modalities and "image" not in model:
        raise Invalid("Model does not support the requested response modalities: image")
    if image_config is None:
        return
    try:
        types.ImageConfig.model_validate_json(json.dumps(image_config))
    except pydantic.ValidationError as exc:
        raise Invalid(f"generationConfig.imageConfig: {exc}") from None
    for name in VERTEX_ONLY_IMAGE_CONFIG:
        if _get(image_config, name) is not None:
            raise Invalid(f'generationConfig.imageConfig: Unknown name "{name}".')
    ratio, size = _get(image_config, "aspectRatio"), _get(image_config, "imageSize")
    if ratio is not None and ratio not in IMAGE_RATIOS:
        raise Invalid(f"generationConfig.imageConfig.aspectRatio: {ratio!r} is not supported.")
    if size is not None and (size not in ("1K", "2K", "4K") or "gemini-3" not in model):
        raise Invalid(f"generationConfig.imageConfig.imageSize: {size!r} is not supported.")


def makes_images(model: str, body: dict) -> bool:
    modalities = _get(body.get("generationConfig") or {}, "responseModalities")
    return "image" in model and modalities != ["TEXT"]


def image_part(body: dict) -> dict:
    """A real PNG in the shape the request asked for (64 px high)."""
    ratio = _get(_get(body.get("generationConfig") or {}, "imageConfig") or {}, "aspectRatio")
    w, h = (int(x) for x in (ratio or "1:1").split(":"))
    data = imagen.png(round(64 * w / h), 64, (40, 120, 200))
    return {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(data).decode()}}


IMAGE_TOKENS = 1290  # what Gemini 2.5 Flash Image bills for an image up to 1024x1024


def check_enums(value: object, annotation: object, where: str) -> None:
    """google-genai's enums accept any string with a warning; the API refuses them: walk."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, pytypes.UnionType):
        for option in args:
            if option is not type(None):
                check_enums(value, option, where)
    elif origin is list and isinstance(value, list):
        for i, item in enumerate(value):
            check_enums(item, args[0], f"{where}[{i}]")
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        if isinstance(value, str) and value not in {m.value for m in annotation}:
            raise Invalid(f'{where}: invalid value "{value}" for enum {annotation.__name__}.')
    elif isinstance(value, dict) and _is_model(annotation):
        fields = {
            key: field
            for name, field in annotation.model_fields.items()
            for key in (name, field.alias or name)
        }
        for key, item in value.items():
            if key in fields:
                check_enums(item, fields[key].annotation, f"{where}.{key}")


def reply_text(body: dict) -> str:
    images, documents, last_text = 0, 0, ""
    for content in body["contents"]:
        for part in content["parts"]:
            if is_pdf(part):
                documents += 1
            elif _get(part, "inlineData"):
                images += 1
            elif "text" in part and content["role"] == "user":
                last_text = part["text"]
            elif response := _get(part, "functionResponse"):
                last_text = f"tool {response['name']} returned {json.dumps(response['response'])}"
    seen = f"{images} image(s)" + (f" and {documents} document(s)" if documents else "")
    return f"I see {seen}. You said: {last_text}"


def is_pdf(part: dict) -> bool:
    blob = _get(part, "inlineData") or {}
    return _get(blob, "mimeType") == PDF


def function_call(body: dict) -> dict | None:
    """The first declared function, called unless the last turn already answers a call."""
    declarations = [d for t in body.get("tools") or [] for d in _get(t, "functionDeclarations")]
    last = body["contents"][-1]["parts"]
    if not declarations or any(_get(part, "functionResponse") for part in last):
        return None
    text = next((part["text"] for part in reversed(last) if "text" in part), "")
    return {"name": declarations[0]["name"], "args": {"query": text}}


def usage(body: dict, text: str, thoughts: int = 0, picture: bool = False) -> dict:
    parts = [p for c in body["contents"] for p in c["parts"]]
    images = sum(1 for p in parts if _get(p, "inlineData") and not is_pdf(p))
    prompt, output = 11 + 258 * images, len(text.split())
    made = IMAGE_TOKENS if picture else 0
    out = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output + made,
        "totalTokenCount": prompt + output + made + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 11}],
    }
    if images:
        out["promptTokensDetails"].append({"modality": "IMAGE", "tokenCount": 258 * images})
    if picture:
        out["candidatesTokensDetails"] = [
            {"modality": "TEXT", "tokenCount": output},
            {"modality": "IMAGE", "tokenCount": made},
        ]
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    return out


def response(model: str, body: dict, count: int) -> dict:
    call, text = function_call(body), answer_text(body)
    parts: list[dict] = [{"text": "Let me look.", "thought": True}] if model == "thinking" else []
    parts += thinking.thought_parts(body)
    if call:
        parts.append({"functionCall": call, "thoughtSignature": SIGNATURE})
    else:
        parts.append({"text": text})
    picture = makes_images(model, body)
    if picture:
        parts.append(image_part(body))
    candidates = [
        {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": i}
        for i in range(count)
    ]
    for candidate in candidates:
        params.add_logprobs(candidate, body.get("generationConfig") or {})
    meta = usage(body, "" if call else text, 7 if model == "thinking" else 0, picture)
    return {
        "candidates": candidates,
        "usageMetadata": meta,
        "modelVersion": model,
        "responseId": "fake-response-id",
    }


def fragments(model: str, body: dict, count: int):
    call, text = function_call(body), answer_text(body)
    base = {"modelVersion": model, "responseId": "fake-response-id"}
    picture = makes_images(model, body)
    final = usage(body, "" if call else text, picture=picture)
    partial = {k: v for k, v in final.items() if k != "candidatesTokenCount"}
    partial["totalTokenCount"] = final["promptTokenCount"]
    pieces: list[dict] = (
        [{"functionCall": call, "thoughtSignature": SIGNATURE}]
        if call
        else [{"text": w if i == 0 else " " + w} for i, w in enumerate(text.split(" "))]
    )
    pieces = thinking.thought_parts(body) + pieces  # thoughts come first
    if picture:  # the picture arrives whole, in a fragment of its own, after the text
        pieces.append(image_part(body))
    for n, part in enumerate(pieces):
        if model == "die" and n == 2:
            return
        last = n == len(pieces) - 1
        candidates = []
        for i in range(count):
            candidate = {"content": {"role": "model", "parts": [part]}, "index": i}
            if last:
                candidate["finishReason"] = "STOP"
            params.add_logprobs(candidate, body.get("generationConfig") or {})
            candidates.append(candidate)
        yield event({"candidates": candidates, "usageMetadata": final if last else partial} | base)


def event(data: dict) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\r\n\r\n"


def error(status: int, message: str, name: str) -> Reply:
    return Reply.json(status, {"error": {"code": status, "message": message, "status": name}})


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word.title() for word in rest)


def _get(data: dict, camel: str) -> typing.Any:
    """A field as either spelling: the API takes camelCase and snake_case names."""
    snake = re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()
    return data.get(camel, data.get(snake))


def _is_model(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)


def _first_call(parts: list[dict]) -> int:
    return next(j for j, part in enumerate(parts) if _get(part, "functionCall"))
