"""OpenAI chat messages as Gemini contents (gemini.py's request): system and developer text
to `systemInstruction`; roles user/model; a tool result a `functionResponse` part naming its
function; replayed calls keep their thoughtSignature; images and PDFs inline, within
MAX_INLINE_BYTES in all."""

import orjson

from gateway.chat import Chat
from gateway.errors import GatewayError
from gateway.images import Image
from gateway.providers import gemini_media

MAX_INLINE_BYTES = 20_000_000  # inline data counts toward the request limit, base64 as sent
_ROLES = {"user": "user", "assistant": "model", "tool": "user"}


def translate(chat: Chat) -> tuple[list[dict], list[dict]]:
    """OpenAI messages → (systemInstruction parts, contents): same-role turns merged."""
    system: list[dict] = []  # every system message, wherever it sits
    contents: list[dict] = []
    names: dict[str, str] = {}  # tool call id → function name, for functionResponse parts
    inline = 0
    for i, message in enumerate(chat.body["messages"]):
        role = message["role"]
        if role in ("system", "developer"):
            system += _content_parts(chat, i, message)
            if any("text" not in part for part in system):
                raise invalid("system messages take text only.", i)
            continue
        if role not in _ROLES:
            raise invalid(f"role {role!r} is not supported.", i)
        if role == "tool":
            parts = [_function_response(message, i, names)]
        else:
            parts = _content_parts(chat, i, message)
            parts += [_function_call(call, i, names) for call in message.get("tool_calls") or []]
        inline += sum(len(p["inline_data"]["data"]) for p in parts if "inline_data" in p)
        if inline > MAX_INLINE_BYTES:
            limit, total = MAX_INLINE_BYTES // 1_000_000, f"{inline / 1e6:.1f} MB"
            message = (
                f"images and documents exceed Gemini's {limit} MB inline-data limit "
                f"({total} in base64)."
            )
            raise invalid(message, i, code="request_too_large")
        if parts and contents and contents[-1]["role"] == _ROLES[role]:
            contents[-1]["parts"] += parts
        elif parts:
            contents.append({"role": _ROLES[role], "parts": parts})
    return system, contents


def _content_parts(chat: Chat, i: int, message: dict) -> list[dict]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts = []
    for j, part in enumerate(content or []):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "image_url":
            parts.append(_image(chat.image(i, j), chat.model))
        elif kind == "file":
            parts.append(_document(chat.document(i, j)))
        elif kind not in ("text", "refusal"):
            raise invalid(f"content type {kind!r} is not supported by Gemini.", i, j)
        elif part.get(kind):
            parts.append({"text": part[kind]})
    return parts


def _image(img: Image, model: str) -> dict:
    """The one place that knows Gemini's image shape: inline bytes, base64 in the JSON."""
    if img.data is None:  # the core fetches URL images first: a guard, not a path
        raise invalid("the image URL was not fetched.", img.message, img.part)
    blob = {"mime_type": img.payload_mime, "data": img.payload_base64}
    return {"inline_data": blob} | gemini_media.part_resolution(model, img.detail)


def _document(doc: Image) -> dict:
    """A PDF goes inline like an image (its pages are read as images, 258 tokens each)."""
    if problem := gemini_media.document_problem(doc):
        raise invalid(problem, doc.message, doc.part, code="document_too_large")
    return {"inline_data": {"mime_type": doc.mime, "data": doc.payload_base64}}


def _function_call(call: dict, i: int, names: dict[str, str]) -> dict:
    function = call.get("function") or {}
    args = loads(function.get("arguments") or "{}")
    if not isinstance(args, dict) or not function.get("name"):
        raise invalid("each tool call needs a name and JSON-object arguments.", i)
    names[str(call.get("id"))] = function["name"]
    part: dict = {"functionCall": {"name": function["name"], "args": args}}
    google = (call.get("extra_content") or {}).get("google") or {}
    if google.get("thought_signature"):
        part["thoughtSignature"] = google["thought_signature"]
    return part


def _function_response(message: dict, i: int, names: dict[str, str]) -> dict:
    if not (name := names.get(str(message.get("tool_call_id")))):
        call_id = message.get("tool_call_id")
        raise invalid(f"tool_call_id {call_id!r} matches no earlier assistant tool call.", i)
    content = message.get("content") or ""
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    # `response` must be an object; "output" is the key Google documents for a plain result.
    response = result if isinstance(result := loads(content), dict) else {"output": content}
    return {"functionResponse": {"name": name, "response": response}}


def invalid(
    message: str, where: int | str, part: int | None = None, *, code: str = "invalid_request"
) -> GatewayError:
    """A 400 that names the field: `where` is a message index or a parameter name."""
    text = param = where if isinstance(where, str) else f"messages[{where}]"
    if isinstance(where, int):
        param = f"messages.{where}"
    if part is not None:
        text, param = f"{text}.content[{part}]", f"{param}.content.{part}"
    return GatewayError(400, f"{text}: {message}", "invalid_request_error", code=code, param=param)


def loads(text: str | bytes) -> object:
    try:
        return orjson.loads(text)  # anything but JSON text, even a number, is a JSONDecodeError
    except orjson.JSONDecodeError:
        return None
