"""OpenAI chat parameters on the google route: the generationConfig fields they become, the
log probabilities Gemini answers in OpenAI's shape, and the 400 (unless the client opts into
dropping) for those Gemini cannot honour. Pure, no I/O: used by gemini.py.

Facts (google-genai 3.6.1 types.GenerationConfig, ServiceTier, LogprobsResult and
FunctionCallingConfigMode; ai.google.dev/api/generate-content; read 2026-11):
- generationConfig takes presencePenalty, frequencyPenalty, seed, topK, candidateCount (n:
  every candidate is a choice, streamed ones by their `index`), stopSequences,
  responseLogprobs (OpenAI's logprobs) and logprobs (the number of top candidates per step,
  only with responseLogprobs: OpenAI's top_logprobs). A model that lacks one (penalties or
  several candidates on some models) answers a 400 of its own: a trace, not a silent drop.
- Each candidate's `logprobsResult` = {chosenCandidates: [{token, logProbability}], and
  topCandidates: [{candidates: [...]}] step by step}: it becomes `choices[].logprobs.content`.
- The request's `serviceTier` (top level, not in generationConfig) is standard, flex or
  priority: OpenAI's "default" is standard, "auto" asks for nothing.
- Function calling mode ANY (tool_choice required or a named function) guarantees calls
  that follow the declared schema; AUTO does not, so a tool's `strict` under AUTO is
  recorded as dropped (not refused: OpenAI's Agents SDK sends strict on every tool).
  responseJsonSchema constrains the reply itself, so json_schema.strict is honoured.
- Gemini has no user field (Vertex's labels are not on the Gemini API): user and
  safety_identifier are recorded as dropped, as on Bedrock when they do not fit.
"""

from gateway.chat import invalid
from gateway.providers import anthropic_structured as shared

# OpenAI name → generationConfig field; max_completion_tokens after max_tokens, so it wins.
RENAMED = {
    "max_tokens": "maxOutputTokens",
    "max_completion_tokens": "maxOutputTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "stop": "stopSequences",
    "n": "candidateCount",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
# What Gemini has no equivalent for, with the values that ask for nothing (OpenAI's defaults).
UNSUPPORTED: dict[str, tuple[tuple, str]] = {
    "logit_bias": (({},), "Gemini has no logit bias"),
    "parallel_tool_calls": ((True,), "Gemini cannot turn parallel function calls off"),
    "audio": ((), "Iris asks Gemini for text and images only"),
    "prediction": ((), "Gemini has no predicted outputs"),
    "web_search_options": ((), "Iris does not map OpenAI's web search to Gemini's google_search"),
    "functions": (([],), "the legacy functions API is not translated; use tools"),
    "function_call": ((), "the legacy functions API is not translated; use tool_choice"),
    "verbosity": (("medium",), "Gemini has no verbosity setting"),
    "moderation": ((), "Gemini has no moderation setting"),
}
SERVICE_TIERS = {"auto": None, "default": "standard", "flex": "flex", "priority": "priority"}
# Translated by gemini.py, gemini_media.py (modalities, image_config), gemini_thinking.py
# (reasoning_effort) and here, or consumed by Iris (drop_params).
HONOURED = frozenset(
    {*RENAMED, "model", "messages", "stream", "stream_options", "tools", "tool_choice",
     "response_format", "logprobs", "top_logprobs", "service_tier", "modalities",
     "image_config", "reasoning_effort", "drop_params"}
)  # fmt: skip


def check(body: dict, options: dict) -> list[str]:
    """What the translation leaves out, to log; a 400 unsupported_parameter naming what Gemini
    cannot honour unless the request (or the provider record) opts into dropping it."""
    dropped = shared.check_params(
        body, options, route="google", unsupported=UNSUPPORTED, tiers=SERVICE_TIERS,
        honoured=HONOURED,
    )  # fmt: skip
    return dropped + _loose_strict(body)


def generation_config(body: dict) -> dict:
    """generationConfig fields for the sampling parameters and log probabilities."""
    config = {RENAMED[k]: body[k] for k in RENAMED if body.get(k) is not None}
    if isinstance(config.get("stopSequences"), str):
        config["stopSequences"] = [config["stopSequences"]]
    logprobs, top = body.get("logprobs"), body.get("top_logprobs")
    if top not in (None, 0) and logprobs is not True:
        raise invalid("top_logprobs needs logprobs: true.", "top_logprobs")
    if logprobs is True:
        config["responseLogprobs"] = True
        if top:
            config["logprobs"] = top
    return config


def service_tier(body: dict) -> str | None:
    """The request's serviceTier, or None (check() has refused the tiers Gemini lacks)."""
    return SERVICE_TIERS.get(body.get("service_tier") or "auto")


def _loose_strict(body: dict) -> list[str]:
    """The tools whose `strict` Gemini cannot enforce: all of them under mode AUTO."""
    choice = body.get("tool_choice")
    if choice in ("required", "none") or isinstance(choice, dict):
        return []  # ANY keeps to the schema; NONE calls nothing
    tools = body.get("tools") or []
    return [
        f"tools.{k}.function.strict"
        for k, tool in enumerate(tools)
        if isinstance(tool, dict) and ((tool.get("function") or {}).get("strict") is True)
    ]


def choice_logprobs(candidate: dict) -> dict | None:
    """A candidate's logprobsResult as OpenAI's choice.logprobs ({"content": [...]}), or None."""
    result = candidate.get("logprobsResult")
    if not isinstance(result, dict):
        return None
    chosen = result.get("chosenCandidates") or []
    steps = result.get("topCandidates") or []
    content = []
    for i, token in enumerate(chosen):
        top = steps[i].get("candidates") if i < len(steps) and isinstance(steps[i], dict) else []
        content.append({**_token(token), "top_logprobs": [_token(t) for t in top or []]})
    return {"content": content, "refusal": None}


def _token(token: dict) -> dict:
    text = str(token.get("token") or "")
    logprob = token.get("logProbability")
    return {
        "token": text,
        "logprob": float(logprob) if isinstance(logprob, int | float) else 0.0,
        "bytes": list(text.encode()),
    }
