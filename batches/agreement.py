"""Whether a replay's answer agrees with the original's: pure functions of the two answers.

An answer is what a response body says: its text, or the calls it makes. Three rules:

- exact: the two texts are equal once leading and trailing whitespace is trimmed.
- json: the two answers are the same JSON value. The value of an answer is its tool calls
  when it makes some ([{"name", "arguments"}] with the arguments parsed), else its text
  parsed as JSON (a ```json fence around it is allowed). Object key order does not matter;
  1 and 1.0 are equal, true and 1 are not. The original's text not being JSON makes the
  record not comparable (None); the replay's not being JSON is a disagreement.
- regex: the user's pattern is searched for in each text. Without capturing groups, the
  value of a text is whether the pattern occurs in it; with groups, the groups of its
  first match (None when it does not occur). The answers agree when their values are equal:
  both match (or neither does), or both captured the same groups.

Not comparable (None) too: an original that failed (it has no answer) or a replay that
failed (counted as failed, not as a disagreement).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import regex  # re with a timeout: users' patterns meet model answers (pyproject.toml)

RULES = ("exact", "json", "regex")
MAX_PATTERN = 500  # characters of a user's regex
_SEARCHED = 100_000  # characters of an answer a regex reads
REGEX_SECONDS = 0.1
_TOO_SLOW = object()
_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(.*?)\n?```$", re.DOTALL)
_NOT_JSON = object()


@dataclass(frozen=True)
class Rule:
    kind: str  # one of RULES
    pattern: str = ""

    def __post_init__(self) -> None:
        if self.kind not in RULES:
            raise ValueError(f"agreement is one of {', '.join(RULES)}.")
        if self.kind == "regex":
            compiled(self.pattern)

    @property
    def label(self) -> str:
        return f"regex /{self.pattern}/" if self.kind == "regex" else self.kind


def parse_rule(value: object) -> Rule:
    """The API's `agreement`: "exact", "json" or {"regex": "..."}; ValueError if not."""
    if value is None:
        return Rule("exact")
    if isinstance(value, str) and value in ("exact", "json"):
        return Rule(value)
    if isinstance(value, dict) and set(value) == {"regex"} and isinstance(value["regex"], str):
        return Rule("regex", value["regex"])
    raise ValueError('agreement is "exact", "json" or {"regex": "<pattern>"}.')


def compiled(pattern: str) -> regex.Pattern:
    if not pattern or len(pattern) > MAX_PATTERN:
        raise ValueError(f"The regex must have 1 to {MAX_PATTERN} characters.")
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"The regex does not compile: {exc}.") from None


def answer_text(body: object) -> str:
    """What a chat completion or a Responses API answer says, as text; its calls as
    name(arguments) lines when it says nothing else."""
    if not isinstance(body, dict):
        return ""
    if body.get("object") == "response":
        texts = []
        for item in _list(body.get("output")):
            if isinstance(item, dict) and item.get("type", "message") == "message":
                texts += [p["text"] for p in _list(item.get("content")) if _has_text(p)]
        return "".join(texts) or _calls_text(_calls(body))
    choices = _list(body.get("choices"))
    message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(p["text"] for p in content if _has_text(p))
    return (content if isinstance(content, str) else "") or _calls_text(_calls(body))


def answer_value(body: object) -> Any:
    """The answer as a JSON value (see the module's json rule); _NOT_JSON when it is none."""
    calls = _calls(body)
    if calls:
        return [{"name": name, "arguments": _parsed(args)} for name, args in calls]
    return _parsed(answer_text(body))


def agrees(rule: Rule, original: str, replayed: str, *, original_body=None, replayed_body=None):
    """True, False, or None when the pair is not comparable under the rule. The bodies (for
    the json rule) default to chat completions carrying the texts."""
    if rule.kind == "exact":
        return original.strip() == replayed.strip()
    if rule.kind == "regex":
        pattern = compiled(rule.pattern)
        mine, theirs = _regex_value(pattern, original), _regex_value(pattern, replayed)
        if _TOO_SLOW in (mine, theirs):
            return None  # not comparable: the pattern took too long on one of them
        return mine == theirs
    mine = answer_value(original_body) if original_body is not None else _parsed(original)
    theirs = answer_value(replayed_body) if replayed_body is not None else _parsed(replayed)
    if mine is _NOT_JSON:
        return None
    return theirs is not _NOT_JSON and json_equal(mine, theirs)


def json_equal(a: Any, b: Any) -> bool:
    """Equal as JSON values: key order aside, numbers by value, booleans apart from numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@dataclass
class Tally:
    """One target's results: how many agreed of those compared, and how many failed."""

    done: int = 0
    failed: int = 0
    compared: int = 0
    agreed: int = 0

    def add(self, *, failed: bool, agreed: bool | None) -> None:
        self.done += 1
        self.failed += failed
        if agreed is not None:
            self.compared += 1
            self.agreed += agreed

    @property
    def rate(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


def _regex_value(pattern: regex.Pattern, text: str) -> bool | tuple | None | object:
    """Whether it matched (no groups) or its groups; _TOO_SLOW past REGEX_SECONDS: a user's
    pattern that backtracks catastrophically must not hold the batches' event loop."""
    try:
        found = pattern.search(text[:_SEARCHED], timeout=REGEX_SECONDS)
    except TimeoutError:
        return _TOO_SLOW
    if not pattern.groups:
        return found is not None
    return found.groups() if found else None


def _parsed(text: object) -> Any:
    if not isinstance(text, str):
        return _NOT_JSON
    text = text.strip()
    if fenced := _FENCE.match(text):
        text = fenced[1].strip()
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


def _calls(body: object) -> list[tuple[str, str]]:
    """(name, arguments) of each tool call of the answer, in order."""
    if not isinstance(body, dict):
        return []
    if body.get("object") == "response":
        return [
            (str(item.get("name", "")), str(item.get("arguments", "")))
            for item in _list(body.get("output"))
            if isinstance(item, dict) and item.get("type") == "function_call"
        ]
    choices = _list(body.get("choices"))
    message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    calls = []
    for call in _list(message.get("tool_calls") if isinstance(message, dict) else None):
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            calls.append((str(function.get("name", "")), str(function.get("arguments", ""))))
    return calls


def _calls_text(calls: list[tuple[str, str]]) -> str:
    return "\n".join(f"{name}({args})" for name, args in calls)


def _has_text(part: object) -> bool:
    return isinstance(part, dict) and isinstance(part.get("text"), str)


def _list(value: object) -> list:
    return value if isinstance(value, list) else []
