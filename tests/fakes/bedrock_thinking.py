"""The fake Bedrock's Claude thinking on Converse.

botocore's service model types additionalModelRequestFields as a document (anything goes),
so this checks what AWS documents for Claude there
(docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html and
/claude-messages-adaptive-thinking.html, read 2026-11): the `thinking` object against the
anthropic SDK's ThinkingConfigParam, then tests/fakes/anthropic_thinking.py's rules with
Converse's names (inferenceConfig.maxTokens/temperature/topP, additionalModelRequestFields
top_k, toolConfig.toolChoice any/tool, outputConfig.effort), and the reasoningContent blocks
sent back (signature unmodified; the last assistant turn that calls a tool starts with one).
A Claude request with thinking on is answered with a reasoningContent block first; its
stream sends delta.reasoningContent text pieces, then the signature.
"""

from anthropic.types import ThinkingConfigParam

from tests.fakes import anthropic as _anthropic  # noqa: F401 - restores the SDK's Required keys
from tests.fakes import anthropic_thinking as claude
from tests.fakes.schema import SchemaError, check


def problem(params: dict) -> str | None:
    """Why Bedrock would refuse this Converse request's thinking, or None."""
    fields = params.get("additionalModelRequestFields") or {}
    thinking = fields.get("thinking") if isinstance(fields, dict) else None
    if thinking is not None:
        if "anthropic.claude" not in params["modelId"]:
            return "The model does not support the thinking field in additionalModelRequestFields."
        try:
            check(thinking, ThinkingConfigParam, "additionalModelRequestFields.thinking")
        except SchemaError as exc:
            return str(exc)
    config = params.get("inferenceConfig") or {}
    choice = (params.get("toolConfig") or {}).get("toolChoice") or {}
    refused = claude.problem(
        params["modelId"],
        thinking,
        max_tokens=config.get("maxTokens"),
        temperature=config.get("temperature"),
        top_p=config.get("topP"),
        top_k=fields.get("top_k") if isinstance(fields, dict) else None,
        forced_tool="any" in choice or "tool" in choice,
        effort=(params.get("outputConfig") or {}).get("effort"),
    )
    turns = [
        [_as_claude(block) for block in m["content"]]
        for m in params["messages"]
        if m["role"] == "assistant"
    ]
    return refused or claude.history_problem(turns, thinking_on(params))


def _as_claude(block: dict) -> dict:
    reasoning = block.get("reasoningContent")
    if isinstance(reasoning, dict) and "reasoningText" in reasoning:
        text = reasoning["reasoningText"]
        return {
            "type": "thinking",
            "thinking": text.get("text"),
            "signature": text.get("signature"),
        }
    if isinstance(reasoning, dict):
        return {"type": "redacted_thinking"}
    return {"type": "tool_use" if "toolUse" in block else "text"}


def thinking_on(params: dict) -> bool:
    fields = params.get("additionalModelRequestFields") or {}
    kind = ((fields.get("thinking") if isinstance(fields, dict) else None) or {}).get("type")
    return kind in ("enabled", "adaptive")


def reasoning_block(said: str) -> dict:
    text = claude.thought(said)
    return {
        "reasoningContent": {"reasoningText": {"text": text, "signature": claude.signature(text)}}
    }


def stream_deltas(block: dict) -> list[dict]:
    """delta objects of ContentBlockDelta events for a reasoningContent block."""
    text = block["reasoningContent"]["reasoningText"]
    words = text["text"].split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    deltas = [{"reasoningContent": {"text": p}} for p in pieces]
    return [*deltas, {"reasoningContent": {"signature": text["signature"]}}]
