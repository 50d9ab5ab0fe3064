"""OpenAI chat messages as Bedrock Converse messages (bedrock.py's request): system and
developer text to the top-level `system`; "tool" messages as user turns of toolResult blocks;
same-role turns merged, the first a user turn; images and PDFs as bedrock_media.py's blocks."""

import orjson

from gateway.chat import Chat, invalid
from gateway.providers import bedrock_media, bedrock_thinking


def translate(chat: Chat) -> tuple[list[dict], list[dict]]:
    """OpenAI messages → (system blocks, Converse messages with same-role turns merged)."""
    system: list[dict] = []
    out: list[dict] = []
    documents = bedrock_media.Documents(chat)
    for i, message in enumerate(chat.body["messages"]):
        role, content = message["role"], message.get("content")
        if role in ("system", "developer"):
            if any(img.message == i for img in chat.images):
                raise invalid(
                    f"messages[{i}]: Bedrock takes no images in system messages.",
                    f"messages.{i}.content",
                )
            system.extend({"text": t} for t in _texts(content) if t)
            continue
        if role == "tool":  # a tool's result may hold images (a screenshot, a crop)
            result_blocks = _blocks(chat, i, content, documents) or [{"text": ""}]
            result = {"toolUseId": message.get("tool_call_id") or "", "content": result_blocks}
            role, blocks = "user", [{"toolResult": result}]
        elif role in ("user", "assistant"):
            blocks = bedrock_thinking.reasoning_blocks(i, message) if role == "assistant" else []
            blocks += _blocks(chat, i, content, documents)
            blocks += [
                _tool_use(i, k, call) for k, call in enumerate(message.get("tool_calls") or ())
            ]
        else:
            raise invalid(
                f"messages[{i}]: role {role!r} is not supported by Bedrock.", f"messages.{i}.role"
            )
        if not blocks:
            continue  # Converse refuses empty content; an empty turn says nothing anyway
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    if not out or out[0]["role"] != "user":
        raise invalid(
            "Bedrock needs the conversation to start with a user message "
            "(after any system messages).",
            "messages",
            "invalid_message_order",
        )
    documents.check_text(out)
    return system, out


def _texts(content: object) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [
        p.get("text") or ""
        for p in content or ()
        if isinstance(p, dict) and p.get("type") == "text"
    ]


def _blocks(chat: Chat, i: int, content: object, documents: bedrock_media.Documents) -> list[dict]:
    if isinstance(content, str) or content is None:
        return [{"text": content}] if content else []
    blocks = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "refusal"):
            if text := part.get(kind):
                blocks.append({"text": text})
        elif kind == "image_url":
            blocks.append(bedrock_media.image_block(chat.image(i, j)))
        elif kind == "file":
            blocks.append(documents.block(i, j))
        else:
            raise invalid(
                f"messages[{i}].content[{j}]: part type {kind!r} is not supported by Bedrock.",
                f"messages.{i}.content.{j}.type",
            )
    return blocks


def _tool_use(i: int, k: int, call: dict) -> dict:
    fn = call.get("function") or {}
    try:
        arguments = orjson.loads(fn.get("arguments") or "{}")
    except orjson.JSONDecodeError:
        arguments = None
    if not isinstance(arguments, dict):  # toolUse.input must be a JSON object
        raise invalid(
            f"messages[{i}].tool_calls[{k}]: function.arguments must be a JSON object.",
            f"messages.{i}.tool_calls.{k}.function.arguments",
        )
    ids = {"toolUseId": call.get("id") or "", "name": fn.get("name") or ""}
    return {"toolUse": {**ids, "input": arguments}}
