"""Two answers compared: what each said (text, tool calls, structured output), a word diff of
the texts as escaped HTML, and a path-by-path diff of their JSON. Pure: no Django models."""

import difflib
import json
import re
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_WORDS = re.compile(r"\s+|\w+|[^\w\s]")
_MAX_DIFF_TOKENS = 20_000  # past this, difflib's quadratic worst case is not worth it
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


def text_diff(old: str, new: str) -> SafeString:
    """A word diff as HTML: unchanged text escaped, removed words in <del>, added in <ins>.
    Changes only a space apart are shown as one: "<del>a b</del><ins>c d</ins>"."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    if len(a) + len(b) > _MAX_DIFF_TOKENS:
        a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    runs: list[list] = []  # [changed, removed text, added text]
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        gone, came = "".join(a[i1:i2]), "".join(b[j1:j2])
        if op != "equal" and runs and runs[-1][0]:
            runs[-1][1] += gone
            runs[-1][2] += came
        elif op != "equal" and len(runs) > 1 and runs[-2][0] and not runs[-1][1].strip():
            space = runs.pop()[1]  # a space between two changes joins them
            runs[-1][1] += space + gone
            runs[-1][2] += space + came
        else:
            runs.append([op != "equal", gone, came])
    out = []
    for changed, gone, came in runs:
        if not changed:
            out.append(escape(gone))
            continue
        out.append(f"<del>{escape(gone)}</del>" if gone else "")
        out.append(f"<ins>{escape(came)}</ins>" if came else "")
    return mark_safe("".join(out))  # noqa: S308 - every piece of text above is escaped


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
