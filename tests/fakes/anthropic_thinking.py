"""The fake Claude's thinking rules, shared by the fake Anthropic API and the fake Bedrock
(which carries the same `thinking` object in additionalModelRequestFields).

From platform.claude.com/docs/en/build-with-claude/extended-thinking, /adaptive-thinking and
/effort, and docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-adaptive-thinking.html
(read 2026-11); the shapes themselves are the anthropic SDK's ThinkingConfigParam and
OutputConfigParam (checked by each fake's schema check):
- `enabled` needs budget_tokens >= 1024 and < max_tokens; Opus 4.7 and Mythos refuse it;
- `adaptive` exists on Opus/Sonnet 4.6, Opus 4.7 and Mythos only;
- output_config.effort exists on Opus 4.5 and the adaptive models only;
- with thinking on: temperature must be 1 (or unset), no top_k, top_p >= 0.95, and no forced
  tool ("Thinking may not be enabled when tool_choice forces tool use");
- thinking blocks sent back must be unmodified (the signature matches), and with thinking on
  the last assistant turn that calls a tool must start with a thinking block.
A request with thinking on is answered with a thinking block (signed here by SIGNATURE()).
"""

import hashlib
import re

ADAPTIVE = ("claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-7", "claude-mythos")
ADAPTIVE_ONLY = ("claude-opus-4-7", "claude-mythos")
EFFORT = ("claude-opus-4-5", *ADAPTIVE)


def _model(model: str) -> str:
    """The Anthropic model name inside a Bedrock id ("us.anthropic.claude-…-v1:0")."""
    found = re.search(r"claude-[a-z0-9-]+", model)
    return found[0] if found else model


def signature(thinking: str) -> str:
    return "EqQB" + hashlib.sha256(thinking.encode()).hexdigest()[:40]


def problem(
    model: str,
    thinking: dict | None,
    *,
    max_tokens: int | None,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    forced_tool: bool = False,
    effort: str | None = None,
) -> str | None:
    """Why the API would refuse this thinking configuration, or None."""
    name = _model(model)
    kind = (thinking or {}).get("type")
    if effort is not None and not name.startswith(EFFORT):
        return f"output_config.effort: effort is not supported for {model}"
    if kind == "enabled":
        if name.startswith(ADAPTIVE_ONLY):
            return f'thinking.type: "enabled" is not supported for {model}; use "adaptive"'
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if max_tokens is None or max_tokens <= budget:
            return "`max_tokens` must be greater than `thinking.budget_tokens`."
    elif kind == "adaptive" and not name.startswith(ADAPTIVE):
        return f'thinking.type: "adaptive" is not supported for {model}'
    if kind not in ("enabled", "adaptive"):
        return None
    if temperature is not None and temperature != 1:
        return "`temperature` may only be set to 1 when thinking is enabled."
    if top_k is not None:
        return "`top_k` may not be set when thinking is enabled."
    if top_p is not None and top_p < 0.95:
        return "`top_p` must be greater than or equal to 0.95 when thinking is enabled."
    if forced_tool:
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


def history_problem(turns: list[list[dict]], thinking_on: bool) -> str | None:
    """turns: each assistant turn's blocks as {"type", "thinking"?, "signature"?}, in order."""
    for turn in turns:
        for block in turn:
            if block["type"] == "thinking" and block.get("signature") != signature(
                block.get("thinking") or ""
            ):
                return "Invalid `signature` in `thinking` block"
    last = turns[-1] if turns else []
    calls = any(b["type"] == "tool_use" for b in last)
    if thinking_on and calls and last[0]["type"] not in ("thinking", "redacted_thinking"):
        return (
            "messages: Expected `thinking` or `redacted_thinking`, but found `tool_use`. "
            "When `thinking` is enabled, a final `assistant` message must start with a "
            "thinking block."
        )
    return None


def thought(said: str) -> str:
    return f"The user said {said!r}. I should answer plainly."


def thinking_on(body: dict) -> bool:
    return (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")


def body_problem(body: dict) -> str | None:
    """problem() and history_problem() for a Messages API body."""
    choice = (body.get("tool_choice") or {}).get("type")
    refused = problem(
        body["model"],
        body.get("thinking"),
        max_tokens=body.get("max_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        top_k=body.get("top_k"),
        forced_tool=choice in ("any", "tool"),
        effort=(body.get("output_config") or {}).get("effort"),
    )
    turns = [
        m["content"]
        for m in body["messages"]
        if m["role"] == "assistant" and isinstance(m["content"], list)
    ]
    return refused or history_problem(turns, thinking_on(body))


def thinking_block(said: str) -> dict:
    text = thought(said)
    return {"type": "thinking", "thinking": text, "signature": signature(text)}


def stream_deltas(block: dict) -> tuple[dict, list[dict]]:
    """A thinking block's content_block_start body and its deltas, as Anthropic streams it."""
    words = block["thinking"].split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces]
    deltas.append({"type": "signature_delta", "signature": block["signature"]})
    return {"type": "thinking", "thinking": "", "signature": ""}, deltas
