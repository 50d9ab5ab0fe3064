"""Claude's thinking on Bedrock Converse, for OpenAI's `reasoning_effort`. Pure, no I/O.

The mapping (levels, budgets, what conflicts with thinking) is anthropic_thinking's. On
Converse (docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html,
/claude-messages-adaptive-thinking.html; botocore bedrock-runtime 2023-09-30 service model,
read 2026-11):
- the `thinking` object goes in additionalModelRequestFields, as in Anthropic's API;
- the adaptive models' effort is Converse's own outputConfig.effort (low | medium | high |
  xhigh | max);
- maxTokens is always sent with thinking: Claude needs max_tokens above budget_tokens;
- the reply holds reasoningContent blocks: {"reasoningText": {"text", "signature"}} or
  {"redactedContent": <bytes, base64 in JSON>}; streams send delta.reasoningContent with
  `text`, then `signature` (or `redactedContent`).
Other Bedrock models (Nova 2's reasoningConfig, gpt-oss's reasoning_effort…) are not mapped:
reasoning_effort there is a 400 naming it (bedrock_structured.UNSUPPORTED).
Replies carry the same message.reasoning_content and message.thinking_blocks as on the
anthropic route, so a conversation can move between the two.
"""

from gateway.chat import Chat
from gateway.providers import anthropic_thinking
from gateway.providers.anthropic_structured import Structured
from gateway.providers.anthropic_thinking import Thinking

_SAMPLING = {"temperature": "temperature", "top_p": "topP"}
MAX_THINKING = 8_000_000  # characters of one streamed block kept to hand back with its signature


def plan(
    chat: Chat, options: dict, dropped: list[str], structured: Structured | None
) -> Thinking | None:
    """The thinking for a Claude model (check_params has refused reasoning_effort elsewhere)."""
    if "anthropic.claude" not in chat.model.lower():
        return None
    forced = "response_format" if structured and not structured.native else ""
    return anthropic_thinking.plan(
        chat.body, chat.model, options, dropped, forced=forced, route="bedrock"
    )


def apply(body: dict, thinking: Thinking) -> None:
    """Add the thinking to a Converse body (after inferenceConfig and the extras are set)."""
    config = body.setdefault("inferenceConfig", {})
    config["maxTokens"] = thinking.max_tokens
    for name in thinking.strip:
        config.pop(_SAMPLING.get(name, ""), None)
    fields = body.setdefault("additionalModelRequestFields", {})
    if "top_k" in thinking.strip:
        fields.pop("top_k", None)
    fields["thinking"] = thinking.config
    if thinking.effort:
        body["outputConfig"] = {**body.get("outputConfig", {}), "effort": thinking.effort}


def reasoning_blocks(i: int, message: dict) -> list[dict]:
    """An assistant message's thinking_blocks as Converse reasoningContent blocks."""
    out = []
    for block in anthropic_thinking.thinking_blocks(i, message):
        if block["type"] == "thinking":
            text = {"text": block["thinking"], "signature": block["signature"]}
            out.append({"reasoningContent": {"reasoningText": text}})
        else:
            out.append({"reasoningContent": {"redactedContent": block["data"]}})
    return out


def reasoning(blocks: list[dict]) -> dict:
    """A reply's reasoningContent blocks as reasoning_content and thinking_blocks ({} if none)."""
    found = []
    for block in blocks:
        content = block.get("reasoningContent") if isinstance(block, dict) else None
        if not isinstance(content, dict):
            continue
        if isinstance(text := content.get("reasoningText"), dict):
            found.append(
                {
                    "type": "thinking",
                    "thinking": text.get("text") or "",
                    "signature": text.get("signature") or "",
                }
            )
        elif content.get("redactedContent") is not None:
            found.append({"type": "redacted_thinking", "data": content["redactedContent"]})
    return anthropic_thinking.reasoning(found)


class StreamThoughts:
    """delta.reasoningContent of one stream → chat deltas: text as reasoning_content; at its
    signature, the whole block as thinking_blocks; a redacted block at once."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._size = 0

    def delta(self, reasoning: dict) -> dict | None:
        if reasoning.get("redactedContent") is not None:
            data = reasoning["redactedContent"]
            return {"thinking_blocks": [{"type": "redacted_thinking", "data": data}]}
        text = reasoning.get("text") or ""
        self._size += len(text)
        if self._size <= MAX_THINKING:  # beyond it, the block cannot be sent back
            self._text.append(text)
        out: dict = {"reasoning_content": text} if text else {}
        if "signature" in reasoning:
            whole = "".join(self._text) if self._size <= MAX_THINKING else ""
            self._text, self._size = [], 0
            block = {"type": "thinking", "thinking": whole, "signature": reasoning["signature"]}
            out["thinking_blocks"] = [block]
        return out or None
