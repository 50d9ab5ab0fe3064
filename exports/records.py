"""One request log record as one line of a dataset's data.jsonl.

Every image is named by its file in the zip, `images/<sha256>.<ext>`, never by bytes or URL
(a URL image without a kept copy keeps its URL: there is no file to name). The shape is fixed
so that Hugging Face `datasets` reads every line with one schema: each message's content is a
list of parts; values that are any JSON a client sent (feedback metadata, the request's
other parameters) are JSON text. `images_file_names` and `output_images_file_names` are the columns
`datasets`' imagefolder loader types as lists of images (see README, "Datasets").
"""

import json
from collections.abc import Iterable

from gateway.models import LogImage, RequestLog
from gateway.pricing import decimal_str

INPUT_ROLES = ("input", "mask")
EXPORTED_ROLES = ("input", "mask", "output")  # a stream's partial images are left out
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
    "image/avif": "avif",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/svg+xml": "svg",
    "application/pdf": "pdf",
}
# What `datasets`' Image feature (Pillow) opens: only these go in the file_names columns.
DECODABLE = {"png", "jpg", "gif", "webp", "bmp", "tiff"}
_BLOB_REF = "iris-blob:"


def file_name(sha256: str, mime: str) -> str:
    return f"images/{sha256}.{EXTENSIONS.get(mime, 'bin')}"


def record_line(log: RequestLog, images: Iterable[LogImage], feedback: list[dict]) -> dict:
    """The record as data.jsonl has it. `images`: its LogImage rows with their blobs;
    `feedback`: feedback.query.as_dict of each of its feedback, oldest first."""
    images = [i for i in images if i.role in EXPORTED_ROLES]
    names = {i.blob_id: file_name(i.blob_id, i.blob.mime) for i in images if i.blob_id}
    inputs = [i for i in images if i.role in INPUT_ROLES]
    outputs = sorted((i for i in images if i.role == "output"), key=_place)
    body = log.request_body if isinstance(log.request_body, dict) else {}
    placed = {(i.message_index, i.part_index): names[i.blob_id] for i in inputs if i.blob_id}
    messages = _messages(log.endpoint, body, placed, inputs, names)
    output_names = [names[i.blob_id] for i in outputs if i.blob_id]
    labels: list[str] = []
    for fb in feedback:
        labels += [label for label in fb.get("labels") or () if label not in labels]
    return {
        "id": log.id,
        "request_id": log.request_id,
        "created_at": log.created_at.isoformat(),
        "provider": log.provider,
        "model": log.model,
        "endpoint": log.endpoint,
        "trace_id": log.trace_id,
        "messages": messages,
        "parameters": _json_text(_parameters(log.endpoint, body)),
        "images_file_names": _decodable(names[i.blob_id] for i in inputs if i.blob_id),
        "output": _output(log.response_body, output_names),
        "output_images_file_names": _decodable(output_names),
        "labels": labels,
        "feedback": [{**fb, "metadata": _json_text(fb.get("metadata"))} for fb in feedback],
        "metadata": {str(k): str(v) for k, v in (log.metadata or {}).items()},
        "status": log.status_code,
        "error": log.error_message or log.error_type or None,
        "usage": {
            "prompt_tokens": log.prompt_tokens,
            "completion_tokens": log.completion_tokens,
            "total_tokens": log.total_tokens,
        },
        "cost_usd": decimal_str(log.cost_usd),
    }


def image_shas(images: Iterable[LogImage]) -> set[str]:
    """The blobs a record's line names (what images/ must hold for it)."""
    return {i.blob_id for i in images if i.blob_id and i.role in EXPORTED_ROLES}


def _place(image: LogImage) -> tuple[int, int]:
    return image.message_index, image.part_index


def _decodable(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if name.rsplit(".", 1)[-1] in DECODABLE and name not in out:
            out.append(name)
    return out


def _json_text(value: object) -> str | None:
    return None if value in (None, {}, []) else json.dumps(value, ensure_ascii=False)


def _parameters(endpoint: str, body: dict) -> dict:
    skip = {"messages", "input", "instructions", "prompt", "image", "images", "mask", "model"}
    return {k: v for k, v in body.items() if k not in skip}


def _messages(
    endpoint: str, body: dict, placed: dict, inputs: list[LogImage], names: dict
) -> list[dict]:
    if isinstance(body.get("messages"), list):
        return [_message(m, i, placed, names) for i, m in enumerate(body["messages"])]
    if endpoint == "responses":
        return _responses_messages(body, placed, names)
    if endpoint.startswith("images.") or "prompt" in body:
        parts = [_text(body.get("prompt"))] if body.get("prompt") else []
        for image in inputs:
            ref = names.get(image.blob_id) or image.url or None
            part = {"type": "image_url", "image_url": {"url": ref}}
            if image.role == "mask":
                part["mask"] = True
            parts.append(part)
        return [{"role": "user", "content": parts}] if parts else []
    return []


def _message(message: object, index: int, placed: dict, names: dict) -> dict:
    if not isinstance(message, dict):
        return {"role": "user", "content": [_text(json.dumps(message))]}
    out = {k: v for k, v in message.items() if k != "content"}
    content = message.get("content")
    if isinstance(content, list):
        out["content"] = [_part(p, placed.get((index, n)), names) for n, p in enumerate(content)]
    else:
        out["content"] = [_text(content)] if content not in (None, "") else []
    if "tool_calls" in out:
        out["tool_calls"] = _tool_calls(out["tool_calls"])
    return out


def _part(part: object, stored: str | None, names: dict) -> dict:
    """A content part with its image (or PDF) named by file: by its LogImage's place, else
    by the `iris-blob:` reference left in the body."""
    if not isinstance(part, dict):
        return _text(part if isinstance(part, str) else json.dumps(part))
    kind = part.get("type")
    if kind in ("image_url", "input_image"):
        spec = part.get("image_url")
        url = spec.get("url") if isinstance(spec, dict) else spec
        out = {"type": "image_url", "image_url": {"url": stored or _named(url, names)}}
        detail = spec.get("detail") if isinstance(spec, dict) else part.get("detail")
        if detail:
            out["image_url"]["detail"] = detail
        return out
    if kind in ("file", "input_file"):
        spec = part.get("file") if isinstance(part.get("file"), dict) else part
        data = stored or _named(spec.get("file_data") or spec.get("file_url"), names)
        return {"type": "file", "file": {"file_data": data, "filename": spec.get("filename")}}
    if kind in ("text", "input_text", "output_text"):
        return _text(part.get("text"))
    return _text(json.dumps(part, ensure_ascii=False))  # audio and the like: kept as text


def _named(value: object, names: dict) -> str | None:
    if isinstance(value, str) and value.startswith(_BLOB_REF):
        return names.get(value.removeprefix(_BLOB_REF), value)
    return value if isinstance(value, str) else None


def _text(text: object) -> dict:
    return {"type": "text", "text": text if isinstance(text, str) else json.dumps(text)}


def _tool_calls(calls: object) -> list[dict]:
    out = []
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        arguments = function.get("arguments")
        out.append(
            {
                "id": call.get("id"),
                "type": call.get("type", "function"),
                "function": {
                    "name": function.get("name"),
                    "arguments": arguments if isinstance(arguments, str) else _json_text(arguments),
                },
            }
        )
    return out


def _responses_messages(body: dict, placed: dict, names: dict) -> list[dict]:
    """The Responses API's instructions and input items, as chat messages."""
    out = []
    if isinstance(body.get("instructions"), str):
        out.append({"role": "system", "content": [_text(body["instructions"])]})
    items = body.get("input")
    if isinstance(items, str):
        return [*out, {"role": "user", "content": [_text(items)]}]
    for index, item in enumerate(items if isinstance(items, list) else ()):
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message" or "role" in item:
            out.append(_message({"role": item.get("role"), **item}, index, placed, names))
        elif kind == "function_call":
            call = {"id": item.get("call_id"), "function": item}
            out.append({"role": "assistant", "content": [], "tool_calls": _tool_calls([call])})
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else json.dumps(output)
            call_id = item.get("call_id")
            out.append({"role": "tool", "tool_call_id": call_id, "content": [_text(text)]})
    for message in out:
        message.pop("type", None)
        message.pop("id", None)
        message.pop("status", None)
    return out


def _output(response: object, images: list[str]) -> dict:
    """What the model answered: its text (a structured output's JSON text as it came), its
    tool calls, its images by file name, and why it stopped."""
    out: dict = {"role": "assistant", "content": None, "tool_calls": [], "images": images}
    out["finish_reason"] = None
    if not isinstance(response, dict):
        return out
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message") or {}
        content = message.get("content")
        if isinstance(content, list):  # a few providers answer parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        out["content"] = content if isinstance(content, str) else None
        out["tool_calls"] = _tool_calls(message.get("tool_calls"))
        out["finish_reason"] = choices[0].get("finish_reason")
        if isinstance(message.get("refusal"), str):
            out["content"] = out["content"] or message["refusal"]
    elif response.get("object") == "response":
        texts, calls = [], []
        for item in response.get("output") or ():
            if not isinstance(item, dict):
                continue
            if item.get("type", "message") == "message":
                parts = item.get("content") or ()
                texts += [p.get("text", "") for p in parts if isinstance(p, dict)]
            elif item.get("type") == "function_call":
                calls.append({"id": item.get("call_id"), "function": item})
        out["content"] = "".join(texts) or None
        out["tool_calls"] = _tool_calls(calls)
        out["finish_reason"] = response.get("status")
    elif isinstance(response.get("data"), list):  # the Images API: the images are the answer
        revised = [d.get("revised_prompt") for d in response["data"] if isinstance(d, dict)]
        out["content"] = next((r for r in revised if isinstance(r, str)), None)
    return out
