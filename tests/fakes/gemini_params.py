"""The fake Gemini's log probabilities and the generationConfig rules its pydantic type cannot
say (google-genai 3.6.1 GenerationConfig; ai.google.dev/api/generate-content, read 2026-11):
`logprobs` (top candidates per step) is only valid with responseLogprobs, in 0..20.

With responseLogprobs each candidate carries `logprobsResult`: one chosen candidate per word
of its text parts (with the space before it, as tokens carry it), and with
`logprobs` that many top candidates per step, the chosen word first.
"""

import re

MAX_TOP = 20


def problem(config: dict) -> str | None:
    wants = config.get("responseLogprobs", config.get("response_logprobs"))
    top = config.get("logprobs")
    if top is not None and not wants:
        return "generationConfig.logprobs is only valid if responseLogprobs is true."
    if top is not None and not 0 <= top <= MAX_TOP:
        return f"generationConfig.logprobs must be within [0, {MAX_TOP}]."
    return None


def add_logprobs(candidate: dict, config: dict) -> None:
    """Give a candidate its logprobsResult when the request asks for one."""
    if not config.get("responseLogprobs", config.get("response_logprobs")):
        return
    text = "".join(
        part["text"]
        for part in candidate["content"]["parts"]
        if "text" in part and not part.get("thought")
    )
    tokens = re.findall(r"\s*\S+", text)
    chosen = [{"token": t, "logProbability": -0.25 * (i + 1)} for i, t in enumerate(tokens)]
    result: dict = {
        "chosenCandidates": chosen,
        "logProbabilitySum": sum(c["logProbability"] for c in chosen),
    }
    if top := config.get("logprobs"):
        result["topCandidates"] = [
            {
                "candidates": [c]
                + [{"token": f"alt{k}", "logProbability": -5.0 - k} for k in range(1, top)]
            }
            for c in chosen
        ]
    candidate["logprobsResult"] = result
