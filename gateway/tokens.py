"""Counting text tokens offline. No Django, no I/O.

Where no tokenizer is available the count is the documented approximation of four
characters a token (OpenAI's and Anthropic's rule of thumb for English)."""

import math


def count_text(provider: str, model: str, texts: list[str]) -> tuple[int, str]:
    """(tokens, how they were counted) for the texts of one request."""
    chars = sum(len(text) for text in texts)
    return math.ceil(chars / 4), "approximation: 4 characters a token"
