"""OpenAI chat messages as Anthropic Messages turns (anthropic.py's request): system and
developer text to the top-level `system`; "tool" messages as user turns of tool_result blocks;
same-role turns merged so that roles alternate; images and PDFs as anthropic_media.py's blocks."""

import orjson

from gateway.chat import Chat, invalid
from gateway.providers import anthropic_media as media
from gateway.providers import anthropic_thinking


def translate(chat: Chat) -> tuple[list[dict], list[dict]]:
    """OpenAI messages → (system text blocks, alternating user/assistant turns)."""
    system: list[dict] = []
    turns: list[dict] = []
    for i, message in enumerate(chat.body["messages"]):
        role, content = message["role"], message.get("content")
        if role in ("system", "developer"):
            blocks = _blocks(chat, i, content)
            if any(block["type"] != "text" for block in blocks):
                raise invalid(f"messages[{i}]: system messages hold text only.", f"messages.{i}")
            system.extend(blocks)
            continue
        if role == "user":
            blocks = _blocks(chat, i, content)
        elif role == "assistant":
            thoughts = anthropic_thinking.thinking_blocks(i, message)  # first, as they came
            blocks = thoughts + _blocks(chat, i, content) + _tool_uses(i, message)
        elif role == "tool":
            result = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
            if inner := _blocks(chat, i, content):
                result["content"] = inner
            role, blocks = "user", [result]
        else:
            raise invalid(f"messages[{i}]: role {role!r} is not supported.", f"messages.{i}.role")
        if not blocks:
            continue  # Anthropic refuses empty turns; dropping one keeps the rest valid
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _blocks(chat: Chat, i: int, content: object) -> list[dict]:
    if not content:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise invalid(f"messages[{i}].content must be a string or an array.", f"messages.{i}")
    out = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "refusal"):
            if part.get(kind):  # Anthropic refuses empty text blocks
                out.append({"type": "text", "text": part[kind]})
        elif kind == "image_url":
            out.append(media.image_block(chat.image(i, j)))
        elif kind == "file":
            out.append(media.document_block(chat, i, j))
        else:
            raise invalid(
                f"messages[{i}].content[{j}]: content type {kind!r} is not supported by Anthropic.",
                f"messages.{i}.content.{j}",
                code="unsupported_content",
            )
    return out


def _tool_uses(i: int, message: dict) -> list[dict]:
    out = []
    for k, call in enumerate(message.get("tool_calls") or []):
        fn = call.get("function") or {}
        try:
            arguments = orjson.loads(fn.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):  # tool_use.input must be an object
            raise invalid(
                f"messages[{i}].tool_calls[{k}].function.arguments must be a JSON object.",
                f"messages.{i}.tool_calls.{k}.function.arguments",
            )
        out.append(
            {"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": arguments}
        )
    return out
