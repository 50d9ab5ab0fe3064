"""Claude's thinking for OpenAI's `reasoning_effort`, on Anthropic's API and on Bedrock
Converse (which carries the same `thinking` object in additionalModelRequestFields). Pure.

Facts (platform.claude.com/docs/en/build-with-claude/extended-thinking, /adaptive-thinking,
/effort; docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-adaptive-thinking.html;
anthropic SDK 2.14 thinking_config_*_param.py, output_config_param.py; read 2026-11):
- Opus/Sonnet 4.6 and later, Mythos (and every 5.x) think adaptively: `thinking: {"type":
  "adaptive"}` with `output_config.effort` low | medium | high | xhigh | max (Bedrock:
  outputConfig.effort). budget_tokens is deprecated there (refused on Opus 4.7 and Mythos).
- Older thinking models (Sonnet 3.7, Opus/Sonnet 4, Opus 4.1, Opus/Sonnet/Haiku 4.5) take
  `thinking: {"type": "enabled", "budget_tokens": N}`, N >= 1024 and N < max_tokens.
- Thinking is incompatible with temperature other than 1, top_k, top_p below 0.95, and a
  forced tool (tool_choice any/tool): the last is a 400 ("Thinking may not be enabled when
  tool_choice forces tool use").
How Iris maps it:
- "none" asks for no thinking: `thinking` is left out (each model's default: off, but on
  Mythos, which always thinks adaptively).
- OpenAI's effort → Claude's effort by name ("minimal" → "low"); budget models get BUDGETS.
  Without a client max_tokens, max_tokens = the level's budget + ANSWER_ROOM; a client max at
  or below the budget lowers the budget to max_tokens - 1 (OpenAI's max_completion_tokens
  counts reasoning too), and under 1025 it is a 400 naming max_tokens.
- A conflicting sampling parameter is a 400 naming it, or left out (and logged) on the
  client's drop_params opt-in. A forced tool (tool_choice required/a function, or the forced
  JSON tool of response_format on models without native structured output) is a 400 naming
  it, or on opt-in reasoning_effort is dropped instead: the tool call is the contract.
Thinking blocks come back as `message.reasoning_content` (the text: DeepSeek's name, which
LiteLLM, vLLM and SGLang use too) and `message.thinking_blocks` (LiteLLM's shape, each block
with its signature or redacted data); `thinking_blocks` on an assistant message are sent back
as they came, as tool use with thinking requires.
"""

from dataclasses import dataclass

from gateway.chat import invalid
from gateway.providers.anthropic_structured import claude_version, drops_params

EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
BUDGETS = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 32768,
    "max": 49152,
}
ADAPTIVE_EFFORT = {"minimal": "low"}  # the others keep their name
MIN_BUDGET = 1024
ANSWER_ROOM = 4096  # tokens left for the answer when the client set no max_tokens
MIN_TOP_P = 0.95


def adaptive(model: str) -> bool:
    """Whether the model thinks adaptively (effort) rather than with a token budget."""
    version = claude_version(model)
    if not version:
        return False
    family, major, minor = version
    if family in ("mythos", "fable") or major >= 5:
        return True
    return family in ("opus", "sonnet") and (major, minor) >= (4, 6)


@dataclass(frozen=True)
class Thinking:
    config: dict  # Anthropic's `thinking` object
    effort: str | None  # output_config.effort, for adaptive models
    max_tokens: int
    strip: tuple[str, ...] = ()  # chat sampling parameters to leave out (dropped on opt-in)


def plan(
    body: dict,
    model: str,
    options: dict,
    dropped: list[str],
    *,
    forced: str = "",
    default_max: int | None = None,
    route: str = "anthropic",
) -> Thinking | None:
    """The thinking for this request, or None. `forced` names the parameter that forces a tool
    (tool_choice, response_format) when one does. 400s name the parameter at fault."""
    effort = body.get("reasoning_effort")
    if effort is None or effort == "none":
        return None
    if effort not in EFFORTS:
        raise invalid(f"reasoning_effort must be one of {', '.join(EFFORTS)}.", "reasoning_effort")
    drop = drops_params(body, options)
    forced = forced or _forcing_choice(body)
    if forced:
        if not drop:
            raise _conflict(forced, "Claude cannot think while a tool is forced", route)
        dropped.append("reasoning_effort")
        return None
    strip = tuple(name for name in ("temperature", "top_p", "top_k") if _conflicts(body, name))
    if strip and not drop:
        raise _conflict(strip[0], _WHY[strip[0]], route)
    dropped.extend(strip)
    given = next((body[k] for k in ("max_completion_tokens", "max_tokens") if body.get(k)), None)
    budget = BUDGETS[effort]
    if adaptive(model):
        level = ADAPTIVE_EFFORT.get(effort, effort)
        return Thinking({"type": "adaptive"}, level, given or budget + ANSWER_ROOM, strip)
    if given is not None and given <= MIN_BUDGET:
        raise invalid(
            f"max_tokens ({given}) leaves no room for Claude's thinking: with reasoning_effort it "
            f"must be above {MIN_BUDGET} (the smallest thinking budget).",
            "max_completion_tokens" if body.get("max_completion_tokens") else "max_tokens",
        )
    if given is not None:
        budget = min(budget, given - 1)
    limit = given or max(budget + ANSWER_ROOM, default_max or 0)
    return Thinking({"type": "enabled", "budget_tokens": budget}, None, limit, strip)


_WHY = {
    "temperature": "Claude's thinking takes temperature 1 only",
    "top_p": f"Claude's thinking takes top_p from {MIN_TOP_P} to 1 only",
    "top_k": "Claude's thinking takes no top_k",
}


def _conflicts(body: dict, name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if name == "temperature":
        return value != 1
    if name == "top_p":
        return not isinstance(value, int | float) or value < MIN_TOP_P
    return True


def _forcing_choice(body: dict) -> str:
    choice = body.get("tool_choice")
    forces = choice == "required" or isinstance(choice, dict)
    return "tool_choice" if forces and body.get("tools") else ""


def _conflict(param: str, why: str, route: str):
    return invalid(
        f"{param} cannot go with reasoning_effort on the {route} route: {why}. Remove one, or "
        'send "drop_params": true (or the header x-portkey-drop-params: true) to have Iris '
        f"drop {'reasoning_effort' if param in ('tool_choice', 'response_format') else param}.",
        param,
        code="unsupported_parameter",
    )


def thinking_blocks(i: int, message: dict) -> list[dict]:
    """An assistant message's `thinking_blocks`, checked, as Anthropic content blocks."""
    blocks = message.get("thinking_blocks")
    if blocks is None:
        return []
    where = f"messages[{i}].thinking_blocks"
    if not isinstance(blocks, list):
        raise invalid(f"{where} must be an array.", f"messages.{i}.thinking_blocks")
    out = []
    for k, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "thinking" and _strings(block, "thinking", "signature"):
            out.append({k: block[k] for k in ("type", "thinking", "signature")})
        elif kind == "redacted_thinking" and _strings(block, "data"):
            out.append({"type": kind, "data": block["data"]})
        else:
            raise invalid(
                f"{where}[{k}] must be a thinking block with its thinking and signature, or a "
                "redacted_thinking block with its data, as the reply gave them.",
                f"messages.{i}.thinking_blocks.{k}",
            )
    return out


def _strings(block: dict, *keys: str) -> bool:
    return all(isinstance(block.get(key), str) for key in keys)


def reasoning(blocks: list[dict]) -> dict:
    """The reasoning fields of a reply message for Anthropic's thinking blocks: {} for none."""
    found = [
        b
        for b in blocks
        if isinstance(b, dict) and b.get("type") in ("thinking", "redacted_thinking")
    ]
    if not found:
        return {}
    texts = [b.get("thinking") or "" for b in found if b["type"] == "thinking"]
    return {"reasoning_content": "\n\n".join(t for t in texts if t), "thinking_blocks": found}
