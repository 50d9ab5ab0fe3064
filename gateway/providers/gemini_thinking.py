"""Gemini's thinking for OpenAI's `reasoning_effort`, and its thought parts as
`reasoning_content`. Pure, no I/O.

Facts (ai.google.dev/gemini-api/docs/thinking and /openai#thinking; google-genai 3.6.1
types.ThinkingConfig and ThinkingLevel; read 2026-11):
- generationConfig.thinkingConfig = {thinkingBudget?, thinkingLevel?, includeThoughts?};
  sending both budget and level is a 400.
- Gemini 2.5 models take thinkingBudget (tokens; 0 turns thinking off where the model allows
  it, not on 2.5 Pro). Google's own OpenAI layer maps low/medium/high to 1024/8192/24576, and
  "none" to 0: so does Iris, "minimal" as low, "xhigh" and "max" as high (24576 is Flash's
  ceiling).
- Gemini 3 and later take thinkingLevel (MINIMAL, LOW, MEDIUM, HIGH, XHIGH in the SDK's enum;
  which a model accepts varies, the API answers 400 for others). Their thinking cannot be
  turned off: "none" asks for MINIMAL, the closest; "max" for XHIGH.
- includeThoughts: true returns thought summaries as parts with `thought: true`. Iris asks for
  them whenever reasoning_effort asks for thinking, and answers every thought part's text as
  message.reasoning_content (delta.reasoning_content in streams), the name DeepSeek, LiteLLM
  and vLLM use. Thought signatures ride on function calls already (gemini.py).
"""

import re

from gateway.errors import GatewayError

EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
BUDGETS = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}
BUDGETS |= {"xhigh": 24576, "max": 24576}
LEVELS = {"none": "MINIMAL", "max": "XHIGH"}  # the others: the effort's own name, upper case
_VERSION = re.compile(r"gemini-(\d+)")


def uses_levels(model: str) -> bool:
    """Gemini 3 and later: thinkingLevel; earlier (2.5) and unknown names: thinkingBudget."""
    match = _VERSION.search(model.lower())
    return bool(match) and int(match[1]) >= 3


def thinking_config(body: dict, model: str) -> dict:
    """generationConfig fields for reasoning_effort: {} when it is not set."""
    effort = body.get("reasoning_effort")
    if effort is None:
        return {}
    if effort not in EFFORTS:
        message = f"reasoning_effort must be one of {', '.join(EFFORTS)}."
        raise GatewayError(400, message, "invalid_request_error", param="reasoning_effort")
    if uses_levels(model):
        config: dict = {"thinkingLevel": LEVELS.get(effort, effort.upper())}
    else:
        config = {"thinkingBudget": BUDGETS[effort]}
    if effort != "none":
        config["includeThoughts"] = True
    return {"thinkingConfig": config}


def thought_text(part: dict) -> str | None:
    """The text of a thought part (a summary of the model's thinking); None for others."""
    if part.get("thought") and isinstance(part.get("text"), str):
        return part["text"]
    return None
