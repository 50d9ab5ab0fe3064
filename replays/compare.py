"""Two answers compared: what each said (text, tool calls, structured output), a word diff of
the texts as escaped HTML, and a path-by-path diff of their JSON. Pure: no Django models."""

import json
from dataclasses import dataclass, field

from replays.textdiff import text_diff

__all__ = ["Answer", "Change", "answer_of", "json_diff", "text_diff"]

_MAX_JSON_ROWS = 500


@dataclass
class Answer:
    """What one answer said, whichever API it came from."""

    text: str = ""
    tool_calls: list[dict] = field(default_factory=list)  # {"name", "arguments"} (parsed)
    error: str = ""

    @property
    def structured(self) -> object | None:
        """The text as JSON when it is a JSON object or array (structured output)."""
        return _json_value(self.text)

    @property
    def json(self) -> object | None:
        """What the JSON diff compares: structured output and tool calls, where there are any."""
        value = {}
        if (structured := self.structured) is not None:
            value["output"] = structured
        if self.tool_calls:
            value["tool_calls"] = self.tool_calls
        return value or None


def answer_of(body: object) -> Answer:
    """The answer of a chat completion, a Responses API response, an ImagesResponse, or an
    error body."""
    if not isinstance(body, dict):
        return Answer()
    if isinstance(body.get("error"), dict):
        error = body["error"]
        return Answer(error=str(error.get("message") or error.get("code") or "error"))
    if body.get("object") == "response":
        return _response_answer(body)
    if isinstance(body.get("data"), list) and "choices" not in body:
        data = body["data"]
        revised = [d.get("revised_prompt") for d in data if isinstance(d, dict)]
        text = "\n".join(r for r in revised if isinstance(r, str))
        return Answer(text=text or f"{len(data)} image(s)")
    choices = body.get("choices")
    message = choices[0].get("message") if isinstance(choices, list) and choices else None
    if not isinstance(message, dict):
        return Answer()
    calls = [
        _call(c.get("function")) for c in message.get("tool_calls") or () if isinstance(c, dict)
    ]
    return Answer(text=_text(message.get("content")), tool_calls=[c for c in calls if c])


def _response_answer(body: dict) -> Answer:
    texts, calls = [], []
    for item in body.get("output") or ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call":
            calls.append(_call(item))
        elif item.get("type", "message") == "message":
            texts.append(_text(item.get("content")))
    error = body.get("error") if body.get("status") == "failed" else None
    message = error.get("message", "") if isinstance(error, dict) else ""
    return Answer(text="".join(texts), tool_calls=[c for c in calls if c], error=message)


def _call(function: object) -> dict | None:
    if not isinstance(function, dict):
        return None
    arguments = function.get("arguments")
    parsed = _json_value(arguments) if isinstance(arguments, str) else arguments
    return {"name": function.get("name", ""), "arguments": arguments if parsed is None else parsed}


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        return "".join(t for t in texts if isinstance(t, str))
    return ""


def _json_value(text: object) -> object | None:
    if not isinstance(text, str):
        return None
    stripped = text.strip()
    if stripped.startswith("```"):  # a fenced block: ```json … ```
        stripped = stripped.strip("`").removeprefix("json").strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return None


@dataclass(frozen=True)
class Change:
    path: str  # "output.items[2].label"
    kind: str  # "added" | "removed" | "changed"
    old: str  # JSON text, "" when added
    new: str  # JSON text, "" when removed


def json_diff(old: object, new: object) -> list[Change]:
    """Each path where two JSON values differ, in document order (at most _MAX_JSON_ROWS)."""
    changes: list[Change] = []
    _walk(old, new, "", changes)
    return changes[:_MAX_JSON_ROWS]


def _walk(old: object, new: object, path: str, out: list[Change]) -> None:
    if len(out) >= _MAX_JSON_ROWS:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            where = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append(Change(where, "removed", _dump(old[key]), ""))
            elif key not in old:
                out.append(Change(where, "added", "", _dump(new[key])))
            else:
                _walk(old[key], new[key], where, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            where = f"{path}[{i}]"
            if i >= len(new):
                out.append(Change(where, "removed", _dump(old[i]), ""))
            elif i >= len(old):
                out.append(Change(where, "added", "", _dump(new[i])))
            else:
                _walk(old[i], new[i], where, out)
        return
    if old != new or isinstance(old, bool) != isinstance(new, bool):  # True == 1 in Python
        out.append(Change(path or "(whole value)", "changed", _dump(old), _dump(new)))


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)[:2000]
