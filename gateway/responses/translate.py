"""A Responses request as a Chat Completions body, for the providers that do not speak the
Responses API (anthropic, google, bedrock: their chat translators take it from there).

Every parameter is translated, honoured by Iris itself (store, previous_response_id,
metadata), or refused with a 400 that names it: none is dropped. `reasoning` (effort,
summary) goes to providers whose module sets ACCEPTS_REASONING_EFFORT, as reasoning_effort
(the summary shapes the answer: events.py). A `reasoning` item given back as input returns
its signed thinking blocks (its encrypted_content, made by events.py) to the next assistant
message as thinking_blocks, which Claude needs during tool use; other reasoning items (no
signature: Gemini's, or another gateway's) are left out, as no provider takes them back.
Consecutive function_call items become one assistant message with several tool calls (the
providers refuse tool results whose calls sit in separate turns). Pure: no I/O, no Django.
"""

import base64
import binascii
import re
from dataclasses import dataclass, field

import orjson

from gateway.chat import DECODED_FILE, DECODED_IMAGE, invalid
from gateway.errors import GatewayError
from gateway.images import Image
from gateway.responses.events import REASONING_PREFIX
from gateway.responses.request import ResponsesRequest

# What the request may carry on a translated route (with None meaning "not set", as OpenAI
# reads it); each is translated or honoured below, or refused for the values Iris cannot keep.
_KNOWN = frozenset(
    {
        "model", "input", "instructions", "stream", "stream_options", "store",
        "previous_response_id", "metadata", "user", "max_output_tokens", "temperature",
        "top_p", "tools", "tool_choice", "parallel_tool_calls", "text", "reasoning", "include",
        "truncation", "service_tier", "background", "max_tool_calls", "drop_params",
        "safety_identifier", "prompt_cache_key", "prompt_cache_retention",
    }
)  # fmt: skip
# `include` values that hold on a translated route: no reasoning is encrypted, input image
# URLs are kept as sent.
_INCLUDABLE = frozenset({"reasoning.encrypted_content", "message.input_image.image_url"})
# Passed on as chat parameters: each chat translator honours them, refuses them (a 400 naming
# them, parallel_tool_calls: false where calls cannot be kept serial) or records them dropped
# (user where the provider has no such field); the prompt cache hints it ignores, as for chat.
_SAME = (
    "temperature", "top_p", "parallel_tool_calls", "user", "safety_identifier",
    "prompt_cache_key", "prompt_cache_retention", "service_tier",
)  # fmt: skip
# `reasoning` members a provider that takes reasoning honours (generate_summary: the old name).
_REASONING = frozenset({"effort", "summary", "generate_summary"})


@dataclass
class ChatPlan:
    """The chat body, where each image and PDF sits in it, and which input item each chat
    message came from (to word the chat translators' 400s in the client's terms)."""

    body: dict
    placements: list[tuple[Image, int, int]] = field(default_factory=list)
    sources: dict[int, str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)  # left out on the client's opt-in


def to_chat(
    request: ResponsesRequest, provider: str, *, takes_reasoning: bool, drop: bool = False
) -> ChatPlan:
    """The Chat Completions body for `provider`; 400 for what it cannot carry, unless the
    client opted into dropping parameters (`drop_params`, or x-portkey-drop-params): then
    they are left out and named in plan.dropped, for the log."""
    body = request.body
    drop = drop or body.get("drop_params") is True
    plan = ChatPlan(body={"model": request.model, "messages": []})
    plan.dropped = _check_params(body, provider, takes_reasoning, drop)
    chat = plan.body
    if drop:
        chat["drop_params"] = True  # the chat translator may drop what it cannot honour too
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        chat["messages"].append({"role": "system", "content": body["instructions"]})
        plan.sources[0] = "instructions"
    history = _Items(request.history, request.history_images, request.history_documents)
    _add_items(plan, history, "the previous response's input")
    current = _Items(request.input_items(), request.images, request.documents)
    _add_items(plan, current, "input")
    if not chat["messages"]:
        raise invalid("'input' holds no message to send.", "input")
    if request.stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}  # for the response's usage
    if body.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = body["max_output_tokens"]
    chat.update({name: body[name] for name in _SAME if body.get(name) is not None})
    if body.get("tools"):
        chat["tools"] = [_tool(tool, k, provider) for k, tool in enumerate(body["tools"])]
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(body["tool_choice"], provider)
    if fmt := _response_format((body.get("text") or {}).get("format"), provider):
        chat["response_format"] = fmt
    effort = (body.get("reasoning") or {}).get("effort")
    if effort and "reasoning.effort" not in plan.dropped:
        chat["reasoning_effort"] = effort
    return plan


# Chat Completions parameters by their Responses API names.
_RENAMED = {
    "max_completion_tokens": "max_output_tokens",
    "response_format": "text.format",
    "reasoning_effort": "reasoning.effort",
}


def rename_error(error: GatewayError, plan: ChatPlan) -> GatewayError:
    """A chat translator's 400 names `messages[i]` or a chat parameter: name the input item
    or the Responses parameter instead."""
    for chat_name, name in _RENAMED.items():
        error.message = error.message.replace(chat_name, name)
        if error.param == chat_name:
            error.param = name

    def item(match: re.Match) -> str:
        source = plan.sources.get(int(match[2]))
        if source is None:
            return match[0]
        return source if match[1] == "[" else source.replace("[", ".").replace("]", "")

    pattern = re.compile(r"messages(\[|\.)(\d+)\]?")
    error.message = pattern.sub(item, error.message)
    if error.param:
        error.param = pattern.sub(item, error.param)
    return error


def _check_params(body: dict, provider: str, takes_reasoning: bool, drop: bool) -> list[str]:
    """What cannot be honoured: a 400 naming the first, or when dropping, their names."""
    refused: list[tuple[str, str]] = [
        (name, "") for name, value in body.items() if name not in _KNOWN and value is not None
    ]
    text, reasoning = body.get("text") or {}, body.get("reasoning") or {}
    if text.get("verbosity") is not None:
        refused.append(("text.verbosity", ""))
    refused += [
        (f"reasoning.{name}", "")
        for name, value in reasoning.items()
        if value is not None and (name not in _REASONING or not takes_reasoning)
    ]
    include = body.get("include") or []
    if not isinstance(include, list) or any(value not in _INCLUDABLE for value in include):
        refused.append(("include", f"only {', '.join(sorted(_INCLUDABLE))}"))
    if body.get("truncation") not in (None, "disabled"):
        refused.append(("truncation", "only 'disabled'"))
    if body.get("background"):
        refused.append(("background", ""))
    if body.get("max_tool_calls") is not None:  # no built-in tools here, and no cap on calls
        refused.append(("max_tool_calls", ""))
    if body.get("metadata") is not None and not all(
        isinstance(v, str) for v in body["metadata"].values()
    ):
        raise invalid("'metadata' must be an object of string values.", "metadata")
    if refused and not drop:
        raise _unsupported(*refused[0], provider)
    return [name for name, _ in refused]


def _unsupported(param: str, provider: str, hint: str = "") -> GatewayError:
    takes = f" (it takes {hint})" if hint else ""
    return invalid(
        f"Unsupported parameter on the {provider} route of the Responses API: '{param}'{takes}.",
        param,
        "unsupported_parameter",
    )


@dataclass
class _Items:
    items: list
    images: list[Image]
    documents: list[Image]

    def image(self, k: int, j: int) -> Image | None:
        return next((i for i in self.images if (i.message, i.part) == (k, j)), None)

    def document(self, k: int, j: int) -> Image | None:
        return next((d for d in self.documents if (d.message, d.part) == (k, j)), None)


def _add_items(plan: ChatPlan, items: _Items, where: str) -> None:
    messages = plan.body["messages"]
    thoughts: list[dict] = []  # signed thinking blocks for the next assistant message
    for k, item in enumerate(items.items):
        label = f"{where}[{k}]"
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            message = _message(plan, items, item, k, label, len(messages))
        elif kind == "function_call":
            call = {
                "id": _string(item, "call_id", label),
                "type": "function",
                "function": {
                    "name": _string(item, "name", label),
                    "arguments": _string(item, "arguments", label),
                },
            }
            last = messages[-1] if messages else None
            if last and last["role"] == "assistant" and not thoughts:  # its text, earlier calls
                last.setdefault("tool_calls", []).append(call)
                continue
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
        elif kind == "function_call_output":
            content = _output_text(item.get("output"), label)
            message = {"role": "tool", "tool_call_id": _string(item, "call_id", label)}
            message["content"] = content
        elif kind == "reasoning":
            thoughts += _signed_blocks(item)
            continue
        else:
            raise invalid(
                f"{label}: input items of type {kind!r} are not supported on this route "
                "(messages, function_call and function_call_output are).",
                f"{label.replace('[', '.').rstrip(']')}.type",
                "unsupported_parameter",
            )
        if message["role"] == "assistant" and thoughts:
            message["thinking_blocks"], thoughts = thoughts, []
        plan.sources[len(messages)] = label
        messages.append(message)


def _signed_blocks(item: dict) -> list[dict]:
    """The thinking blocks an Iris reasoning item carries in encrypted_content; [] for any
    other (no signature to give back)."""
    sealed = item.get("encrypted_content")
    if not isinstance(sealed, str) or not sealed.startswith(REASONING_PREFIX):
        return []
    try:
        blocks = orjson.loads(base64.b64decode(sealed[len(REASONING_PREFIX) :], validate=True))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        return []
    return [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []


def _message(plan: ChatPlan, items: _Items, item: dict, k: int, label: str, at: int) -> dict:
    role, content = item.get("role"), item.get("content")
    if role not in ("user", "system", "developer", "assistant"):
        raise invalid(f"{label}: role {role!r} is not supported.", f"{label}.role")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise invalid(f"{label}.content must be a string or an array.", f"{label}.content")
    if role == "assistant":  # earlier output: its text (output_text, refusal) as one string
        texts = [p.get("text") or p.get("refusal") or "" for p in content]
        return {"role": "assistant", "content": "".join(t for t in texts if isinstance(t, str))}
    parts = []
    for j, part in enumerate(content):
        kind, where = part.get("type"), f"{label}.content[{j}]"
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": _string(part, "text", where)})
        elif kind == "input_image":
            img = items.image(k, j)
            if img is None:
                raise _no_file_id(where, "image_url")
            spec = {"url": DECODED_IMAGE if img.origin == "base64" else img.url}
            if img.detail:
                spec["detail"] = img.detail
            plan.placements.append((img, at, len(parts)))
            parts.append({"type": "image_url", "image_url": spec})
        elif kind == "input_file":
            doc = items.document(k, j)
            if doc is None:
                raise _no_file_id(where, "file_data")
            spec = {"file_data": DECODED_FILE}
            if isinstance(part.get("filename"), str):
                spec["filename"] = part["filename"]
            plan.placements.append((doc, at, len(parts)))
            parts.append({"type": "file", "file": spec})
        else:
            raise invalid(f"{where}: content type {kind!r} is not supported.", where)
    return {"role": role, "content": parts}


def _no_file_id(where: str, field: str) -> GatewayError:
    return invalid(
        f"{where}: file_id and file_url name files stored at OpenAI, out of this provider's "
        f"sight; send the bytes as a base64 data URI in {field}.",
        where,
        "unsupported_parameter",
    )


def _output_text(output: object, label: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(
        isinstance(p, dict) and p.get("type") == "input_text" for p in output
    ):
        return "".join(str(p.get("text") or "") for p in output)
    raise invalid(
        f"{label}.output must be a string or input_text parts on this route.", f"{label}.output"
    )


def _string(item: dict, key: str, label: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise invalid(f"{label}: '{key}' must be a string.", f"{label}.{key}")
    return value


def _tool(tool: object, k: int, provider: str) -> dict:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise invalid(
            f"tools[{k}]: only function tools are supported on the {provider} route "
            f"(not {kind!r}).",
            f"tools.{k}.type",
            "unsupported_parameter",
        )
    function = {"name": _string(tool, "name", f"tools[{k}]")}
    for key in ("description", "parameters"):
        if tool.get(key) is not None:
            function[key] = tool[key]
    # The Responses API enforces the schema unless strict is false: the route then honours
    # strict or records it dropped (chat's default, unset, means not strict).
    function["strict"] = tool.get("strict") is not False
    return {"type": "function", "function": function}


def _tool_choice(choice: object, provider: str) -> str | dict:
    if choice in ("auto", "none", "required"):
        return choice  # type: ignore[return-value]
    if isinstance(choice, dict) and choice.get("type") == "function" and choice.get("name"):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise _unsupported("tool_choice", "'auto', 'none', 'required' or a function", provider)


def _response_format(fmt: object, provider: str) -> dict | None:
    if fmt is None or (isinstance(fmt, dict) and fmt.get("type") == "text"):
        return None
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        spec = {key: fmt[key] for key in ("name", "schema", "description", "strict") if key in fmt}
        return {"type": "json_schema", "json_schema": spec}
    raise _unsupported("text.format", "text, json_object or json_schema", provider)
