"""The fake Gemini's thinking: thinkingConfig rules its pydantic type cannot say, and the
thought part it answers first when includeThoughts asks for thoughts.

google-genai 3.6.1's GenerationConfig already checks thinkingConfig's shape (thinkingBudget an
int, thinkingLevel a ThinkingLevel, includeThoughts a bool). From
ai.google.dev/gemini-api/docs/thinking (read 2026-11): thinkingBudget and thinkingLevel are
exclusive; Gemini 3 models take thinkingLevel, 2.5 models thinkingBudget (-1 dynamic, 0 off,
else 128..32768 on 2.5 Pro, which cannot turn thinking off, 0..24576 on Flash and Flash-Lite).
"""

import re

THOUGHT = "Thinking it over: the user wants a plain answer."


def problem(model: str, config: dict) -> str | None:
    thinking = config.get("thinkingConfig") or config.get("thinking_config")
    if not thinking:
        return None
    budget = thinking.get("thinkingBudget", thinking.get("thinking_budget"))
    level = thinking.get("thinkingLevel", thinking.get("thinking_level"))
    version = re.search(r"gemini-(\d+)(?:\.(\d+))?", model)
    major = int(version[1]) if version else 0
    if budget is not None and level is not None:
        return "generationConfig.thinkingConfig: thinking_budget and thinking_level are exclusive."
    if level is not None and major and major < 3:
        return "Thinking level is not supported for this model."
    if budget is not None and budget != -1 and major == 2:
        low, high = (128, 32768) if "pro" in model else (0, 24576)
        if budget == 0 and "pro" in model:
            return "Budget 0 is invalid. This model only works in thinking mode."
        if not low <= budget <= high:
            return f"The thinking budget {budget} is invalid: it must be within {low}-{high}."
    return None


def thought_parts(body: dict) -> list[dict]:
    """The thought summary part, when the request asks for thoughts."""
    config = body.get("generationConfig") or {}
    thinking = config.get("thinkingConfig") or config.get("thinking_config") or {}
    wants = thinking.get("includeThoughts", thinking.get("include_thoughts"))
    return [{"text": THOUGHT, "thought": True}] if wants else []
