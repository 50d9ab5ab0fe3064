"""One logged Responses API request as the page shows it: a conversation like a chat's
(`instructions` as the system turn, then the input items in order, their images and PDFs where
they were sent), the output items beside it, the parameters, and the response it continues."""

import json
from dataclasses import dataclass
from typing import Any

from gateway.models import RequestLog
from gateway.responses.request import as_items, request_id_of
from logs_ui.conversation import Message, Part, content_part, tool_call
from logs_ui.imageview import ImageView

# Parameters shown beside the conversation, in this order, when the request sets them.
_PARAMS = (
    "model",
    "text",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "max_tool_calls",
    "temperature",
    "top_p",
    "reasoning",
    "truncation",
    "stream",
    "service_tier",
    "user",
)
_SHOWN = 300  # characters of a parameter's value


@dataclass
class Previous:
    """The response a request continues: Iris's own (its record's page, while the log holds
    it) or the provider's (an id only)."""

    response_id: str
    iris: bool
    log_id: int | None = None


@dataclass
class ResponsesRequest:
    messages: list[Message]  # the system turn and the input items
    outputs: list[Message]  # the output items
    params: list[tuple[str, str]]
    previous: Previous | None = None
    status: str = ""  # the Response's: completed, incomplete (and why), failed…
    items: int = 0  # input items


def responses_request(log: RequestLog, images: dict[tuple[int, int], ImageView]):
    """The Responses view of the request, or None for another endpoint's."""
    if log.endpoint != "responses":
        return None
    body = log.request_body if isinstance(log.request_body, dict) else {}
    answer = log.response_body if isinstance(log.response_body, dict) else {}
    messages = []
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        text = Part("text", text=body["instructions"])
        messages.append(Message(-1, "system", [text], place="instructions"))
    items = as_items(body.get("input"))
    messages += [_item(k, item, images, "input") for k, item in enumerate(items)]
    output = answer.get("output") if answer.get("object") == "response" else None
    outputs = [_item(n, item, {}, "output") for n, item in enumerate(output or ())]
    for message in outputs:
        message.reply = True
    return ResponsesRequest(
        messages=messages,
        outputs=outputs,
        params=_params(body),
        previous=_previous(body.get("previous_response_id")),
        status=_status(answer),
        items=len(items),
    )


def _item(k: int, item: Any, images: dict[tuple[int, int], ImageView], where: str) -> Message:
    """An input or output item as a turn of the conversation."""
    place = f"{where}[{k}]"
    if not isinstance(item, dict):
        return Message(k, "?", [Part("other", raw=item)], place=place)
    kind = item.get("type", "message")
    if kind == "message":
        role = str(item.get("role") or "?")
        return Message(k, role, _content(k, item.get("content"), images), place=place)
    if kind == "function_call":
        call = tool_call(item.get("call_id"), item.get("name"), item.get("arguments"))
        return Message(k, "assistant", tool_calls=[call], place=f"{place} · function_call")
    if kind == "function_call_output":
        parts = _content(k, item.get("output"), {})  # its images are not logged as images
        return Message(
            k,
            "tool",
            parts,
            tool_call_id=str(item.get("call_id") or ""),
            place=f"{place} · function_call_output",
        )
    if kind == "reasoning":  # its summary, and its text when the provider gives it
        parts = [Part("reasoning", text=_texts(item.get("summary")), raw="summary")]
        if text := _texts(item.get("content")):
            parts.append(Part("reasoning", text=text, raw="text"))
        return Message(k, "reasoning", parts, place=place)
    return Message(k, str(kind), [Part("other", raw=item)], place=place)


def _content(k: int, content: Any, images: dict[tuple[int, int], ImageView]) -> list[Part]:
    if isinstance(content, str):
        return [Part("text", text=content)]
    if isinstance(content, list):
        return [content_part(p, images.get((k, j))) for j, p in enumerate(content)]
    return [] if content is None else [Part("other", raw=content)]


def _texts(parts: Any) -> str:
    texts = [p.get("text") for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []
    return "\n\n".join(t for t in texts if isinstance(t, str) and t)


def _params(body: dict) -> list[tuple[str, str]]:
    shown = []
    for name in _PARAMS:
        value = body.get(name)
        if value is None:
            continue
        if name == "text" and isinstance(value, dict):
            name, value = "text.format", _format(value.get("format"))
        elif name == "tools" and isinstance(value, list):
            value = ", ".join(_tool_name(t) for t in value) or "none"
        elif name == "reasoning" and isinstance(value, dict):
            value = " · ".join(f"{k} {v}" for k, v in value.items() if v is not None)
        if value not in (None, ""):
            shown.append((name, _shown(value)))
    store = body.get("store")
    shown.append(("store", "true (default)" if store is None else _shown(store)))
    return shown


def _format(spec: Any) -> str:
    """text.format: its type, and a JSON schema's name (strict or not)."""
    if not isinstance(spec, dict):
        return "" if spec is None else _shown(spec)
    words = [str(spec.get("type") or "?")]
    if spec.get("name"):
        words.append(str(spec["name"]))
    if spec.get("strict"):
        words.append("strict")
    return " · ".join(words)


def _tool_name(tool: Any) -> str:
    if not isinstance(tool, dict):
        return "?"
    kind = str(tool.get("type") or "?")
    return str(tool.get("name") or kind) if kind == "function" else kind


def _previous(value: Any) -> Previous | None:
    if not isinstance(value, str) or not value:
        return None
    request_id = request_id_of(value)
    if request_id is None:
        return Previous(value[:200], iris=False)
    found = RequestLog.objects.filter(request_id=request_id).values_list("id", flat=True)
    return Previous(value, iris=True, log_id=found.first())


def _status(answer: dict) -> str:
    status = answer.get("status") if isinstance(answer.get("status"), str) else ""
    details = answer.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    return f"{status}: {reason}" if status and isinstance(reason, str) else status


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
